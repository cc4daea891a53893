/**
 * Safety numbers: Signal's numeric fingerprint (libsignal `fingerprint.rs`, version 0
 * "displayable" form): for each party, start from (version u16 BE || key || identifier) and
 * replace it 5200 times by SHA-512(hash || key); the first 30 bytes become six 5-digit
 * chunks (each 5 bytes as a big-endian integer mod 100000). The two 30-digit halves are
 * sorted so both people see the same 60 digits.
 *
 * Key: 0x05 || X25519 identity public key (the 33-byte DJB encoding libsignal uses);
 * identifier: the Session ID as UTF-8.
 */
import { sha512 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8 } from '../bytes.js'
import { type SessionId, sessionIdToX25519 } from './session-id.js'

export const FINGERPRINT_ITERATIONS = 5200
export const FINGERPRINT_VERSION = 0

export function fingerprintHalf (id: SessionId, iterations = FINGERPRINT_ITERATIONS): string {
  const key = concatBytes(Uint8Array.of(0x05), sessionIdToX25519(id))
  const version = Uint8Array.of(FINGERPRINT_VERSION >> 8, FINGERPRINT_VERSION & 0xff)
  let hash = concatBytes(version, key, utf8(id))
  for (let i = 0; i < iterations; i++) hash = sha512(concatBytes(hash, key))
  let digits = ''
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0
    for (let j = 0; j < 5; j++) value = value * 256 + hash[chunk * 5 + j]
    digits += String(value % 100000).padStart(5, '0')
  }
  return digits
}

/** 60 digits, the same for both people whichever order the IDs are given in. */
export function safetyNumber (a: SessionId, b: SessionId): string {
  const x = fingerprintHalf(a)
  const y = fingerprintHalf(b)
  return x <= y ? x + y : y + x
}

/** "12345 67890 …": the grouping people read aloud. */
export function formatSafetyNumber (digits: string): string {
  return digits.replace(/(\d{5})(?=\d)/g, '$1 ')
}

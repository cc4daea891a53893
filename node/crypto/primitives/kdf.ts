/**
 * HKDF-SHA256 (RFC 5869) and HMAC-SHA256 (RFC 2104) from @noble/hashes: for the few dozen
 * bytes the protocol derives at a time, noble's keyed HMAC is faster than node:crypto's
 * per-call object setup (measured in bench/crypto.ts's profile; again for issue 19 on Node 24:
 * noble hkdf 171k/s against hkdfSync 128k/s for 32 bytes, hmac 374k/s against createHmac
 * 101k/s). node:crypto's hkdfSync is the reference the tests compare with, with the RFC 5869
 * known answer.
 *
 * Plain SHA-256 (FIPS 180-4) is node:crypto's one-shot `hash`, which has no object setup: 1.3M/s
 * against noble's 0.7M/s for 100 bytes. noble's sha256 is the reference the tests compare with.
 */
import { hash } from 'node:crypto'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { CryptoError } from '../errors.js'

/** RFC 5869 §2.3: L <= 255 * HashLen. */
const MAX_HKDF_LENGTH = 255 * 32

/** RFC 5869 §2.2-2.3: HKDF-Expand(HKDF-Extract(salt, ikm), info, length). */
export function hkdfSha256 (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  // Checked here so a bad length is a coded error like every other refusal, not noble's plain Error.
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_HKDF_LENGTH) throw new CryptoError('ERR_KDF_LENGTH', `HKDF-SHA256 output must be 1 to ${MAX_HKDF_LENGTH} bytes`)
  return hkdf(nobleSha256, ikm, salt, info, length)
}

export function hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data)
}

/** SHA-256 of `data` (FIPS 180-4 §6.2), a fresh 32-byte array. */
export function sha256 (data: Uint8Array): Uint8Array {
  const out = hash('sha256', data, 'buffer')
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

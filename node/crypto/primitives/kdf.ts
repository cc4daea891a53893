/**
 * HKDF-SHA256 (RFC 5869) and HMAC-SHA256 (RFC 2104) from @noble/hashes: for the few dozen
 * bytes the protocol derives at a time, noble's keyed HMAC is faster than node:crypto's
 * per-call object setup (measured in bench/crypto.ts's profile). node:crypto's hkdfSync is
 * the reference the tests compare with, with the RFC 5869 known answer.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { CryptoError } from '../errors.js'

/** RFC 5869 §2.3: L <= 255 * HashLen. */
const MAX_HKDF_LENGTH = 255 * 32

/** RFC 5869 §2.2-2.3: HKDF-Expand(HKDF-Extract(salt, ikm), info, length). */
export function hkdfSha256 (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  // Checked here so a bad length is a coded error like every other refusal, not noble's plain Error.
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_HKDF_LENGTH) throw new CryptoError('ERR_KDF_LENGTH', `HKDF-SHA256 output must be 1 to ${MAX_HKDF_LENGTH} bytes`)
  return hkdf(sha256, ikm, salt, info, length)
}

export function hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data)
}

export { sha256 }

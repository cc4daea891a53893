/**
 * HKDF-SHA256 (RFC 5869) and HMAC-SHA256 (RFC 2104) from @noble/hashes: for the few dozen
 * bytes the protocol derives at a time, noble's keyed HMAC is faster than node:crypto's
 * per-call object setup (measured in bench/crypto.ts's profile). node:crypto's hkdfSync is
 * the reference the tests compare with, with the RFC 5869 known answer.
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'

/** RFC 5869 §2.2-2.3: HKDF-Expand(HKDF-Extract(salt, ikm), info, length). */
export function hkdfSha256 (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdf(sha256, ikm, salt, info, length)
}

export function hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data)
}

export { sha256 }

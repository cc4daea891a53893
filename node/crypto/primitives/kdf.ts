/**
 * HKDF-SHA256 (RFC 5869) and HMAC-SHA256 (RFC 2104). HKDF runs in OpenSSL (one call);
 * HMAC over a few bytes is faster in @noble/hashes than through node:crypto's object setup,
 * so the chain KDF uses noble. Both are cross-checked in the tests.
 */
import { hkdfSync } from 'node:crypto'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'

/** RFC 5869 §2.2-2.3: HKDF-Expand(HKDF-Extract(salt, ikm), info, length). */
export function hkdfSha256 (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length))
}

export function hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data)
}

export { sha256 }

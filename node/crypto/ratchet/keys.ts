/**
 * The Double Ratchet's KDFs (Double Ratchet spec §5.2, its recommended choices):
 *   KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info = "Sotto_Ratchet_v1", 64)
 *                        -> (new root key, chain key)
 *   KDF_CK(ck)         = (HMAC-SHA256(ck, 0x02) -> next chain key, HMAC-SHA256(ck, 0x01) -> message key)
 *                        (also as its two halves, nextChainKey and messageKeyOf)
 *   message key mk     -> HKDF-SHA256(salt = 0x00 x 32, ikm = mk, info = "Sotto_MessageKeys_v1", 44)
 *                        -> AES-256-GCM key (32) || nonce (12)
 * Each message key encrypts one message, so each (key, nonce) pair is used once (R10).
 * No knowledge here of headers, states or stores.
 */
import { MESSAGE_KDF_INFO, ROOT_KDF_INFO } from '../constants.js'
import { hkdfSha256, hmacSha256, secretKey } from '../primitives/kdf.js'

const ZERO_SALT = new Uint8Array(32)
const MESSAGE_KEY_CONSTANT = Uint8Array.of(0x01)
const CHAIN_KEY_CONSTANT = Uint8Array.of(0x02)

export function kdfRk (rootKey: Uint8Array, dhOut: Uint8Array): { rootKey: Uint8Array, chainKey: Uint8Array } {
  const out = hkdfSha256(dhOut, rootKey, ROOT_KDF_INFO, 64)
  return { rootKey: out.subarray(0, 32), chainKey: out.subarray(32, 64) }
}

/** KDF_CK's chain-key half alone: HMAC-SHA256(ck, 0x02). */
export function nextChainKey (chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, CHAIN_KEY_CONSTANT)
}

/** KDF_CK's message-key half alone: HMAC-SHA256(ck, 0x01). */
export function messageKeyOf (chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, MESSAGE_KEY_CONSTANT)
}

export function kdfCk (chainKey: Uint8Array): { chainKey: Uint8Array, messageKey: Uint8Array } {
  // One key handle for both HMACs (primitives/kdf.ts: the handle is node:crypto's fast path).
  const key = secretKey(chainKey)
  return { chainKey: hmacSha256(key, CHAIN_KEY_CONSTANT), messageKey: hmacSha256(key, MESSAGE_KEY_CONSTANT) }
}

export function messageKeyMaterial (messageKey: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const out = hkdfSha256(messageKey, ZERO_SALT, MESSAGE_KDF_INFO, 44)
  return { key: out.subarray(0, 32), nonce: out.subarray(32, 44) }
}

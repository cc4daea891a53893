/**
 * The Double Ratchet's KDFs (Double Ratchet spec §5.2, recommended choices):
 * KDF_RK: HKDF-SHA256 with the root key as salt, the DH output as input, 64 bytes out
 *         (new root key, chain key), info "Sotto_Ratchet".
 * KDF_CK: HMAC-SHA256 keyed by the chain key: message key = HMAC(ck, 0x01), next chain key
 *         = HMAC(ck, 0x02).
 * Message keys -> AES-256-GCM key and nonce by HKDF-SHA256 (zero salt, info
 * "Sotto_MessageKeys", 44 bytes). Each message key is used once, so each (key, nonce) pair
 * is used once (R10).
 */
import { utf8 } from '../../bytes.js'
import { hkdf, hmacSha256 } from '../primitives.js'

const RK_INFO = utf8('Sotto_Ratchet')
const MK_INFO = utf8('Sotto_MessageKeys')
const ZERO_SALT = new Uint8Array(32)
const MESSAGE_KEY_SEED = Uint8Array.of(0x01)
const CHAIN_KEY_SEED = Uint8Array.of(0x02)

export function kdfRk (rootKey: Uint8Array, dhOut: Uint8Array): { rootKey: Uint8Array, chainKey: Uint8Array } {
  const out = hkdf(dhOut, rootKey, RK_INFO, 64)
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32) }
}

export function kdfCk (chainKey: Uint8Array): { chainKey: Uint8Array, messageKey: Uint8Array } {
  return { messageKey: hmacSha256(chainKey, MESSAGE_KEY_SEED), chainKey: hmacSha256(chainKey, CHAIN_KEY_SEED) }
}

export function messageCipherKeys (messageKey: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const out = hkdf(messageKey, ZERO_SALT, MK_INFO, 44)
  return { key: out.slice(0, 32), nonce: out.slice(32) }
}

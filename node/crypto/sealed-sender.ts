/**
 * Sealed envelopes (R8; after Signal's sealed sender): the session message and the sender's
 * identity travel inside an outer layer encrypted to the recipient's identity X25519 key with
 * a fresh ephemeral key, so a carrier learns only the recipient (its mailbox) and a padded
 * size (E1). The sender is authenticated by the inner session, not by this layer.
 *
 *   envelope = 0x01 | E (32) | AES-256-GCM(k, n, pad(inner), AD = 0x01 | E | R)
 *   (k, n) = HKDF-SHA256(ikm = DH(e, R), salt = E || R, info = "Sotto_SealedSender_v1", 44)
 *   inner = 0x06 | sender Ed25519 key (32) | session message
 */
import { concatBytes, utf8 } from '../bytes.js'
import { Reader, KEY_TYPE } from './codec.js'
import { CryptoError } from './errors.js'
import { aeadDecrypt, aeadEncrypt, dh, generateDhKeyPair, hkdf } from './primitives.js'
import { pad, unpad } from './padding.js'

export const ENVELOPE_VERSION = 0x01
const INFO = utf8('Sotto_SealedSender_v1')

function keys (shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const out = hkdf(shared, concatBytes(ephemeral, recipient), INFO, 44)
  return { key: out.slice(0, 32), nonce: out.slice(32) }
}

export function sealEnvelope (recipientDh: Uint8Array, senderSigningKey: Uint8Array, sessionMessage: Uint8Array): Uint8Array {
  const e = generateDhKeyPair()
  const { key, nonce } = keys(dh(e.privateKey, recipientDh), e.publicKey, recipientDh)
  e.privateKey.fill(0)
  const inner = pad(concatBytes(Uint8Array.of(KEY_TYPE.ed25519), senderSigningKey, sessionMessage))
  const ad = concatBytes(Uint8Array.of(ENVELOPE_VERSION), e.publicKey, recipientDh)
  return concatBytes(Uint8Array.of(ENVELOPE_VERSION), e.publicKey, aeadEncrypt(key, nonce, inner, ad))
}

/** Opens the outer layer; the sender key it returns is only a claim until the session verifies it. */
export function openEnvelope (ourDhPrivate: Uint8Array, ourDhPublic: Uint8Array, envelope: Uint8Array): { senderSigningKey: Uint8Array, sessionMessage: Uint8Array } {
  if (envelope.length < 1 + 32 + 16) throw new CryptoError('ERR_TRUNCATED', 'an envelope is truncated')
  if (envelope[0] !== ENVELOPE_VERSION) throw new CryptoError('ERR_UNKNOWN_VERSION', `envelope version ${envelope[0]} is not supported`)
  const ephemeral = envelope.subarray(1, 33)
  let shared: Uint8Array
  try {
    shared = dh(ourDhPrivate, ephemeral)
  } catch {
    throw new CryptoError('ERR_DECRYPT', 'message authentication failed')
  }
  const { key, nonce } = keys(shared, ephemeral, ourDhPublic)
  const ad = concatBytes(Uint8Array.of(ENVELOPE_VERSION), ephemeral, ourDhPublic)
  const inner = unpad(aeadDecrypt(key, nonce, envelope.subarray(33), ad))
  const r = new Reader(inner, 'envelope')
  if (r.u8() !== KEY_TYPE.ed25519) throw new CryptoError('ERR_KEY_TYPE', 'an envelope names its sender with the wrong key type')
  const senderSigningKey = r.bytes(32)
  return { senderSigningKey, sessionMessage: inner.subarray(r.position) }
}

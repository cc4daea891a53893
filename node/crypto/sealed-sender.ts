/**
 * Sealed envelopes (R8; after Signal's sealed sender, simplified to one ECIES layer): the
 * session message and the sender's identity travel inside an outer layer encrypted to the
 * recipient's identity X25519 key with a fresh ephemeral key, so a carrier learns only the
 * recipient (the mailbox it was handed to) and a padded size (E1). This layer does not
 * authenticate the sender: the session inside does (its AEAD binds both identities), and the
 * session manager refuses an inner sender that does not match the session (E2).
 *
 *   envelope = u8 version 0x01 | 0x05 | E (32) | AES-256-GCM(k, n, pad(inner), AD = 0x01 | 0x05 | E | 0x05 | R)
 *   k (32) || n (12) = HKDF-SHA256(ikm = X25519(e, R), salt = E || R, info = "Sotto_SealedEnvelope_v1", 44)
 *   inner    = u8 kind (0x01 initial, 0x02 ratchet) | 0x05 | sender identity X25519 (32) | message
 * Every failure to open (not for us, tampered, bad padding) is one EnvelopeError (E3, E6).
 */
import type { KeyObject } from 'node:crypto'
import { KEY_TYPE_X25519, ENVELOPE_VERSION, SEALED_KDF_INFO } from './constants.js'
import { EnvelopeError, DecodeError } from './errors.js'
import { aeadDecrypt, aeadEncrypt, AEAD_TAG_BYTES } from './primitives/aead.js'
import { hkdfSha256 } from './primitives/kdf.js'
import { checkX25519PublicKey, X25519KeyPair } from './primitives/x25519.js'
import type { RandomSource } from './random.js'
import { pad, unpad } from './padding.js'
import { wipe } from '../bytes.js'

export const ENVELOPE_HEADER_BYTES = 34
export const ENVELOPE_OVERHEAD = ENVELOPE_HEADER_BYTES + AEAD_TAG_BYTES

export const INNER_KIND_INITIAL = 0x01
export const INNER_KIND_RATCHET = 0x02

export interface Inner {
  readonly kind: typeof INNER_KIND_INITIAL | typeof INNER_KIND_RATCHET
  readonly sender: Uint8Array
  readonly message: Uint8Array
}

function envelopeKeys (shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const salt = new Uint8Array(64)
  salt.set(ephemeral, 0)
  salt.set(recipient, 32)
  const out = hkdfSha256(shared, salt, SEALED_KDF_INFO, 44)
  return { key: out.subarray(0, 32), nonce: out.subarray(32) }
}

function envelopeAd (ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  const ad = new Uint8Array(67)
  ad[0] = ENVELOPE_VERSION
  ad[1] = KEY_TYPE_X25519
  ad.set(ephemeral, 2)
  ad[34] = KEY_TYPE_X25519
  ad.set(recipient, 35)
  return ad
}

export function encodeInner (inner: Inner): Uint8Array {
  const out = new Uint8Array(34 + inner.message.length)
  out[0] = inner.kind
  out[1] = KEY_TYPE_X25519
  out.set(inner.sender, 2)
  out.set(inner.message, 34)
  return out
}

export function decodeInner (bytes: Uint8Array): Inner {
  if (bytes.length < 34) throw new DecodeError('envelope content: truncated')
  const kind = bytes[0]
  if (kind !== INNER_KIND_INITIAL && kind !== INNER_KIND_RATCHET) throw new DecodeError('envelope content: unknown kind')
  if (bytes[1] !== KEY_TYPE_X25519) throw new DecodeError('envelope content: sender key has the wrong type')
  const sender = bytes.slice(2, 34)
  checkX25519PublicKey(sender, 'sender identity')
  return { kind, sender, message: bytes.subarray(34) }
}

/** Seals `inner` for the holder of the X25519 identity key `recipient`. */
export function sealEnvelope (recipient: Uint8Array, inner: Uint8Array, random: RandomSource, recipientHandle?: KeyObject): Uint8Array {
  const e = X25519KeyPair.generate(random)
  const shared = e.agree(recipientHandle ?? recipient)
  e.wipe()
  const { key, nonce } = envelopeKeys(shared, e.publicKey, recipient)
  wipe(shared)
  const sealed = aeadEncrypt(key, nonce, pad(inner), envelopeAd(e.publicKey, recipient))
  wipe(key)
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + sealed.length)
  out[0] = ENVELOPE_VERSION
  out[1] = KEY_TYPE_X25519
  out.set(e.publicKey, 2)
  out.set(sealed, ENVELOPE_HEADER_BYTES)
  return out
}

/** Opens an envelope sealed to `identity`; returns the unpadded inner bytes or throws EnvelopeError. */
export function openEnvelope (identity: X25519KeyPair, envelope: Uint8Array): Uint8Array {
  if (envelope.length < ENVELOPE_OVERHEAD) throw new EnvelopeError('ERR_ENVELOPE')
  if (envelope[0] !== ENVELOPE_VERSION) throw new EnvelopeError('ERR_UNKNOWN_VERSION')
  if (envelope[1] !== KEY_TYPE_X25519) throw new EnvelopeError('ERR_ENVELOPE')
  const ephemeral = envelope.subarray(2, 34)
  let shared: Uint8Array
  try {
    checkX25519PublicKey(ephemeral, 'envelope key')
    shared = identity.agree(ephemeral)
  } catch {
    throw new EnvelopeError('ERR_ENVELOPE')
  }
  const { key, nonce } = envelopeKeys(shared, ephemeral, identity.publicKey)
  wipe(shared)
  const padded = aeadDecrypt(key, nonce, envelope.subarray(ENVELOPE_HEADER_BYTES), envelopeAd(ephemeral, identity.publicKey), () => new EnvelopeError('ERR_ENVELOPE'))
  wipe(key)
  return unpad(padded)
}

/**
 * Sealed envelopes, version 2 (R8, E1, E2): the structure of libsignal's sealed sender v1
 * (rust/protocol/src/sealed_sender.rs: `sealed_sender_v1::EphemeralKeys::calculate`,
 * `StaticKeys::calculate`, `sealed_sender_encrypt_from_usmc`, `sealed_sender_decrypt_to_usmc`),
 * with AES-256-GCM and HKDF-derived nonces in place of AES-CTR + HMAC. Sealed sender is not a
 * published specification; docs/PROTOCOL.md §7.1 writes this format out byte by byte.
 *
 *   e = fresh X25519 pair, R = recipient identity X25519, S/s = sender identity X25519
 *   header     = u8 0x02 | 0x05 | E (32)
 *   ephemeral layer (EphemeralKeys): chain (32) || k_e (32) || n_e (12)
 *                = HKDF-SHA256(ikm = X25519(e, R), salt = 0x05 | R | 0x05 | E, info = SEALED_EPHEMERAL_INFO, 76)
 *     static_ct  = AES-256-GCM(k_e, n_e, 0x05 | S, AD = header | 0x05 | R)                  (49 bytes)
 *   static layer (StaticKeys):       k_s (32) || n_s (12)
 *                = HKDF-SHA256(ikm = X25519(s, R), salt = chain | static_ct, info = SEALED_STATIC_INFO, 44)
 *     message_ct = AES-256-GCM(k_s, n_s, pad(content), AD = header | static_ct)
 *   envelope   = header | static_ct | message_ct
 *   content    = u8 kind (0x01 initial, 0x02 ratchet) | session message
 *
 * The carrier sees the recipient (the mailbox it was handed to) and the padded size (E1). The
 * ephemeral layer hides who sent it; the static layer proves it: only the holders of s or of
 * R's private key can compute X25519(s, R), so an envelope naming a contact it was not made
 * by fails here, before any session work (E2). Keys are fresh per envelope (e is fresh, and the
 * static layer's salt holds the ephemeral chain key), so no (key, nonce) pair repeats (R10).
 * Every failure to open (not for us, tampered, not made by the sender it names, bad padding)
 * is one EnvelopeError (E3, E6).
 *
 * X25519(s, R) depends on the two identity keys alone, so a caller may pass it in from an
 * earlier envelope between the same two identities (StaticPeer: identity-cache.ts keeps it per
 * contact): the envelope is byte for byte the same, and one X25519 per envelope is left (the
 * ephemeral one). Opening looks it up by the sender key the ephemeral layer gave, and still
 * runs the static layer's AEAD check on every envelope: a cached secret only stands in for
 * the DH, never for the proof (E2).
 */
import type { KeyObject } from 'node:crypto'
import { concatBytes, wipe } from '../bytes.js'
import { ENVELOPE_VERSION, KEY_TYPE_X25519, SEALED_EPHEMERAL_INFO, SEALED_STATIC_INFO } from './constants.js'
import { DecodeError, EnvelopeError } from './errors.js'
import { aeadDecrypt, aeadEncrypt, AEAD_TAG_BYTES } from './primitives/aead.js'
import { hkdfSha256 } from './primitives/kdf.js'
import { checkX25519PublicKey, importX25519PublicKey, X25519KeyPair } from './primitives/x25519.js'
import type { RandomSource } from './random.js'
import { pad, unpad } from './padding.js'

export const ENVELOPE_HEADER_BYTES = 34
/** 0x05 | S (33) and its tag. */
export const STATIC_CIPHERTEXT_BYTES = 33 + AEAD_TAG_BYTES
/** Everything an envelope adds to its padded content. */
export const ENVELOPE_OVERHEAD = ENVELOPE_HEADER_BYTES + STATIC_CIPHERTEXT_BYTES + AEAD_TAG_BYTES

export const CONTENT_KIND_INITIAL = 0x01
export const CONTENT_KIND_RATCHET = 0x02

export interface Content {
  readonly kind: typeof CONTENT_KIND_INITIAL | typeof CONTENT_KIND_RATCHET
  readonly message: Uint8Array
}

export interface OpenedEnvelope {
  /** The sender's identity X25519 key, proven by the static layer. */
  readonly sender: Uint8Array
  /** The unpadded content (decodeContent). */
  readonly content: Uint8Array
  /**
   * X25519(identity, sender) when this call computed it (the caller passed none): the
   * caller's to keep for the sender's next envelope (StaticPeer) or to wipe. Secret.
   */
  readonly staticShared: Uint8Array | undefined
}

/**
 * What the caller holds for the other identity of an envelope: an OpenSSL handle of its key
 * and X25519(own identity, its key), each optional (computed when absent).
 */
export interface StaticPeer {
  readonly handle?: KeyObject
  readonly staticShared?: Uint8Array
}

/** Looks up what the caller holds for the sender key the ephemeral layer gave (not yet proven). */
export type SenderKeyResolver = (sender: Uint8Array) => StaticPeer | undefined

interface EphemeralKeys { chain: Uint8Array, key: Uint8Array, nonce: Uint8Array }

/** libsignal `EphemeralKeys::calculate`: salt = recipient, then ephemeral key (with type bytes). */
function ephemeralKeys (shared: Uint8Array, recipient: Uint8Array, ephemeral: Uint8Array): EphemeralKeys {
  const salt = new Uint8Array(66)
  salt[0] = KEY_TYPE_X25519
  salt.set(recipient, 1)
  salt[33] = KEY_TYPE_X25519
  salt.set(ephemeral, 34)
  const out = hkdfSha256(shared, salt, SEALED_EPHEMERAL_INFO, 76)
  return { chain: out.subarray(0, 32), key: out.subarray(32, 64), nonce: out.subarray(64, 76) }
}

/** libsignal `StaticKeys::calculate`: salt = the ephemeral chain key, then the static ciphertext. */
function staticKeys (shared: Uint8Array, chain: Uint8Array, staticCiphertext: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const out = hkdfSha256(shared, concatBytes(chain, staticCiphertext), SEALED_STATIC_INFO, 44)
  return { key: out.subarray(0, 32), nonce: out.subarray(32, 44) }
}

function header (ephemeral: Uint8Array): Uint8Array {
  const h = new Uint8Array(ENVELOPE_HEADER_BYTES)
  h[0] = ENVELOPE_VERSION
  h[1] = KEY_TYPE_X25519
  h.set(ephemeral, 2)
  return h
}

export function encodeContent (content: Content): Uint8Array {
  const out = new Uint8Array(1 + content.message.length)
  out[0] = content.kind
  out.set(content.message, 1)
  return out
}

export function decodeContent (bytes: Uint8Array): Content {
  if (bytes.length < 1) throw new DecodeError('envelope content: truncated')
  const kind = bytes[0]
  if (kind !== CONTENT_KIND_INITIAL && kind !== CONTENT_KIND_RATCHET) throw new DecodeError('envelope content: unknown kind')
  return { kind, message: bytes.subarray(1) }
}

/**
 * Seals `content` from the holder of the identity key `sender` for the holder of the X25519
 * identity key `recipient` (libsignal `sealed_sender_encrypt_from_usmc`). `peer` may carry the
 * recipient's handle and X25519(sender, recipient) (PROTOCOL.md §7.1); the bytes are the same
 * with or without them.
 */
export function sealEnvelope (sender: X25519KeyPair, recipient: Uint8Array, content: Uint8Array, random: RandomSource, peer: StaticPeer = {}): Uint8Array {
  const remote = peer.handle ?? importX25519PublicKey(recipient)
  const e = X25519KeyPair.generate(random)
  const ephemeralShared = e.agree(remote)
  e.wipe()
  const eph = ephemeralKeys(ephemeralShared, recipient, e.publicKey)
  wipe(ephemeralShared)
  const head = header(e.publicKey)
  const staticCiphertext = aeadEncrypt(eph.key, eph.nonce, concatBytes(Uint8Array.of(KEY_TYPE_X25519), sender.publicKey), concatBytes(head, Uint8Array.of(KEY_TYPE_X25519), recipient))
  // StaticKeys::calculate: the DH is the same for every envelope to this recipient; the salt
  // (this envelope's chain key and static ciphertext) makes k_s and n_s fresh (R10).
  const staticShared = peer.staticShared ?? sender.agree(remote)
  const stat = staticKeys(staticShared, eph.chain, staticCiphertext)
  if (staticShared !== peer.staticShared) wipe(staticShared)
  wipe(eph.chain, eph.key)
  const sealed = aeadEncrypt(stat.key, stat.nonce, pad(content), concatBytes(head, staticCiphertext))
  wipe(stat.key)
  const out = new Uint8Array(ENVELOPE_HEADER_BYTES + STATIC_CIPHERTEXT_BYTES + sealed.length)
  out.set(head, 0)
  out.set(staticCiphertext, ENVELOPE_HEADER_BYTES)
  out.set(sealed, ENVELOPE_HEADER_BYTES + STATIC_CIPHERTEXT_BYTES)
  return out
}

/**
 * Opens an envelope sealed to `identity` (libsignal `sealed_sender_decrypt_to_usmc`, v1): the
 * ephemeral layer gives the claimed sender, the static layer proves it. Throws EnvelopeError
 * for anything that does not open; ERR_UNKNOWN_VERSION for another version byte.
 */
export function openEnvelope (identity: X25519KeyPair, envelope: Uint8Array, resolveSender: SenderKeyResolver = () => undefined): OpenedEnvelope {
  if (envelope.length < ENVELOPE_OVERHEAD) throw new EnvelopeError('ERR_ENVELOPE')
  if (envelope[0] !== ENVELOPE_VERSION) throw new EnvelopeError('ERR_UNKNOWN_VERSION')
  if (envelope[1] !== KEY_TYPE_X25519) throw new EnvelopeError('ERR_ENVELOPE')
  const head = envelope.subarray(0, ENVELOPE_HEADER_BYTES)
  const ephemeral = envelope.subarray(2, ENVELOPE_HEADER_BYTES)
  const staticCiphertext = envelope.subarray(ENVELOPE_HEADER_BYTES, ENVELOPE_HEADER_BYTES + STATIC_CIPHERTEXT_BYTES)
  const fail = (): EnvelopeError => new EnvelopeError('ERR_ENVELOPE')

  let ephemeralShared: Uint8Array
  try {
    checkX25519PublicKey(ephemeral, 'envelope key')
    ephemeralShared = identity.agree(ephemeral)
  } catch {
    throw fail()
  }
  const eph = ephemeralKeys(ephemeralShared, identity.publicKey, ephemeral)
  wipe(ephemeralShared)
  const claimed = aeadDecrypt(eph.key, eph.nonce, staticCiphertext, concatBytes(head, Uint8Array.of(KEY_TYPE_X25519), identity.publicKey), fail)
  wipe(eph.key)
  if (claimed.length !== 33 || claimed[0] !== KEY_TYPE_X25519) throw fail()
  const sender = claimed.slice(1)

  // The static layer (StaticKeys): the sender key is the one the ephemeral layer decrypted; a
  // secret the caller holds for it stands in for the DH only. The AEAD check below runs on
  // every envelope, so an envelope naming a contact it was not made by fails here (E2).
  const known = resolveSender(sender)
  let fresh: Uint8Array | undefined
  try {
    // The cheap checks only: the full Session ID check of the sender is the caller's, once the
    // static layer has proven the key (it costs a 255-bit exponentiation).
    checkX25519PublicKey(sender, 'sender identity')
    if (known?.staticShared === undefined) fresh = identity.agree(known?.handle ?? importX25519PublicKey(sender))
  } catch {
    throw fail()
  }
  const stat = staticKeys(fresh ?? (known?.staticShared as Uint8Array), eph.chain, staticCiphertext)
  wipe(eph.chain)
  try {
    const padded = aeadDecrypt(stat.key, stat.nonce, envelope.subarray(ENVELOPE_HEADER_BYTES + STATIC_CIPHERTEXT_BYTES), concatBytes(head, staticCiphertext), fail)
    return { sender, content: unpad(padded), staticShared: fresh }
  } catch (err) {
    // Not proven: a secret computed for an unproven key is not handed out.
    wipe(fresh)
    throw err
  } finally {
    wipe(stat.key)
  }
}

/**
 * PQXDH key agreement (Signal PQXDH spec, revision 3, §3-4), with X25519, SHA-256 and
 * ML-KEM-1024. This module computes SK and AD and encodes the initial message header; it
 * knows nothing of ratchets, stores or envelopes.
 *
 *   DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)   [DH4 = DH(EK_A, OPK_B)]
 *   (CT, SS) = PQKEM-ENC(PQPK_B)
 *   SK = HKDF-SHA256(salt = 0x00 x 32, ikm = F || DH1 || DH2 || DH3 [|| DH4] || SS, info, 32)
 *        with F = 0xFF x 32 (§2.2: "for X25519, F is 32 0xFF bytes")
 *   AD = 0x05 || IK_A || 0x05 || IK_B (§3.3, EncodeEC of both identity keys)
 *
 * Identity keys here are the X25519 forms named by the Session IDs; the Ed25519 forms signed
 * the bundle and were checked to be the same keys (bundle.ts).
 *
 * Initial message header (docs/PROTOCOL.md §4), followed by the first ratchet message:
 *   u8 version = 0x01 | 0x05 IK_A (32) | 0x05 EK_A (32) | u32 signed prekey id
 *   | u32 KEM prekey id | u8 has-one-time (0/1) [| u32 one-time prekey id] | 0x0A CT (1568)
 */
import { concatBytes } from '../bytes.js'
import {
  INITIAL_MESSAGE_VERSION, KEY_TYPE_MLKEM1024_CIPHERTEXT, KEY_TYPE_X25519, MLKEM1024_CIPHERTEXT_BYTES, PQXDH_INFO, X25519_KEY_BYTES
} from './constants.js'
import { Reader, Writer } from './encoding.js'
import { DecodeError } from './errors.js'
import type { PrekeyBundle } from './bundle.js'
import { hkdfSha256 } from './primitives/kdf.js'
import { mlKemEncapsulate, type MlKemKeyPair } from './primitives/mlkem.js'
import type { KeyObject } from 'node:crypto'
import { checkX25519PublicKey, importX25519PublicKey, X25519KeyPair } from './primitives/x25519.js'
import type { RandomSource } from './random.js'
import { utf8, wipe } from '../bytes.js'

const F = new Uint8Array(32).fill(0xff)
const ZERO_SALT = new Uint8Array(32)
const INFO = utf8(PQXDH_INFO)

/** PQXDH §2.2 KDF(KM). */
export function pqxdhKdf (km: Uint8Array[]): Uint8Array {
  const ikm = concatBytes(F, ...km)
  const sk = hkdfSha256(ikm, ZERO_SALT, INFO, 32)
  wipe(ikm)
  return sk
}

/** PQXDH §3.3 AD = EncodeEC(IK_A) || EncodeEC(IK_B). */
export function associatedData (initiator: Uint8Array, responder: Uint8Array): Uint8Array {
  const ad = new Uint8Array(66)
  ad[0] = KEY_TYPE_X25519
  ad.set(initiator, 1)
  ad[33] = KEY_TYPE_X25519
  ad.set(responder, 34)
  return ad
}

export interface InitialHeader {
  readonly identityKey: Uint8Array
  readonly baseKey: Uint8Array
  readonly signedPrekeyId: number
  readonly kemPrekeyId: number
  readonly oneTimePrekeyId: number | undefined
  readonly kemCiphertext: Uint8Array
}

export interface Initiation extends InitialHeader {
  /** SK: the Double Ratchet's first root key. Secret. */
  readonly sharedKey: Uint8Array
  readonly associatedData: Uint8Array
  /** Bob's signed prekey: Alice's first remote ratchet key (DR §3.3 RatchetInitAlice). */
  readonly signedPrekey: Uint8Array
  /** Its OpenSSL handle, so the ratchet does not import it again. */
  readonly signedPrekeyHandle: KeyObject
}

/**
 * Alice's side (PQXDH §3.3) from a bundle that parseBundle verified. `oneTimeIndex` picks a
 * one-time prekey of the bundle, or none (X3DH §4.2 allows a session without one).
 */
export function pqxdhInitiate (identity: X25519KeyPair, bundle: PrekeyBundle, theirIdentity: Uint8Array, oneTimeIndex: number | undefined, random: RandomSource, theirIdentityHandle?: KeyObject): Initiation {
  const opk = oneTimeIndex === undefined ? undefined : bundle.oneTimePrekeys[oneTimeIndex]
  if (oneTimeIndex !== undefined && opk === undefined) throw new RangeError('no such one-time prekey')
  const ek = X25519KeyPair.generate(random)
  const spk = importX25519PublicKey(bundle.signedPrekey.publicKey)
  const dh1 = identity.agree(spk)
  const dh2 = ek.agree(theirIdentityHandle ?? theirIdentity)
  const dh3 = ek.agree(spk)
  const dh4 = opk === undefined ? undefined : ek.agree(opk.publicKey)
  const { sharedSecret, ciphertext } = mlKemEncapsulate(bundle.kemPrekey.publicKey, random, bundle.kemKeyHandle)
  const km = dh4 === undefined ? [dh1, dh2, dh3, sharedSecret] : [dh1, dh2, dh3, dh4, sharedSecret]
  const sharedKey = pqxdhKdf(km)
  wipe(dh1, dh2, dh3, dh4, sharedSecret)
  ek.wipe() // §3.3: Alice deletes her ephemeral private key and the DH outputs.
  return {
    sharedKey,
    associatedData: associatedData(identity.publicKey, theirIdentity),
    identityKey: identity.publicKey,
    baseKey: ek.publicKey,
    signedPrekeyId: bundle.signedPrekey.id,
    kemPrekeyId: bundle.kemPrekey.id,
    oneTimePrekeyId: opk?.id,
    kemCiphertext: ciphertext,
    signedPrekey: bundle.signedPrekey.publicKey,
    signedPrekeyHandle: spk
  }
}

export interface ResponderKeys {
  readonly signedPrekey: X25519KeyPair
  readonly kemPrekey: MlKemKeyPair
  readonly oneTimePrekey: X25519KeyPair | undefined
}

/** Bob's side (PQXDH §3.4). The caller looked the prekeys up by the header's ids. */
export function pqxdhRespond (identity: X25519KeyPair, header: InitialHeader, keys: ResponderKeys, theirIdentityHandle?: KeyObject): { sharedKey: Uint8Array, associatedData: Uint8Array } {
  const base = importX25519PublicKey(header.baseKey)
  const dh1 = keys.signedPrekey.agree(theirIdentityHandle ?? header.identityKey)
  const dh2 = identity.agree(base)
  const dh3 = keys.signedPrekey.agree(base)
  const dh4 = keys.oneTimePrekey?.agree(base)
  const ss = keys.kemPrekey.decapsulate(header.kemCiphertext)
  const km = dh4 === undefined ? [dh1, dh2, dh3, ss] : [dh1, dh2, dh3, dh4, ss]
  const sharedKey = pqxdhKdf(km)
  wipe(dh1, dh2, dh3, dh4, ss)
  return { sharedKey, associatedData: associatedData(header.identityKey, identity.publicKey) }
}

export function encodeInitialHeader (h: InitialHeader): Uint8Array {
  const w = new Writer(1720).u8(INITIAL_MESSAGE_VERSION).typed(KEY_TYPE_X25519, h.identityKey).typed(KEY_TYPE_X25519, h.baseKey)
    .u32(h.signedPrekeyId).u32(h.kemPrekeyId)
  if (h.oneTimePrekeyId === undefined) w.u8(0)
  else w.u8(1).u32(h.oneTimePrekeyId)
  return w.typed(KEY_TYPE_MLKEM1024_CIPHERTEXT, h.kemCiphertext).finish()
}

/**
 * Parses the header; returns it and the ratchet message that follows. Refuses a wrong
 * version (H7), wrong type bytes or lengths (H13), a missing KEM part (H12), and a base key
 * that is non-canonical, has the high bit set or is of small order (H11).
 */
export function decodeInitialHeader (bytes: Uint8Array): { header: InitialHeader, rest: Uint8Array } {
  const r = new Reader(bytes, 'initial message')
  const version = r.u8()
  if (version !== INITIAL_MESSAGE_VERSION) throw new DecodeError(`initial message: version ${version}`, 'ERR_UNKNOWN_VERSION')
  const identityKey = r.typed(KEY_TYPE_X25519, X25519_KEY_BYTES, 'identity key')
  const baseKey = r.typed(KEY_TYPE_X25519, X25519_KEY_BYTES, 'base key')
  const signedPrekeyId = r.u32()
  const kemPrekeyId = r.u32()
  const flag = r.u8()
  if (flag > 1) r.fail('bad one-time prekey flag')
  const oneTimePrekeyId = flag === 1 ? r.u32() : undefined
  const kemCiphertext = r.typed(KEY_TYPE_MLKEM1024_CIPHERTEXT, MLKEM1024_CIPHERTEXT_BYTES, 'KEM ciphertext')
  checkX25519PublicKey(baseKey, 'base key')
  checkX25519PublicKey(identityKey, 'identity key')
  return { header: { identityKey, baseKey, signedPrekeyId, kemPrekeyId, oneTimePrekeyId, kemCiphertext }, rest: r.rest() }
}

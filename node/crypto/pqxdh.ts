/**
 * PQXDH key agreement (Signal's PQXDH spec, revision 3, §3–4), with X25519, SHA-256 and
 * ML-KEM-1024. Sotto's identity DH key is the account's Ed25519 key in Montgomery form; its
 * signatures are Ed25519 over context-prefixed messages (see bundle.ts), not XEdDSA.
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  [DH4 = DH(EK_A, OPK_B)]
 *   (CT, SS) = PQKEM-ENC(PQSPK_B)
 *   SK = HKDF(salt = 0^32, ikm = F || DH1 || DH2 || DH3 [|| DH4] || SS, info = PQXDH_INFO, 32)
 *   with F = 32 bytes 0xFF (§3.3, for X25519), and
 *   AD = Encode(IK_A) || Encode(IK_B), Encode(PK) = 0x05 || X25519 public (§3.3, §4.9).
 * The KEM ciphertext is bound in through SS (H9); both identities through AD (H8).
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { checkX25519PublicKey } from '../identity/session-id.js'
import { concatBytes, utf8, wipe } from '../bytes.js'
import { CryptoError } from './errors.js'
import { dh, generateDhKeyPair, hkdf, kemDecapsulate, kemEncapsulate } from './primitives.js'
import { KEY_TYPE } from './codec.js'
import { PQXDH_INFO } from './constants.js'
import type { PrekeyRecord } from './bundle.js'

const F = new Uint8Array(32).fill(0xff)
const ZERO_SALT = new Uint8Array(32)
const INFO = utf8(PQXDH_INFO)

export function encodeIdentity (dhPublic: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(KEY_TYPE.x25519), dhPublic)
}

export function associatedData (initiatorDh: Uint8Array, responderDh: Uint8Array): Uint8Array {
  return concatBytes(encodeIdentity(initiatorDh), encodeIdentity(responderDh))
}

function kdf (parts: Uint8Array[]): Uint8Array {
  const km = concatBytes(F, ...parts)
  const sk = hkdf(km, ZERO_SALT, INFO, 32)
  wipe(km, ...parts)
  return sk
}

export interface InitiatorResult {
  sk: Uint8Array
  ad: Uint8Array
  ephemeralPublic: Uint8Array
  kemCiphertext: Uint8Array
  signedPrekeyId: number
  kemPrekeyId: number
  oneTimePrekeyId?: number
  /** Bob's signed prekey: the first DHr of Alice's ratchet (§3.3 with the Double Ratchet). */
  signedPrekey: Uint8Array
}

/** §3.3 Alice's side, from a record that parseRecord already verified (H1, H2, H3, H16). */
export function initiate (ours: { dhPrivate: Uint8Array, dhPublic: Uint8Array }, theirDh: Uint8Array, record: PrekeyRecord, oneTimePrekeyIndex?: number): InitiatorResult {
  const ek = generateDhKeyPair()
  const opk = oneTimePrekeyIndex === undefined ? undefined : record.oneTimePrekeys[oneTimePrekeyIndex]
  const { ciphertext, sharedSecret } = kemEncapsulate(record.kemPrekey.key)
  const parts = [
    dh(ours.dhPrivate, record.signedPrekey.key),
    dh(ek.privateKey, theirDh),
    dh(ek.privateKey, record.signedPrekey.key)
  ]
  if (opk !== undefined) parts.push(dh(ek.privateKey, opk.key))
  parts.push(sharedSecret)
  const sk = kdf(parts)
  wipe(ek.privateKey)
  return {
    sk,
    ad: associatedData(ours.dhPublic, theirDh),
    ephemeralPublic: ek.publicKey,
    kemCiphertext: ciphertext,
    signedPrekeyId: record.signedPrekey.id,
    kemPrekeyId: record.kemPrekey.id,
    oneTimePrekeyId: opk?.id,
    signedPrekey: record.signedPrekey.key
  }
}

/**
 * A base key must be a canonical point of the prime-order subgroup: the same DH output from
 * different bytes (a torsion point added, the high bit set) would defeat a replay cache (H11).
 */
export function checkBaseKey (key: Uint8Array): void {
  try {
    checkX25519PublicKey(key)
  } catch {
    throw new CryptoError('ERR_BAD_BASE_KEY', 'the base key is not a canonical curve point')
  }
  const P = 2n ** 255n - 19n
  let u = 0n
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(key[i])
  // Edwards y = (u - 1) / (u + 1); subgroup membership does not depend on the sign of x.
  const y = ((u - 1n + P) % P) * modInverse((u + 1n) % P, P) % P
  const yBytes = new Uint8Array(32)
  for (let i = 0; i < 32; i++) yBytes[i] = Number((y >> BigInt(8 * i)) & 0xffn)
  let torsionFree = false
  try {
    torsionFree = ed25519.Point.fromBytes(yBytes).isTorsionFree()
  } catch {
    torsionFree = false
  }
  if (!torsionFree) throw new CryptoError('ERR_BAD_BASE_KEY', 'the base key has a small-order component')
}

function modInverse (a: bigint, p: bigint): bigint {
  let result = 1n
  let base = a
  let e = p - 2n
  while (e > 0n) {
    if ((e & 1n) === 1n) result = result * base % p
    base = base * base % p
    e >>= 1n
  }
  return result
}

/** §3.4 Bob's side. The caller found the private prekeys by the ids in the initial message. */
export function respond (ours: { dhPrivate: Uint8Array, dhPublic: Uint8Array }, theirDh: Uint8Array, message: { ephemeralPublic: Uint8Array, kemCiphertext: Uint8Array },
  keys: { signedPrekeyPrivate: Uint8Array, kemSeed: Uint8Array, oneTimePrekeyPrivate?: Uint8Array }): { sk: Uint8Array, ad: Uint8Array } {
  checkBaseKey(message.ephemeralPublic)
  const sharedSecret = kemDecapsulate(keys.kemSeed, message.kemCiphertext)
  const parts = [
    dh(keys.signedPrekeyPrivate, theirDh),
    dh(ours.dhPrivate, message.ephemeralPublic),
    dh(keys.signedPrekeyPrivate, message.ephemeralPublic)
  ]
  if (keys.oneTimePrekeyPrivate !== undefined) parts.push(dh(keys.oneTimePrekeyPrivate, message.ephemeralPublic))
  parts.push(sharedSecret)
  return { sk: kdf(parts), ad: associatedData(theirDh, ours.dhPublic) }
}

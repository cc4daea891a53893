/**
 * Ed25519 (RFC 8032) signatures of the identity key, on node:crypto (OpenSSL), with strict
 * checks before OpenSSL sees the bytes (K7): a signature is exactly 64 bytes with S < L
 * (RFC 8032 §5.1.7 step 1), and R and the public key are canonical encodings (y < p).
 * @noble/curves' `verify(..., { zip215: false })` is the reference the tests compare with.
 *
 * Every message signed starts with its context (constants.SIGNATURE_CONTEXTS, K9); callers
 * name the context, never raw bytes, so no signature can be replayed across purposes.
 *
 * The Ed25519 identity key and its Montgomery form (the X25519 key a Session ID names) are
 * the same key, as in Session; `matchesX25519` checks that a bundle's Ed25519 key is that
 * key, with one field multiplication instead of an inversion: u = (1 + y) / (1 - y)
 * (RFC 7748 §4.1) holds iff u·(1 - y) = 1 + y mod p, for y ≠ 1.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { view } from './aead-stream.js'
import { inspect } from 'node:util'
import { concatBytes } from '../../bytes.js'
import { ED25519_KEY_BYTES, ED25519_SIGNATURE_BYTES, SIGNATURE_CONTEXTS, type SignatureContext } from '../constants.js'
import { BadKeyError } from '../errors.js'
import { littleEndian, P, P_BYTES, spkiPem } from './x25519.js'

/** The group order L (RFC 8032 §5.1). */
const L = (1n << 252n) + 27742317777372353535851937790883648493n

function leToBigint (b: Uint8Array, offset: number, length: number): bigint {
  let v = 0n
  for (let i = offset + length - 1; i >= offset; i--) v = (v << 8n) | BigInt(b[i])
  return v
}

const L_BYTES = littleEndian(L)

/**
 * b[offset..offset+32) < limit, both little-endian, compared from the most significant byte
 * down; `topMask` clears bits of the top byte first (0x7f drops the sign bit of a point).
 * Byte compares instead of bigints: these run three times per signature on the setup path.
 */
function lessThan (b: Uint8Array, offset: number, limit: Uint8Array, topMask: number): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 ? b[offset + i] & topMask : b[offset + i]
    if (x < limit[i]) return true
    if (x > limit[i]) return false
  }
  return false
}

/** y < p for an encoded point (the sign bit is bit 255). */
function canonicalPoint (b: Uint8Array, offset: number): boolean {
  return lessThan(b, offset, P_BYTES, 0x7f)
}

/** RFC 8032 §5.1.7 with the strict (non-ZIP-215) encoding rules, over context || message (K9). */
export function verifyEd25519 (publicKey: Uint8Array | KeyObject, context: SignatureContext, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyEd25519WithoutContext(publicKey, concatBytes(SIGNATURE_CONTEXTS[context], message), signature)
}

/**
 * The same verification over exactly `message`, for known-answer vectors (Wycheproof) that
 * carry no Sotto context. Protocol code calls verifyEd25519, which adds the context (K9).
 */
export function verifyEd25519WithoutContext (publicKey: Uint8Array | KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false
  if (!lessThan(signature, 32, L_BYTES, 0xff)) return false // RFC 8032 §5.1.7 step 1: S < L
  if (!canonicalPoint(signature, 0)) return false
  let key: KeyObject
  if (publicKey instanceof Uint8Array) {
    if (publicKey.length !== ED25519_KEY_BYTES || !canonicalPoint(publicKey, 0)) return false
    try {
      key = importEd25519PublicKey(publicKey)
    } catch {
      return false
    }
  } else {
    key = publicKey
  }
  try {
    return verify(null, view(message), key, view(signature))
  } catch {
    return false
  }
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function importEd25519PublicKey (publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== ED25519_KEY_BYTES || !canonicalPoint(publicKey, 0)) throw new BadKeyError('not a canonical Ed25519 public key')
  return createPublicKey(spkiPem(SPKI_PREFIX, publicKey))
}

/** Signs with the identity key's seed; the seed never shows in logs, JSON or inspect. */
export class Ed25519Signer {
  readonly publicKey: Uint8Array
  #handle: KeyObject

  constructor (seed: Uint8Array) {
    if (seed.length !== 32) throw new BadKeyError('an Ed25519 seed has 32 bytes')
    this.#handle = createPrivateKey({ key: Buffer.from(seed), format: 'raw-private', asymmetricKeyType: 'ed25519' })
    const pub = createPublicKey(this.#handle).export({ format: 'raw-public' })
    this.publicKey = new Uint8Array(pub.buffer, pub.byteOffset, pub.byteLength)
  }

  sign (context: SignatureContext, message: Uint8Array): Uint8Array {
    const sig = sign(null, view(concatBytes(SIGNATURE_CONTEXTS[context], message)), this.#handle)
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength)
  }

  toJSON (): unknown {
    return { type: 'Ed25519Signer', seed: '[redacted]' }
  }

  [inspect.custom] (): string {
    return 'Ed25519Signer { seed: [redacted] }'
  }
}

/**
 * True iff the Ed25519 public key `ed` is, in Montgomery form, the X25519 key `x`
 * (the Session ID's key). Both must be canonical; y = 1 (the identity) never matches.
 */
export function matchesX25519 (ed: Uint8Array, x: Uint8Array): boolean {
  if (ed.length !== 32 || x.length !== 32) return false
  const y = leToBigint(ed, 0, 32) & ((1n << 255n) - 1n)
  const u = leToBigint(x, 0, 32)
  if (y >= P || u >= P || y === 1n) return false
  const lhs = (u * ((1n - y + P) % P)) % P
  return lhs === (1n + y) % P
}

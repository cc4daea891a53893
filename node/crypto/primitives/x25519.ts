/**
 * X25519 (RFC 7748) on node:crypto (OpenSSL), about 30x faster here than @noble/curves, which
 * stays the reference the tests compare against. Key pairs keep their OpenSSL handle, so a
 * ratchet step imports nothing it already has.
 *
 * Public keys that reach us from outside go through `checkX25519PublicKey` (H3, H11, K8):
 * 32 bytes, high bit clear (RFC 7748 §5 masks it: two encodings of one point would defeat
 * a replay cache), canonical (u < p), and not one of the points of small order. A DH whose
 * output is all zero is refused too (RFC 7748 §6.1 "check ... all-zero value").
 * Twist points are not refused here: Curve25519 is twist-secure (RFC 7748 §5, note on
 * twist security), and identity keys get the full on-curve check of node/identity.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { inspect } from 'node:util'
import { BadKeyError } from '../errors.js'
import { isSystemRandom, type RandomSource } from '../random.js'
import { X25519_KEY_BYTES } from '../constants.js'

/** The field prime 2^255 - 19 (RFC 7748 §4.1), shared with Ed25519 (RFC 8032 §5.1). */
export const P = (1n << 255n) - 19n

/** A field element or scalar as 32 little-endian bytes (the encoding of RFC 7748 and RFC 8032). */
export function littleEndian (u: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) {
    out[i] = Number(u & 0xffn)
    u >>= 8n
  }
  return out
}

/** Canonical encodings of the u-coordinates of small order (0, 1, p-1 and the order-8 pair). */
const SMALL_ORDER = [
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n
].map(littleEndian)

/** The first bytes of those encodings: most keys differ there, and skip the five comparisons. */
const SMALL_ORDER_FIRST = new Set(SMALL_ORDER.map((s) => s[0]))

/** p = 2^255 - 19 little-endian (Curve25519 and Ed25519 share the field), for canonical checks without bigint work. */
export const P_BYTES = littleEndian(P)

function isCanonical (key: Uint8Array): boolean {
  // Compare key < p from the most significant byte down.
  for (let i = 31; i >= 0; i--) {
    if (key[i] < P_BYTES[i]) return true
    if (key[i] > P_BYTES[i]) return false
  }
  return false
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  let d = 0
  for (let i = 0; i < 32; i++) d |= a[i] ^ b[i]
  return d === 0
}

/** Throws BadKeyError unless `key` is a usable X25519 public key from outside. */
export function checkX25519PublicKey (key: Uint8Array, what = 'X25519 key'): void {
  if (key.length !== X25519_KEY_BYTES) throw new BadKeyError(`${what} must be 32 bytes`)
  if ((key[31] & 0x80) !== 0) throw new BadKeyError(`${what} has the high bit set`, 'ERR_NONCANONICAL_KEY')
  if (!isCanonical(key)) throw new BadKeyError(`${what} is not canonical`, 'ERR_NONCANONICAL_KEY')
  if (!SMALL_ORDER_FIRST.has(key[0])) return
  for (const s of SMALL_ORDER) if (sameBytes(s, key)) throw new BadKeyError(`${what} is a point of small order`, 'ERR_LOW_ORDER_KEY')
}

const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

/**
 * An OpenSSL handle for a raw public key. The key goes in as a PEM string: node:crypto
 * imports that about 3x faster than the equivalent {key, format} object (measured in
 * bench/crypto.ts's profile), and it is the same SPKI bytes.
 */
export function importX25519PublicKey (key: Uint8Array): KeyObject {
  if (key.length !== X25519_KEY_BYTES) throw new BadKeyError('an X25519 public key has 32 bytes')
  return createPublicKey(spkiPem(SPKI_PREFIX, key))
}

/** SPKI DER (prefix || key) as a PEM string. */
export function spkiPem (prefix: Buffer, key: Uint8Array): string {
  const der = Buffer.allocUnsafe(prefix.length + key.length)
  prefix.copy(der, 0)
  der.set(key, prefix.length)
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`
}

function asBytes (b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function allZero (b: Uint8Array): boolean {
  let d = 0
  for (let i = 0; i < b.length; i++) d |= b[i]
  return d === 0
}

/** An X25519 key pair; the private key never shows in logs, JSON or inspect. */
export class X25519KeyPair {
  readonly publicKey: Uint8Array
  /** Undefined until asked for when OpenSSL generated the pair: ephemeral keys are never exported. */
  #privateKey: Uint8Array | undefined
  #handle: KeyObject | undefined

  private constructor (publicKey: Uint8Array, privateKey: Uint8Array | undefined, handle: KeyObject | undefined) {
    this.publicKey = publicKey
    this.#privateKey = privateKey
    this.#handle = handle
  }

  /**
   * A new key pair; with the system random source OpenSSL generates it directly, and the
   * private scalar stays inside OpenSSL until privateKeyBytes() asks for it (an envelope's or
   * a PQXDH ephemeral key never is: one export fewer per use).
   */
  static generate (random: RandomSource): X25519KeyPair {
    if (isSystemRandom(random)) {
      const { publicKey, privateKey } = generateKeyPairSync('x25519')
      return new X25519KeyPair(asBytes(publicKey.export({ format: 'raw-public' })), undefined, privateKey)
    }
    return X25519KeyPair.fromPrivateKey(random(32))
  }

  /** From a 32-byte private scalar (RFC 7748 §5 clamps it); computes the public key. */
  static fromPrivateKey (privateKey: Uint8Array): X25519KeyPair {
    if (privateKey.length !== 32) throw new BadKeyError('an X25519 private key has 32 bytes')
    const handle = createPrivateKey({ key: Buffer.from(privateKey), format: 'raw-private', asymmetricKeyType: 'x25519' })
    const publicKey = asBytes(createPublicKey(handle).export({ format: 'raw-public' }))
    return new X25519KeyPair(publicKey, Uint8Array.from(privateKey), handle)
  }

  /** From stored bytes of a pair we made ourselves; the handle is made on first use. */
  static fromStored (publicKey: Uint8Array, privateKey: Uint8Array): X25519KeyPair {
    return new X25519KeyPair(publicKey, privateKey, undefined)
  }

  /** The private scalar, for serialisation only. */
  privateKeyBytes (): Uint8Array {
    // #handle is set whenever #privateKey is not (generate; wipe sets zeros).
    this.#privateKey ??= asBytes((this.#handle as KeyObject).export({ format: 'raw-private' }))
    return this.#privateKey
  }

  private handle (): KeyObject {
    this.#handle ??= createPrivateKey({ key: Buffer.from(this.privateKeyBytes()), format: 'raw-private', asymmetricKeyType: 'x25519' })
    return this.#handle
  }

  /**
   * DH(this, remote) per RFC 7748 §6.1. `remote` is raw bytes or a handle from
   * importX25519PublicKey. Refuses an all-zero output (a low-order remote key).
   */
  agree (remote: Uint8Array | KeyObject): Uint8Array {
    const publicKey = remote instanceof Uint8Array ? importX25519PublicKey(remote) : remote
    let out: Uint8Array
    try {
      out = asBytes(diffieHellman({ privateKey: this.handle(), publicKey }))
    } catch {
      // OpenSSL refuses an all-zero shared secret itself.
      throw new BadKeyError('X25519 produced the all-zero value (low-order key)', 'ERR_LOW_ORDER_KEY')
    }
    if (allZero(out)) throw new BadKeyError('X25519 produced the all-zero value (low-order key)', 'ERR_LOW_ORDER_KEY')
    return out
  }

  wipe (): void {
    if (this.#privateKey === undefined) this.#privateKey = new Uint8Array(32)
    else this.#privateKey.fill(0)
    this.#handle = undefined
  }

  toJSON (): unknown {
    return { type: 'X25519KeyPair', privateKey: '[redacted]' }
  }

  [inspect.custom] (): string {
    return 'X25519KeyPair { privateKey: [redacted] }'
  }
}

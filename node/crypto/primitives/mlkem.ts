/**
 * ML-KEM-1024 (FIPS 203), PQXDH's pqkem (PQXDH §2.2 names CRYSTALS-Kyber-1024; ML-KEM is
 * its standard). node:crypto (OpenSSL 3.5, Node >= 24.7) on the hot paths; @noble/post-quantum
 * when a deterministic random source is passed (tests, known answers) and as the reference
 * the tests cross-check against. The private key is kept as its 64-byte seed d || z
 * (FIPS 203 §7.1 ML-KEM.KeyGen from a seed), from which both libraries expand the same keys.
 */
import { createPrivateKey, createPublicKey, decapsulate, encapsulate, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { inspect } from 'node:util'
import { ml_kem1024 as nobleMlKem } from '@noble/post-quantum/ml-kem.js'
import { MLKEM1024_CIPHERTEXT_BYTES, MLKEM1024_PUBLIC_KEY_BYTES, MLKEM1024_SEED_BYTES } from '../constants.js'
import { BadKeyError, DecryptError } from '../errors.js'
import { isSystemRandom, type RandomSource } from '../random.js'
import { spkiPem } from './x25519.js'

function asBytes (b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

const SPKI_PREFIX = Buffer.from('30820632300b06096086480165030404030382062100', 'hex')

export function importMlKemPublicKey (publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== MLKEM1024_PUBLIC_KEY_BYTES) throw new BadKeyError('an ML-KEM-1024 public key has 1568 bytes')
  try {
    // OpenSSL checks the FIPS 203 §7.2 modulus test on import (PEM: the faster import route).
    return createPublicKey(spkiPem(SPKI_PREFIX, publicKey))
  } catch {
    throw new BadKeyError('not a valid ML-KEM-1024 public key')
  }
}

export interface Encapsulation { sharedSecret: Uint8Array, ciphertext: Uint8Array }

/** ML-KEM.Encaps (FIPS 203 §7.2). */
export function mlKemEncapsulate (publicKey: Uint8Array, random: RandomSource, handle?: KeyObject): Encapsulation {
  if (isSystemRandom(random)) {
    const { sharedKey, ciphertext } = encapsulate(handle ?? importMlKemPublicKey(publicKey))
    return { sharedSecret: asBytes(sharedKey), ciphertext: asBytes(ciphertext) }
  }
  if (publicKey.length !== MLKEM1024_PUBLIC_KEY_BYTES) throw new BadKeyError('an ML-KEM-1024 public key has 1568 bytes')
  try {
    const { cipherText, sharedSecret } = nobleMlKem.encapsulate(publicKey, random(32))
    return { sharedSecret, ciphertext: cipherText }
  } catch {
    throw new BadKeyError('not a valid ML-KEM-1024 public key')
  }
}

/** An ML-KEM-1024 key pair kept as its seed; never shows the seed in logs, JSON or inspect. */
export class MlKemKeyPair {
  readonly publicKey: Uint8Array
  #seed: Uint8Array
  #handle: KeyObject | undefined

  private constructor (publicKey: Uint8Array, seed: Uint8Array, handle: KeyObject | undefined) {
    this.publicKey = publicKey
    this.#seed = seed
    this.#handle = handle
  }

  static generate (random: RandomSource): MlKemKeyPair {
    if (isSystemRandom(random)) {
      const { publicKey, privateKey } = generateKeyPairSync('ml-kem-1024')
      return new MlKemKeyPair(asBytes(publicKey.export({ format: 'raw-public' })), asBytes(privateKey.export({ format: 'raw-seed' })), privateKey)
    }
    return MlKemKeyPair.fromSeed(random(MLKEM1024_SEED_BYTES))
  }

  static fromSeed (seed: Uint8Array): MlKemKeyPair {
    if (seed.length !== MLKEM1024_SEED_BYTES) throw new BadKeyError('an ML-KEM-1024 seed has 64 bytes')
    const handle = createPrivateKey({ key: Buffer.from(seed), format: 'raw-seed', asymmetricKeyType: 'ml-kem-1024' })
    const publicKey = asBytes(createPublicKey(handle).export({ format: 'raw-public' }))
    return new MlKemKeyPair(publicKey, Uint8Array.from(seed), handle)
  }

  /** From stored seed and public key we made ourselves; the handle is made on first use. */
  static fromStored (publicKey: Uint8Array, seed: Uint8Array): MlKemKeyPair {
    return new MlKemKeyPair(publicKey, seed, undefined)
  }

  seedBytes (): Uint8Array {
    return this.#seed
  }

  /** ML-KEM.Decaps (FIPS 203 §7.3); implicit rejection gives a random-looking secret for a bad ciphertext. */
  decapsulate (ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length !== MLKEM1024_CIPHERTEXT_BYTES) throw new DecryptError('an ML-KEM-1024 ciphertext has 1568 bytes', 'ERR_DECODE')
    this.#handle ??= createPrivateKey({ key: Buffer.from(this.#seed), format: 'raw-seed', asymmetricKeyType: 'ml-kem-1024' })
    return asBytes(decapsulate(this.#handle, Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength)))
  }

  wipe (): void {
    this.#seed.fill(0)
    this.#handle = undefined
  }

  toJSON (): unknown {
    return { type: 'MlKemKeyPair', seed: '[redacted]' }
  }

  [inspect.custom] (): string {
    return 'MlKemKeyPair { seed: [redacted] }'
  }
}

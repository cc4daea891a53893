/**
 * The account's prekeys (PQXDH §2.3, X3DH §3.2): a signed X25519 prekey, a signed ML-KEM-1024
 * last-resort prekey, and one-time X25519 prekeys. Both signed prekeys are signed by the
 * identity Ed25519 key under their own context (K9); the signed message carries the prekey's
 * id and creation time, so a sender can refuse a stale one (H16).
 *
 * Signed bytes (after the context, constants.SIGNATURE_CONTEXTS):
 *   signed prekey: id u32 | createdAt u64 | 0x05 | X25519 key (32)
 *   KEM prekey:    id u32 | createdAt u64 | 0x08 | ML-KEM-1024 key (1568)
 *
 * This module makes and encodes prekeys; it knows nothing of stores, sessions or bundles.
 */
import { KEY_TYPE_MLKEM1024, KEY_TYPE_X25519, MLKEM1024_PUBLIC_KEY_BYTES, MLKEM1024_SEED_BYTES, X25519_KEY_BYTES } from './constants.js'
import { Reader, Writer } from './encoding.js'
import type { Ed25519Signer } from './primitives/ed25519.js'
import { MlKemKeyPair } from './primitives/mlkem.js'
import { X25519KeyPair } from './primitives/x25519.js'
import type { RandomSource } from './random.js'

export interface SignedPrekey {
  readonly id: number
  readonly createdAt: number
  readonly keyPair: X25519KeyPair
  readonly signature: Uint8Array
}

export interface KemPrekey {
  readonly id: number
  readonly createdAt: number
  readonly keyPair: MlKemKeyPair
  readonly signature: Uint8Array
}

export interface OneTimePrekey {
  readonly id: number
  readonly keyPair: X25519KeyPair
}

export function signedPrekeyMessage (id: number, createdAt: number, publicKey: Uint8Array): Uint8Array {
  return new Writer(45).u32(id).u64(createdAt).typed(KEY_TYPE_X25519, publicKey).finish()
}

export function kemPrekeyMessage (id: number, createdAt: number, publicKey: Uint8Array): Uint8Array {
  return new Writer(1581).u32(id).u64(createdAt).typed(KEY_TYPE_MLKEM1024, publicKey).finish()
}

export function createSignedPrekey (signer: Ed25519Signer, id: number, now: number, random: RandomSource): SignedPrekey {
  const keyPair = X25519KeyPair.generate(random)
  return { id, createdAt: now, keyPair, signature: signer.sign('signedPrekey', signedPrekeyMessage(id, now, keyPair.publicKey)) }
}

export function createKemPrekey (signer: Ed25519Signer, id: number, now: number, random: RandomSource): KemPrekey {
  const keyPair = MlKemKeyPair.generate(random)
  return { id, createdAt: now, keyPair, signature: signer.sign('kemPrekey', kemPrekeyMessage(id, now, keyPair.publicKey)) }
}

export function createOneTimePrekeys (firstId: number, count: number, random: RandomSource): OneTimePrekey[] {
  const out: OneTimePrekey[] = []
  for (let i = 0; i < count; i++) out.push({ id: firstId + i, keyPair: X25519KeyPair.generate(random) })
  return out
}

// ---- Stored forms (values in the store's 'prekey' table; version byte first) -------------

const STORED_VERSION = 1

export function encodeSignedPrekey (k: SignedPrekey): Uint8Array {
  return new Writer(180).u8(STORED_VERSION).u32(k.id).u64(k.createdAt).bytes(k.keyPair.publicKey)
    .bytes(k.keyPair.privateKeyBytes()).bytes(k.signature).finish()
}

export function decodeSignedPrekey (bytes: Uint8Array): SignedPrekey {
  const r = new Reader(bytes, 'stored signed prekey', 'ERR_STATE')
  if (r.u8() !== STORED_VERSION) r.fail('unknown version')
  const id = r.u32()
  const createdAt = r.u64()
  const pub = r.copy(X25519_KEY_BYTES)
  const priv = r.copy(X25519_KEY_BYTES)
  const signature = r.copy(64)
  r.end()
  return { id, createdAt, keyPair: X25519KeyPair.fromStored(pub, priv), signature }
}

export function encodeKemPrekey (k: KemPrekey): Uint8Array {
  return new Writer(1720).u8(STORED_VERSION).u32(k.id).u64(k.createdAt).bytes(k.keyPair.publicKey)
    .bytes(k.keyPair.seedBytes()).bytes(k.signature).finish()
}

export function decodeKemPrekey (bytes: Uint8Array): KemPrekey {
  const r = new Reader(bytes, 'stored KEM prekey', 'ERR_STATE')
  if (r.u8() !== STORED_VERSION) r.fail('unknown version')
  const id = r.u32()
  const createdAt = r.u64()
  const pub = r.copy(MLKEM1024_PUBLIC_KEY_BYTES)
  const seed = r.copy(MLKEM1024_SEED_BYTES)
  const signature = r.copy(64)
  r.end()
  return { id, createdAt, keyPair: MlKemKeyPair.fromStored(pub, seed), signature }
}

export function encodeOneTimePrekey (k: OneTimePrekey): Uint8Array {
  return new Writer(70).u8(STORED_VERSION).u32(k.id).bytes(k.keyPair.publicKey).bytes(k.keyPair.privateKeyBytes()).finish()
}

export function decodeOneTimePrekey (bytes: Uint8Array): OneTimePrekey {
  const r = new Reader(bytes, 'stored one-time prekey', 'ERR_STATE')
  if (r.u8() !== STORED_VERSION) r.fail('unknown version')
  const id = r.u32()
  const pub = r.copy(X25519_KEY_BYTES)
  const priv = r.copy(X25519_KEY_BYTES)
  r.end()
  return { id, keyPair: X25519KeyPair.fromStored(pub, priv) }
}

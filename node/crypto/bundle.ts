/**
 * The prekey bundle (PQXDH §3.2 "Bob's prekey bundle"), published by the network layer as
 * the account's DHT record. One signature of the identity key covers the whole record (own
 * context), and the signed and KEM prekeys carry their own signatures as PQXDH requires.
 *
 * Wire format, version 1 (big-endian; docs/PROTOCOL.md §3):
 *   u8 version = 0x01 | u8 record type = 0x50
 *   0x0E | identity Ed25519 key (32)
 *   u64 sequence | u64 expiresAt (ms since the epoch)
 *   signed prekey: u32 id | u64 createdAt | 0x05 | X25519 (32) | signature (64)
 *   KEM prekey:    u32 id | u64 createdAt | 0x08 | ML-KEM-1024 (1568) | signature (64)
 *   u16 n (<= 200) | n x (u32 id | 0x05 | X25519 (32))       one-time prekeys
 *   u16 len (<= 2048) | routing (opaque to this module)
 *   signature (64) by the identity key over context "Sotto/prekey-bundle/v1\0" || all above
 *
 * parseBundle checks, before any key is derived (H1): size, structure, type bytes (H13),
 * that the Ed25519 key is the Session ID's key, the record signature, both prekey
 * signatures (H1, H2), the X25519 keys (H3), the ML-KEM key, expiry and prekey age (H16).
 * Every refusal is a typed error; nothing is stored by parsing.
 */
import type { KeyObject } from 'node:crypto'
import { sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import {
  BUNDLE_RECORD_TYPE, BUNDLE_VERSION, ED25519_KEY_BYTES, ED25519_SIGNATURE_BYTES, KEY_TYPE_ED25519, KEY_TYPE_MLKEM1024,
  KEY_TYPE_X25519, MAX_BUNDLE_BYTES, MAX_BUNDLE_LIFETIME_MS, MAX_CLOCK_SKEW_MS, MAX_ONE_TIME_PREKEYS_IN_BUNDLE,
  MAX_ROUTING_BYTES, MLKEM1024_PUBLIC_KEY_BYTES, SIGNED_PREKEY_MAX_AGE_MS, X25519_KEY_BYTES
} from './constants.js'
import { Reader, Writer } from './encoding.js'
import { BadKeyError, BadSignatureError, BundleError, DecodeError, IdentityMismatchError } from './errors.js'
import { importEd25519PublicKey, matchesX25519, verifyEd25519, type Ed25519Signer } from './primitives/ed25519.js'
import { importMlKemPublicKey } from './primitives/mlkem.js'
import { checkX25519PublicKey } from './primitives/x25519.js'
import { kemPrekeyMessage, signedPrekeyMessage } from './prekeys.js'

export interface PublicSignedPrekey {
  readonly id: number
  readonly createdAt: number
  readonly publicKey: Uint8Array
  readonly signature: Uint8Array
}

export interface PublicOneTimePrekey {
  readonly id: number
  readonly publicKey: Uint8Array
}

/** The fields of a bundle, as built by the owner. */
export interface BundleFields {
  readonly identityKey: Uint8Array
  readonly sequence: number
  readonly expiresAt: number
  readonly signedPrekey: PublicSignedPrekey
  readonly kemPrekey: PublicSignedPrekey
  readonly oneTimePrekeys: readonly PublicOneTimePrekey[]
  readonly routing: Uint8Array
}

/** A bundle that passed every check of parseBundle. */
export interface PrekeyBundle extends BundleFields {
  readonly sessionId: SessionId
  /** OpenSSL handle of the KEM key, made (and validated) while parsing. */
  readonly kemKeyHandle?: KeyObject
}

function body (f: BundleFields): Writer {
  if (f.oneTimePrekeys.length > MAX_ONE_TIME_PREKEYS_IN_BUNDLE) throw new BundleError('ERR_BUNDLE_TOO_LARGE', 'too many one-time prekeys')
  if (f.routing.length > MAX_ROUTING_BYTES) throw new BundleError('ERR_BUNDLE_TOO_LARGE', 'routing field too large')
  const w = new Writer(2048 + 37 * f.oneTimePrekeys.length + f.routing.length)
  w.u8(BUNDLE_VERSION).u8(BUNDLE_RECORD_TYPE).typed(KEY_TYPE_ED25519, f.identityKey).u64(f.sequence).u64(f.expiresAt)
  const s = f.signedPrekey
  w.u32(s.id).u64(s.createdAt).typed(KEY_TYPE_X25519, s.publicKey).bytes(s.signature)
  const k = f.kemPrekey
  w.u32(k.id).u64(k.createdAt).typed(KEY_TYPE_MLKEM1024, k.publicKey).bytes(k.signature)
  w.u16(f.oneTimePrekeys.length)
  for (const o of f.oneTimePrekeys) w.u32(o.id).typed(KEY_TYPE_X25519, o.publicKey)
  w.var16(f.routing)
  return w
}

/** Serialises and signs a bundle with the identity key. */
export function encodeBundle (fields: BundleFields, signer: Ed25519Signer): Uint8Array {
  const w = body(fields)
  const unsigned = w.finish()
  const out = w.bytes(signer.sign('bundle', unsigned)).finish()
  if (out.length > MAX_BUNDLE_BYTES) throw new BundleError('ERR_BUNDLE_TOO_LARGE', 'bundle too large')
  return out
}

interface Decoded { fields: BundleFields, signedLength: number, signature: Uint8Array }

function decode (bytes: Uint8Array): Decoded {
  if (bytes.length > MAX_BUNDLE_BYTES) throw new DecodeError('prekey bundle: too large', 'ERR_BUNDLE_TOO_LARGE')
  const r = new Reader(bytes, 'prekey bundle')
  const version = r.u8()
  if (version !== BUNDLE_VERSION) throw new DecodeError(`prekey bundle: version ${version}`, 'ERR_UNKNOWN_VERSION')
  if (r.u8() !== BUNDLE_RECORD_TYPE) r.fail('not a prekey bundle')
  const identityKey = r.typed(KEY_TYPE_ED25519, ED25519_KEY_BYTES, 'identity key')
  const sequence = r.u64()
  const expiresAt = r.u64()
  const signedPrekey = {
    id: r.u32(),
    createdAt: r.u64(),
    publicKey: r.typed(KEY_TYPE_X25519, X25519_KEY_BYTES, 'signed prekey'),
    signature: r.copy(ED25519_SIGNATURE_BYTES)
  }
  const kemPrekey = {
    id: r.u32(),
    createdAt: r.u64(),
    publicKey: r.typed(KEY_TYPE_MLKEM1024, MLKEM1024_PUBLIC_KEY_BYTES, 'ML-KEM prekey'),
    signature: r.copy(ED25519_SIGNATURE_BYTES)
  }
  const n = r.u16()
  if (n > MAX_ONE_TIME_PREKEYS_IN_BUNDLE) throw new DecodeError('prekey bundle: too many one-time prekeys', 'ERR_BUNDLE_TOO_LARGE')
  const oneTimePrekeys: PublicOneTimePrekey[] = []
  const ids = new Set<number>()
  for (let i = 0; i < n; i++) {
    const id = r.u32()
    if (ids.has(id)) r.fail('one-time prekey id repeated')
    ids.add(id)
    oneTimePrekeys.push({ id, publicKey: r.typed(KEY_TYPE_X25519, X25519_KEY_BYTES, 'one-time prekey') })
  }
  const routing = r.var16(MAX_ROUTING_BYTES)
  const signedLength = r.position
  const signature = r.copy(ED25519_SIGNATURE_BYTES)
  r.end()
  return { fields: { identityKey, sequence, expiresAt, signedPrekey, kemPrekey, oneTimePrekeys, routing }, signedLength, signature }
}

/**
 * Parses and fully verifies a bundle filed under `expectedSessionId` (the DHT validator and
 * every sender use this). Throws DecodeError, IdentityMismatchError, BadSignatureError,
 * BadKeyError or BundleError.
 */
export function parseBundle (bytes: Uint8Array, expectedSessionId: SessionId | string, now: number): PrekeyBundle {
  const { fields, signedLength, signature } = decode(bytes)
  const sessionKey = sessionIdToX25519(expectedSessionId as SessionId)
  if (sessionKey === undefined || sessionKey.length !== 32 || !matchesX25519(fields.identityKey, sessionKey)) throw new IdentityMismatchError()
  let identity: KeyObject
  try {
    identity = importEd25519PublicKey(fields.identityKey)
  } catch {
    throw new IdentityMismatchError('the bundle identity key is not a valid Ed25519 key')
  }
  // PQXDH §4.2 / X3DH §3.3: verify before anything is derived (H1, H2).
  if (!verifyEd25519(identity, 'bundle', bytes.subarray(0, signedLength), signature)) throw new BadSignatureError('prekey bundle')
  const s = fields.signedPrekey
  if (!verifyEd25519(identity, 'signedPrekey', signedPrekeyMessage(s.id, s.createdAt, s.publicKey), s.signature)) throw new BadSignatureError('signed prekey')
  const k = fields.kemPrekey
  if (!verifyEd25519(identity, 'kemPrekey', kemPrekeyMessage(k.id, k.createdAt, k.publicKey), k.signature)) throw new BadSignatureError('ML-KEM prekey')
  checkX25519PublicKey(s.publicKey, 'signed prekey')
  for (const o of fields.oneTimePrekeys) checkX25519PublicKey(o.publicKey, 'one-time prekey')
  checkBundleTimes(fields, now)
  let kemKeyHandle: KeyObject
  try {
    kemKeyHandle = importMlKemPublicKey(k.publicKey)
  } catch {
    throw new BadKeyError('the ML-KEM prekey is not a valid ML-KEM-1024 key')
  }
  return { ...fields, sessionId: expectedSessionId as SessionId, kemKeyHandle }
}

/**
 * The checks of parseBundle that depend on the clock: expiry, claimed lifetime, and the age of
 * both signed prekeys (H16; rotation: X3DH §3.2, PQXDH §3.2 "Publishing keys"). Everything
 * else parseBundle checks depends only on the bytes and the Session ID, so a caller that
 * remembers a verified bundle (bundle-cache.ts) runs exactly these again on every use.
 */
export function checkBundleTimes (fields: BundleFields, now: number): void {
  if (fields.expiresAt <= now) throw new BundleError('ERR_BUNDLE_EXPIRED', 'the prekey bundle has expired')
  if (fields.expiresAt > now + MAX_BUNDLE_LIFETIME_MS) throw new BundleError('ERR_BUNDLE_EXPIRY', 'the prekey bundle claims to live too long')
  for (const p of [fields.signedPrekey, fields.kemPrekey]) {
    if (p.createdAt > now + MAX_CLOCK_SKEW_MS) throw new BundleError('ERR_PREKEY_FROM_FUTURE', 'a signed prekey was made in the future')
    // H16 (X3DH §4.6): refuse a signed prekey older than the rotation window.
    if (now - p.createdAt > SIGNED_PREKEY_MAX_AGE_MS) throw new BundleError('ERR_PREKEY_TOO_OLD', 'the signed prekey is older than the rotation window')
  }
}

/** The sequence number of a bundle, without verifying it (for a selector over verified records). */
export function bundleSequence (bytes: Uint8Array): number {
  return decode(bytes).fields.sequence
}

/** > 0 when `a` should replace `b` (higher sequence wins, D2); records that do not parse lose. */
export function compareBundles (a: Uint8Array, b: Uint8Array): number {
  const seq = (x: Uint8Array) => { try { return bundleSequence(x) } catch { return -1 } }
  return seq(a) - seq(b)
}

/** The names the network layer uses for the DHT record validator and selector. */

/**
 * Prekey bundles (PQXDH §2–3), published as the account's DHT record. One record carries
 * the identity key, a signed X25519 prekey, a signed ML-KEM-1024 last-resort prekey, a batch
 * of one-time X25519 prekeys, the opaque `routing` field the network layer fills, a sequence
 * number and an expiry; the whole record is signed once more. Every signature has its own
 * context (K9). Format in docs/PROTOCOL.md §1.
 */
import { checkX25519PublicKey, sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import { concatBytes, equalBytes, utf8 } from '../bytes.js'
import { Reader, Writer, KEY_TYPE } from './codec.js'
import { CryptoError } from './errors.js'
import { ed25519ToX25519, KEM_PUBLIC_KEY_LENGTH, sign, verify } from './primitives.js'
import { MAX_ONE_TIME_PREKEYS, MAX_ROUTING_BYTES, SIGNED_PREKEY_MAX_AGE_MS } from './constants.js'

export const RECORD_VERSION = 1
export const CONTEXT = {
  signedPrekey: utf8('Sotto/signed-prekey/v1\0'),
  kemPrekey: utf8('Sotto/kem-prekey/v1\0'),
  record: utf8('Sotto/prekey-record/v1\0')
}

export interface SignedPrekeyPublic { id: number, key: Uint8Array, createdAt: number, signature: Uint8Array }
export interface OneTimePrekeyPublic { id: number, key: Uint8Array }

export interface PrekeyRecord {
  signingKey: Uint8Array
  seq: number
  expiresAt: number
  signedPrekey: SignedPrekeyPublic
  kemPrekey: SignedPrekeyPublic
  oneTimePrekeys: OneTimePrekeyPublic[]
  routing: Uint8Array
}

function u32 (n: number): Uint8Array { return new Writer().u32(n).finish() }
function u64 (n: number): Uint8Array { return new Writer().u64(n).finish() }

export function signedPrekeyMessage (id: number, key: Uint8Array, createdAt: number): Uint8Array {
  return concatBytes(CONTEXT.signedPrekey, u32(id), Uint8Array.of(KEY_TYPE.x25519), key, u64(createdAt))
}

export function kemPrekeyMessage (id: number, key: Uint8Array, createdAt: number): Uint8Array {
  return concatBytes(CONTEXT.kemPrekey, u32(id), Uint8Array.of(KEY_TYPE.mlkem1024), key, u64(createdAt))
}

function encodeUnsigned (r: Omit<PrekeyRecord, never>): Uint8Array {
  const w = new Writer().u8(RECORD_VERSION)
    .u8(KEY_TYPE.ed25519).bytes(r.signingKey)
    .u64(r.seq).u64(r.expiresAt)
    .u32(r.signedPrekey.id).u8(KEY_TYPE.x25519).bytes(r.signedPrekey.key).u64(r.signedPrekey.createdAt).bytes(r.signedPrekey.signature)
    .u32(r.kemPrekey.id).u8(KEY_TYPE.mlkem1024).bytes(r.kemPrekey.key).u64(r.kemPrekey.createdAt).bytes(r.kemPrekey.signature)
    .u16(r.oneTimePrekeys.length)
  for (const k of r.oneTimePrekeys) w.u32(k.id).u8(KEY_TYPE.x25519).bytes(k.key)
  return w.var16(r.routing).finish()
}

/** Serialises and signs a record with the identity key. */
export function encodeRecord (record: PrekeyRecord, signingSeed: Uint8Array): Uint8Array {
  if (record.oneTimePrekeys.length > MAX_ONE_TIME_PREKEYS || record.routing.length > MAX_ROUTING_BYTES) {
    throw new CryptoError('ERR_RECORD_TOO_LARGE', 'too many prekeys or too much routing data')
  }
  const body = encodeUnsigned(record)
  return concatBytes(body, sign(signingSeed, concatBytes(CONTEXT.record, body)))
}

function keyOfType (r: Reader, type: number, length: number): Uint8Array {
  if (r.u8() !== type) throw new CryptoError('ERR_KEY_TYPE', 'a key of the wrong type')
  return r.bytes(length)
}

/**
 * Parses and verifies a record for the Session ID it is filed under, in this order: size and
 * shape, the record signature, the identity key against the Session ID, expiry, both prekey
 * signatures (H1, H2), key sanity (H3), prekey age (H16). Any failure is a typed error and
 * nothing is derived from the record.
 */
export function parseRecord (bytes: Uint8Array, sessionId: SessionId, now: number): PrekeyRecord {
  if (bytes.length < 200 || bytes.length > 16 * 1024) throw new CryptoError('ERR_RECORD_SIZE', 'a prekey record of impossible size')
  const body = bytes.subarray(0, bytes.length - 64)
  const signature = bytes.subarray(bytes.length - 64)
  const r = new Reader(body, 'prekey record')
  const version = r.u8()
  if (version !== RECORD_VERSION) throw new CryptoError('ERR_UNKNOWN_VERSION', `prekey record version ${version} is not supported`)
  const signingKey = keyOfType(r, KEY_TYPE.ed25519, 32)
  const seq = r.u64()
  const expiresAt = r.u64()
  const signedPrekey = { id: r.u32(), key: keyOfType(r, KEY_TYPE.x25519, 32), createdAt: r.u64(), signature: r.bytes(64) }
  const kemPrekey = { id: r.u32(), key: keyOfType(r, KEY_TYPE.mlkem1024, KEM_PUBLIC_KEY_LENGTH), createdAt: r.u64(), signature: r.bytes(64) }
  const count = r.u16()
  if (count > MAX_ONE_TIME_PREKEYS) throw new CryptoError('ERR_RECORD_TOO_LARGE', 'too many one-time prekeys')
  const oneTimePrekeys: OneTimePrekeyPublic[] = []
  for (let i = 0; i < count; i++) oneTimePrekeys.push({ id: r.u32(), key: keyOfType(r, KEY_TYPE.x25519, 32) })
  const routing = r.var16(MAX_ROUTING_BYTES)
  r.end()
  if (!verify(signingKey, concatBytes(CONTEXT.record, body), signature)) throw new CryptoError('ERR_BAD_SIGNATURE', 'the prekey record signature is not valid')
  let dhIdentity: Uint8Array
  try {
    dhIdentity = ed25519ToX25519(signingKey)
  } catch {
    throw new CryptoError('ERR_BAD_KEY', 'the identity key is not a valid Ed25519 key')
  }
  if (!equalBytes(dhIdentity, sessionIdToX25519(sessionId))) throw new CryptoError('ERR_WRONG_IDENTITY', 'the record is signed by another identity than its Session ID')
  if (expiresAt <= now) throw new CryptoError('ERR_RECORD_EXPIRED', 'the prekey record has expired')
  if (!verify(signingKey, signedPrekeyMessage(signedPrekey.id, signedPrekey.key, signedPrekey.createdAt), signedPrekey.signature)) {
    throw new CryptoError('ERR_BAD_SIGNATURE', 'the signed prekey signature is not valid')
  }
  if (!verify(signingKey, kemPrekeyMessage(kemPrekey.id, kemPrekey.key, kemPrekey.createdAt), kemPrekey.signature)) {
    throw new CryptoError('ERR_BAD_SIGNATURE', 'the ML-KEM prekey signature is not valid')
  }
  for (const key of [signedPrekey.key, ...oneTimePrekeys.map((k) => k.key)]) {
    try { checkX25519PublicKey(key) } catch { throw new CryptoError('ERR_BAD_KEY', 'a prekey is not a usable X25519 key') }
  }
  if (now - signedPrekey.createdAt > SIGNED_PREKEY_MAX_AGE_MS) throw new CryptoError('ERR_PREKEY_TOO_OLD', 'the signed prekey is older than the rotation window')
  return { signingKey, seq, expiresAt, signedPrekey, kemPrekey, oneTimePrekeys, routing }
}

/** For the DHT selector: the sequence number of an already-verified record. */
export function recordSequence (bytes: Uint8Array): number {
  return new Reader(bytes.subarray(0, 42), 'prekey record').u8() === RECORD_VERSION
    ? Number(new DataView(bytes.buffer, bytes.byteOffset + 34, 8).getBigUint64(0))
    : -1
}

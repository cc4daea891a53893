/**
 * SecureStore over a RawKV: what reaches the disk is a keyed hash for every secret part of a
 * key, and XChaCha20-Poly1305 (crypto/primitives/xchacha.ts) for every value, with the
 * physical key as associated data so a value moved to another key fails to open (L3).
 *
 * Physical key = table (ASCII) 0x00, then per part: 0x01 + HMAC-SHA256(indexKey, table 0x00
 * part)[0..16) for strings, or 0x02 + u64 big-endian for numbers (kept ordered, not secret).
 * Value = 0x01 (format) || nonce (24) || ciphertext+tag.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, utf8 } from '../bytes.js'
import { xchachaOpen, xchachaSeal } from '../crypto/primitives/xchacha.js'
import { RecordIntegrityError, StoreFormatError } from './errors.js'
import { noncePool } from './nonce-pool.js'
import type { RawKV } from './raw.js'
import type { KeyPart, ListOptions, SecureStore, StoreKey, StoreOp } from './types.js'

const VALUE_FORMAT = 0x01
const NONCE_LENGTH = 24
const TAG_LENGTH = 16
const INDEX_HASH_LENGTH = 16
const TABLE_RE = /^[a-z][a-z0-9-]{0,31}$/
const ZERO = Buffer.of(0)
/** Smaller values are left to the garbage collector: they live in the young generation's churn anyway. */
const RELEASE_MIN_BYTES = 4096

interface StoreKeys { valueKey: Uint8Array, indexKey: Uint8Array }

/** Two independent subkeys from the data key: one seals values, one hashes identifiers. */
function splitDataKey (dataKey: Uint8Array): StoreKeys {
  return {
    valueKey: hkdf(sha256, dataKey, undefined, utf8('sotto/store/value/v1'), 32),
    indexKey: hkdf(sha256, dataKey, undefined, utf8('sotto/store/index/v1'), 32)
  }
}

export function createSealedStore (raw: RawKV, dataKey: Uint8Array): SecureStore {
  const { valueKey, indexKey } = splitDataKey(dataKey)
  // A KeyObject, made once: given raw bytes, every createHmac would first test them for being a
  // KeyObject or a CryptoKey by catching two exceptions, 4x the cost of the HMAC itself.
  // Node's key handle keeps its bytes in memory it clears when freed: close() drops the only
  // reference, so it goes with the next collection (the raw bytes are zeroed at once).
  let indexKeyObject: KeyObject | undefined = createSecretKey(indexKey)

  const encodePart = (table: string, part: KeyPart): Uint8Array => {
    if (typeof part === 'number') {
      if (!Number.isSafeInteger(part) || part < 0) throw new StoreFormatError('ERR_STORE_KEY', 'numeric key parts are non-negative integers')
      const out = new Uint8Array(9)
      out[0] = 0x02
      new DataView(out.buffer).setBigUint64(1, BigInt(part))
      return out
    }
    // node:crypto's HMAC: the same function as @noble/hashes' (test/store checks it), about 4x as fast on these short inputs.
    if (indexKeyObject === undefined) throw new StoreFormatError('ERR_STORE_CLOSED', 'the store is closed')
    const mac = createHmac('sha256', indexKeyObject).update(table).update(ZERO).update(part).digest()
    const out = new Uint8Array(1 + INDEX_HASH_LENGTH)
    out[0] = 0x01
    out.set(mac.subarray(0, INDEX_HASH_LENGTH), 1)
    return out
  }

  const encodeKey = (key: StoreKey | readonly [string]): Uint8Array => {
    const [table, ...parts] = key
    if (!TABLE_RE.test(table)) throw new StoreFormatError('ERR_STORE_KEY', `bad table name ${table}`)
    return concatBytes(utf8(table), Uint8Array.of(0), ...parts.map((p) => encodePart(table, p)))
  }

  const nonces = noncePool()
  const seal = (physicalKey: Uint8Array, value: Uint8Array): Uint8Array => {
    const nonce = nonces(NONCE_LENGTH)
    const ct = xchachaSeal(valueKey, nonce, value, physicalKey)
    const sealed = concatBytes(Uint8Array.of(VALUE_FORMAT), nonce, ct)
    release(ct)
    return sealed
  }

  const open = (physicalKey: Uint8Array, sealed: Uint8Array): Uint8Array => {
    if (sealed.length < 1 + NONCE_LENGTH + TAG_LENGTH || sealed[0] !== VALUE_FORMAT) throw new RecordIntegrityError()
    return xchachaOpen(valueKey, sealed.subarray(1, 1 + NONCE_LENGTH), sealed.subarray(1 + NONCE_LENGTH), physicalKey, () => new RecordIntegrityError())
  }

  const toRaw = (op: StoreOp) => {
    const key = encodeKey(op.key)
    return op.type === 'put' ? { type: 'put' as const, key, value: seal(key, op.value) } : { type: 'del' as const, key }
  }

  return {
    async get (key) {
      const physical = encodeKey(key)
      const sealed = await raw.get(physical)
      if (sealed === undefined) return undefined
      const value = open(physical, sealed)
      release(sealed)
      return value
    },
    async put (key, value) {
      await raw.batch([toRaw({ type: 'put', key, value })])
    },
    async del (key) {
      await raw.batch([toRaw({ type: 'del', key })])
    },
    async batch (ops) {
      const rawOps = ops.map(toRaw)
      await raw.batch(rawOps)
      // Sealed here and written (RawKV keeps no reference once a batch has landed).
      for (const op of rawOps) if (op.type === 'put') release(op.value)
    },
    async * list (prefix, options: ListOptions = {}) {
      const gte = encodeKey(prefix)
      // Every part starts with 0x01 or 0x02, so prefix || 0xff bounds exactly the keys under it.
      const lt = concatBytes(gte, Uint8Array.of(0xff))
      for await (const [key, sealed] of raw.entries({ gte, lt, limit: options.limit, reverse: options.reverse })) {
        yield open(key, sealed)
      }
    },
    async close () {
      valueKey.fill(0)
      indexKey.fill(0)
      indexKeyObject = undefined
      await raw.close()
    }
  }
}

/**
 * Frees a buffer this store made and alone holds (sealed values once written, values read
 * once opened) now, not at V8's next full collection: large values (64 KiB attachment
 * chunks) live outside the JS heap, and piled up until their size forced a full collection
 * (node/attachments/release.ts says more). Only an exact, unshared buffer is detached.
 */
function release (bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }
  if (bytes.byteLength < RELEASE_MIN_BYTES || bytes.byteOffset !== 0 || buffer.byteLength !== bytes.byteLength || typeof buffer.transfer !== 'function') return
  if (buffer instanceof ArrayBuffer) buffer.transfer(0)
}

/** JSON values for records whose shape is plain data. Bytes go through hex/base64 fields. */
export async function getJson<T> (store: SecureStore, key: StoreKey): Promise<T | undefined> {
  const bytes = await store.get(key)
  return bytes === undefined ? undefined : JSON.parse(new TextDecoder().decode(bytes)) as T
}

export function jsonValue (value: unknown): Uint8Array {
  return utf8(JSON.stringify(value))
}

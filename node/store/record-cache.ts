/**
 * A write-through cache of hot decrypted records over a SecureStore: contacts, profiles,
 * message rows and their indexes are read again and again while a conversation is busy (each
 * read an HMAC per key part, an AEAD open and a LevelDB round trip). What a batch wrote is
 * served from memory afterwards; reads of other records go to the store and are remembered.
 *
 * Correctness rests on two rules. A record is remembered from a batch only once the batch has
 * landed (a failed batch leaves nothing behind), and a read that was in flight when a write
 * to the same key began or landed is not remembered, so the cache never holds a value older
 * than the store's. Values are copied in and out: a
 * caller may wipe or reuse the bytes it got.
 *
 * Only the tables it is given, only small values, a bounded number of records (least recently
 * used go first), and close() empties it: it holds the unlocked account's working set, and
 * nothing once the account is locked.
 */
import type { SecureStore, StoreKey, StoreOp } from './types.js'

export interface RecordCacheLimits {
  /** Tables whose records are kept; others pass through. */
  tables: readonly string[]
  /** @default 4096 */
  maxRecords?: number
  /** Larger values are not kept. @default 16 KiB */
  maxValueBytes?: number
}

/** Records known to be absent are cached too (a lookup that found nothing), as this. */
const ABSENT = Symbol('absent')

export interface CachedStore extends SecureStore {
  /** Records kept now (for tests and figures). */
  readonly cachedRecords: number
  /** Forgets every record (zeroing the copies); close() does it too. */
  clear: () => void
}

export function withRecordCache (store: SecureStore, limits: RecordCacheLimits): CachedStore {
  const tables = new Set(limits.tables)
  const maxRecords = limits.maxRecords ?? 4096
  const maxValueBytes = limits.maxValueBytes ?? 16 * 1024
  const records = new Map<string, Uint8Array | typeof ABSENT>()
  /** Reads in flight per key, and whether a write to that key began or landed meanwhile. */
  const reading = new Map<string, { count: number, raced: boolean }>()
  const race = (id: string): void => { const r = reading.get(id); if (r !== undefined) r.raced = true }

  const idOf = (key: StoreKey): string | undefined => tables.has(key[0]) ? JSON.stringify(key) : undefined

  const remember = (id: string, value: Uint8Array | typeof ABSENT): void => {
    records.delete(id)
    if (value !== ABSENT && value.byteLength > maxValueBytes) return
    records.set(id, value === ABSENT ? ABSENT : value.slice())
    if (records.size > maxRecords) records.delete(records.keys().next().value as string)
  }

  const clear = (): void => {
    for (const v of records.values()) if (v !== ABSENT) v.fill(0)
    records.clear()
  }

  const batch = async (ops: readonly StoreOp[]): Promise<void> => {
    const ids = ops.map((op) => idOf(op.key))
    for (const id of ids) {
      if (id === undefined) continue
      // Not served while the write is in flight: a read now goes to the store, and is not kept.
      records.delete(id)
      race(id)
    }
    // Copies taken before the store sees the values (it may release its own buffers after writing).
    const values = ops.map((op, i) => ids[i] !== undefined && op.type === 'put' && op.value.byteLength <= maxValueBytes ? op.value.slice() : undefined)
    await store.batch(ops)
    // Later ops on the same key win, as in the store.
    ops.forEach((op, i) => {
      const id = ids[i]
      if (id === undefined) return
      race(id)
      if (op.type === 'del') remember(id, ABSENT)
      else if (values[i] !== undefined) remember(id, values[i] as Uint8Array)
      else records.delete(id)
    })
  }

  return {
    get cachedRecords () { return records.size },
    async get (key) {
      const id = idOf(key)
      if (id === undefined) return await store.get(key)
      const hit = records.get(id)
      if (hit !== undefined) {
        // Most recently used last.
        records.delete(id)
        records.set(id, hit)
        return hit === ABSENT ? undefined : hit.slice()
      }
      const r = reading.get(id) ?? { count: 0, raced: false }
      reading.set(id, r)
      r.count++
      try {
        const value = await store.get(key)
        if (!r.raced) remember(id, value ?? ABSENT)
        return value
      } finally {
        if (--r.count === 0) reading.delete(id)
      }
    },
    put: async (key, value) => { await batch([{ type: 'put', key, value }]) },
    del: async (key) => { await batch([{ type: 'del', key }]) },
    batch,
    list: (prefix, options) => store.list(prefix, options),
    clear,
    async close () {
      clear()
      await store.close()
    }
  }
}

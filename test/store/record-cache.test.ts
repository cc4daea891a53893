import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { utf8 } from '../../node/bytes.js'
import { openLevelKV } from '../../node/store/raw.js'
import { createSealedStore } from '../../node/store/sealed-store.js'
import { withRecordCache } from '../../node/store/record-cache.js'
import type { SecureStore, StoreKey, StoreOp } from '../../node/store/types.js'

const dirs: string[] = []
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

/** The real sealed store on LevelDB, with every get counted (what the cache saves) and writes that can be held back. */
async function realStore (): Promise<{ store: SecureStore, gets: () => number, holdWrites: () => () => void, holdReads: () => () => void, failNextWrite: () => void }> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-cache-'))
  dirs.push(dir)
  const sealed = createSealedStore(await openLevelKV(join(dir, 'db')), new Uint8Array(randomBytes(32)))
  let gets = 0
  let hold: Promise<void> | undefined
  let holdRead: Promise<void> | undefined
  let fail = false
  const store: SecureStore = {
    get: async (key) => {
      gets++
      const value = await sealed.get(key)
      if (holdRead !== undefined) await holdRead
      return value
    },
    put: async (key, value) => { await store.batch([{ type: 'put', key, value }]) },
    del: async (key) => { await store.batch([{ type: 'del', key }]) },
    batch: async (ops: readonly StoreOp[]) => {
      if (hold !== undefined) await hold
      if (fail) { fail = false; throw Object.assign(new Error('disk full'), { code: 'ERR_DISK' }) }
      await sealed.batch(ops)
    },
    list: (prefix, options) => sealed.list(prefix, options),
    close: async () => { await sealed.close() }
  }
  return {
    store,
    gets: () => gets,
    holdWrites: () => { let release = (): void => {}; hold = new Promise((resolve) => { release = () => { hold = undefined; resolve() } }); return release },
    holdReads: () => { let release = (): void => {}; holdRead = new Promise((resolve) => { release = () => { holdRead = undefined; resolve() } }); return release },
    failNextWrite: () => { fail = true }
  }
}

const text = (v: Uint8Array | undefined): string | undefined => v === undefined ? undefined : new TextDecoder().decode(v)
const C1: StoreKey = ['contact', 'alice']

describe('record cache', () => {
  it('serves what a batch wrote without reading the store, and copies in and out', async () => {
    const { store, gets } = await realStore()
    const cached = withRecordCache(store, { tables: ['contact'] })
    const value = utf8('v1')
    await cached.batch([{ type: 'put', key: C1, value }])
    value.fill(0)
    const got = await cached.get(C1)
    expect(text(got)).toBe('v1')
    ;(got as Uint8Array).fill(0)
    expect(text(await cached.get(C1))).toBe('v1')
    expect(gets()).toBe(0)
  })

  it('a read of a record it does not hold goes to the store once; absent records are remembered too', async () => {
    const { store, gets } = await realStore()
    await store.put(C1, utf8('on disk'))
    const cached = withRecordCache(store, { tables: ['contact'] })
    expect(text(await cached.get(C1))).toBe('on disk')
    expect(text(await cached.get(C1))).toBe('on disk')
    expect(await cached.get(['contact', 'nobody'])).toBeUndefined()
    expect(await cached.get(['contact', 'nobody'])).toBeUndefined()
    expect(gets()).toBe(2)
  })

  it('tables it was not given always go to the store', async () => {
    const { store, gets } = await realStore()
    const cached = withRecordCache(store, { tables: ['contact'] })
    await cached.put(['session', 'alice'], utf8('state'))
    expect(text(await cached.get(['session', 'alice']))).toBe('state')
    expect(text(await cached.get(['session', 'alice']))).toBe('state')
    expect(gets()).toBe(2)
  })

  it('a deleted record reads as absent; a failed batch leaves the cache as the store is', async () => {
    const { store, failNextWrite } = await realStore()
    const cached = withRecordCache(store, { tables: ['contact'] })
    await cached.put(C1, utf8('v1'))
    failNextWrite()
    await expect(cached.put(C1, utf8('v2'))).rejects.toMatchObject({ code: 'ERR_DISK' })
    expect(text(await cached.get(C1))).toBe('v1')
    await cached.del(C1)
    expect(await cached.get(C1)).toBeUndefined()
    expect(await store.get(C1)).toBeUndefined()
  })

  it('a read that was in flight while a write to the same key landed is not kept (no older value than the store\'s)', async () => {
    const { store, holdWrites } = await realStore()
    await store.put(C1, utf8('old'))
    const cached = withRecordCache(store, { tables: ['contact'] })
    const release = holdWrites()
    const writing = cached.put(C1, utf8('new'))
    // The write is held: a read now finds the old value in the store, and must not keep it.
    expect(text(await cached.get(C1))).toBe('old')
    release()
    await writing
    expect(text(await cached.get(C1))).toBe('new')
  })

  it('a read that found the old value and returns after a write landed does not replace the new value', async () => {
    const { store, holdReads } = await realStore()
    await store.put(C1, utf8('old'))
    const cached = withRecordCache(store, { tables: ['contact'] })
    const release = holdReads()
    const reading = cached.get(C1)
    await cached.put(C1, utf8('new'))
    release()
    expect(text(await reading)).toBe('old')
    expect(text(await cached.get(C1))).toBe('new')
  })

  it('keeps at most maxRecords (least recently used go first), skips large values, and clear() forgets everything', async () => {
    const { store, gets } = await realStore()
    const cached = withRecordCache(store, { tables: ['contact'], maxRecords: 3, maxValueBytes: 100 })
    for (const id of ['a', 'b', 'c', 'd']) await cached.put(['contact', id], utf8(id))
    expect(cached.cachedRecords).toBe(3)
    await cached.get(['contact', 'a'])
    expect(gets()).toBe(1)
    await cached.put(['contact', 'big'], new Uint8Array(101))
    await cached.get(['contact', 'big'])
    expect(gets()).toBe(2)
    cached.clear()
    expect(cached.cachedRecords).toBe(0)
    expect(text(await cached.get(['contact', 'd']))).toBe('d')
    expect(gets()).toBe(3)
  })
})

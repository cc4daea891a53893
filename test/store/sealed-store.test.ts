/** One suite, two raw layers: the level database on disk and the in-memory map. */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, describe, expect, it } from 'vitest'
import { createSealedStore, openLevelKV, openMemoryKV, RecordIntegrityError, type RawKV, type SecureStore } from '../../node/store/index.js'
import { utf8 } from '../../node/bytes.js'
import { tempDir } from '../helpers/cli.js'

const dirs: Array<{ remove: () => Promise<void> }> = []
afterAll(async () => { for (const d of dirs) await d.remove() })

const backends: Array<[string, () => Promise<RawKV>]> = [
  ['memory', async () => openMemoryKV()],
  ['level', async () => { const d = await tempDir(); dirs.push(d); return await openLevelKV(join(d.path, 'db')) }]
]

const text = (b: Uint8Array | undefined) => b === undefined ? undefined : new TextDecoder().decode(b)

describe.each(backends)('sealed store on %s', (_name, openRaw) => {
  async function open (): Promise<{ raw: RawKV, store: SecureStore }> {
    const raw = await openRaw()
    return { raw, store: createSealedStore(raw, new Uint8Array(randomBytes(32))) }
  }

  it('round-trips values, deletes them, and lists a prefix in numeric order', async () => {
    const { store } = await open()
    await store.put(['contact', '05aa'], utf8('alice'))
    expect(text(await store.get(['contact', '05aa']))).toBe('alice')
    expect(await store.get(['contact', '05bb'])).toBeUndefined()
    for (const n of [10, 2, 300, 1]) await store.put(['msg', 'conv-1', n], utf8(`m${n}`))
    await store.put(['msg', 'conv-2', 5], utf8('other'))
    const listed: string[] = []
    for await (const v of store.list(['msg', 'conv-1'])) listed.push(text(v)!)
    expect(listed).toEqual(['m1', 'm2', 'm10', 'm300'])
    const last: string[] = []
    for await (const v of store.list(['msg', 'conv-1'], { reverse: true, limit: 2 })) last.push(text(v)!)
    expect(last).toEqual(['m300', 'm10'])
    await store.del(['contact', '05aa'])
    expect(await store.get(['contact', '05aa'])).toBeUndefined()
    await store.close()
  })

  it('applies a batch all together', async () => {
    const { store } = await open()
    await store.batch([
      { type: 'put', key: ['session', 'x'], value: utf8('state-2') },
      { type: 'put', key: ['msg', 'x', 1], value: utf8('hello') },
      { type: 'del', key: ['outbox', 'x'] }
    ])
    expect(text(await store.get(['session', 'x']))).toBe('state-2')
    expect(text(await store.get(['msg', 'x', 1]))).toBe('hello')
    await store.close()
  })

  it('L3: a value moved to another key fails to open, and a flipped bit is caught', async () => {
    const { raw, store } = await open()
    await store.put(['contact', 'alice'], utf8('alice-data'))
    await store.put(['contact', 'bob'], utf8('bob-data'))
    const physical: Array<[Uint8Array, Uint8Array]> = []
    for await (const e of raw.entries({ gte: new Uint8Array([0]), lt: new Uint8Array([0xff]) })) physical.push(e)
    expect(physical).toHaveLength(2)
    // Swap the two sealed values on the raw layer.
    await raw.batch([{ type: 'put', key: physical[0][0], value: physical[1][1] }, { type: 'put', key: physical[1][0], value: physical[0][1] }])
    await expect(store.get(['contact', 'alice'])).rejects.toBeInstanceOf(RecordIntegrityError)
    await expect(store.get(['contact', 'bob'])).rejects.toBeInstanceOf(RecordIntegrityError)
    const flipped = Uint8Array.from(physical[0][1])
    flipped[flipped.length - 1] ^= 1
    await raw.batch([{ type: 'put', key: physical[0][0], value: flipped }])
    await expect(raw.get(physical[0][0]).then(async () => await store.get(['contact', 'alice']))).rejects.toBeInstanceOf(RecordIntegrityError)
    await store.close()
  })

  it('a physical key is the table, then per part 0x01 + HMAC-SHA256 (noble, as folders written before hold) or 0x02 + u64', async () => {
    const raw = await openRaw()
    const dataKey = new Uint8Array(randomBytes(32))
    const store = createSealedStore(raw, dataKey)
    await store.put(['blob', 'ab'.repeat(32), 7], utf8('x'))
    const keys: Uint8Array[] = []
    for await (const [k] of raw.entries({ gte: new Uint8Array([0]), lt: new Uint8Array([0xff]) })) keys.push(k)
    const indexKey = hkdf(sha256, dataKey, undefined, utf8('sotto/store/index/v1'), 32)
    const mac = hmac(sha256, indexKey, utf8('blob\u0000' + 'ab'.repeat(32))).subarray(0, 16)
    expect(Buffer.from(keys[0]).toString('hex')).toBe(Buffer.concat([Buffer.from('blob\u0000'), Buffer.of(1), mac, Buffer.of(2, 0, 0, 0, 0, 0, 0, 0, 7)]).toString('hex'))
    await store.close()
  })

  it('keys on disk reveal no identifier, values no plaintext', async () => {
    const { raw, store } = await open()
    const sessionId = '05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72'
    await store.put(['contact', sessionId], utf8(`{"name":"Bob","id":"${sessionId}"}`))
    for await (const [k, v] of raw.entries({ gte: new Uint8Array([0]), lt: new Uint8Array([0xff]) })) {
      const all = Buffer.concat([k, v]).toString('latin1')
      expect(all).not.toContain(sessionId)
      expect(all).not.toContain(sessionId.slice(2, 20))
      expect(all).not.toContain('Bob')
    }
    await store.close()
  })
})

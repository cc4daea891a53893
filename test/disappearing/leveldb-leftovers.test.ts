/**
 * The measurement behind "deletion that holds on disk" (docs/THREAT-MODEL.md): LevelDB keeps
 * a deleted value in its files (the write-ahead log, or a table file) until a compaction
 * rewrites them. Compacting the table's key range (store/compaction.ts) after the delete
 * removes a value that was already in a table file; one written and deleted while both sat in
 * the memtable survives that (the flush puts both into a lowest-level table, which a manual
 * compaction never rewrites), so the node compacts before the delete too. Measured on the
 * real level store in a temporary folder, with a plaintext marker (raw KV) and with a sealed
 * record's own ciphertext (the sealed store, as the account uses it).
 */
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { utf8 } from '../../node/bytes.js'
import { compactTables, tableRange } from '../../node/store/compaction.js'
import { openLevelKV, type RawKV } from '../../node/store/raw.js'
import { createSealedStore } from '../../node/store/sealed-store.js'
import { tempDir } from '../helpers/cli.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

/** Every file of the folder whose bytes contain the needle (names only). */
async function filesWith (dir: string, needle: Uint8Array): Promise<string[]> {
  const out: string[] = []
  for (const name of await readdir(dir)) {
    if ((await readFile(join(dir, name))).includes(Buffer.from(needle))) out.push(name)
  }
  return out
}

async function levelIn (): Promise<{ dir: string, raw: RawKV }> {
  const parent = await tempDir('sotto-leftovers-')
  const dir = join(parent.path, 'db')
  const raw = await openLevelKV(dir)
  cleanups.push(async () => { await raw.close(); await parent.remove() })
  return { dir, raw }
}

describe('what LevelDB keeps of a deleted value', () => {
  it('L5: a value still in the write-ahead log: found after the delete; one compaction after it is not enough; one before and one after remove it', async () => {
    const { dir, raw } = await levelIn()
    const { gte } = tableRange('msg')
    const marker = utf8(`MARKER-WAL-${randomBytes(8).toString('hex')}`)
    const key = new Uint8Array([...gte, 1, 2, 3])
    await raw.batch([{ type: 'put', key, value: marker }])
    await raw.batch([{ type: 'del', key }])
    expect(await raw.get(key)).toBeUndefined()
    expect((await filesWith(dir, marker)).some((f) => f.endsWith('.log'))).toBe(true)
    // The flush writes value and tombstone together into a table file on the lowest level
    // that holds the range, and a manual compaction never rewrites the lowest level's files.
    await compactTables(raw, ['msg'])
    expect((await filesWith(dir, marker)).some((f) => f.endsWith('.ldb'))).toBe(true)

    // What the node does: compact before the delete, so the delete merges down onto the value.
    const second = utf8(`MARKER-WAL2-${randomBytes(8).toString('hex')}`)
    const key2 = new Uint8Array([...gte, 4, 5, 6])
    await raw.batch([{ type: 'put', key: key2, value: second }])
    await compactTables(raw, ['msg'])
    await raw.batch([{ type: 'del', key: key2 }])
    expect((await filesWith(dir, second)).length).toBeGreaterThan(0)
    await compactTables(raw, ['msg'])
    expect(await filesWith(dir, second)).toEqual([])
  })

  it('a value already in a table file: found after the delete, gone after compacting its range', async () => {
    const { dir, raw } = await levelIn()
    const marker = utf8(`MARKER-SST-${randomBytes(8).toString('hex')}`)
    const { gte } = tableRange('msg')
    const key = new Uint8Array([...gte, 9])
    await raw.batch([{ type: 'put', key, value: marker }])
    // Written out to a table file, as an older record would be.
    await compactTables(raw, ['msg'])
    expect((await filesWith(dir, marker)).some((f) => f.endsWith('.ldb'))).toBe(true)
    await raw.batch([{ type: 'del', key }])
    expect((await filesWith(dir, marker)).length).toBeGreaterThan(0)
    await compactTables(raw, ['msg'])
    expect(await filesWith(dir, marker)).toEqual([])
  })

  it('a sealed record\'s own ciphertext (what a data-key holder could open) stays after the delete and leaves the files with the compactions', async () => {
    const { dir, raw } = await levelIn()
    const store = createSealedStore(raw, new Uint8Array(randomBytes(32)))
    await store.put(['msg', 'peer', 1], utf8('MARKER-SEALED'))
    const [[, sealed]] = await (async () => { const all: Array<[Uint8Array, Uint8Array]> = []; for await (const e of raw.entries(tableRange('msg'))) all.push(e); return all })()
    const needle = sealed.subarray(sealed.length - 32)
    expect(await filesWith(dir, utf8('MARKER-SEALED'))).toEqual([])
    expect((await filesWith(dir, needle)).length).toBeGreaterThan(0)
    await compactTables(raw, ['msg'])
    await store.del(['msg', 'peer', 1])
    expect((await filesWith(dir, needle)).length).toBeGreaterThan(0)
    await compactTables(raw, ['msg'])
    expect(await filesWith(dir, needle)).toEqual([])
  })
})

/**
 * The raw key-value layer under the encrypted store: bytes in, bytes out, atomic batches,
 * ordered range reads. Two implementations share one test suite: level on disk, and a
 * sorted in-memory map for tests and benchmarks that do not need a disk.
 */
import { chmod, readdir, stat } from 'node:fs/promises'
import { platform } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { ensurePrivateDir } from './data-dir.js'
import { groupCommit } from './group-commit.js'

export type RawOp =
  | { type: 'put', key: Uint8Array, value: Uint8Array }
  | { type: 'del', key: Uint8Array }

export interface RawRange { gte: Uint8Array, lt: Uint8Array, limit?: number, reverse?: boolean }

export interface RawKV {
  get: (key: Uint8Array) => Promise<Uint8Array | undefined>
  batch: (ops: readonly RawOp[]) => Promise<void>
  entries: (range: RawRange) => AsyncIterable<[Uint8Array, Uint8Array]>
  /**
   * Rewrites the files holding keys in [gte, lt), so values deleted there leave the log and
   * table files (LevelDB keeps them until a compaction). A no-op where nothing is on disk.
   */
  compactRange?: (gte: Uint8Array, lt: Uint8Array) => Promise<void>
  close: () => Promise<void>
}

/**
 * LevelDB makes its folder and files with the process umask (0755/0644 as a rule) and has
 * no option for it. The folder is created 0700 before LevelDB sees it, and the files are
 * made 0600 after opening (a folder from an older version included) and after closing,
 * for files LevelDB started meanwhile (C2). `sotto` itself runs with umask 077, so there
 * those are private from the start.
 */
export async function openLevelKV (path: string): Promise<RawKV> {
  await ensurePrivateDir(path)
  const db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  await makeFilesPrivate(path)
  // One LevelDB WriteBatch per write: the write-ahead log makes it all-or-nothing across
  // crashes. Batches that come while one is being written go together in the next.
  const writes = groupCommit<RawOp>(async (ops) => {
    await db.batch(ops.map((op) => op.type === 'put'
      ? { type: 'put' as const, key: op.key, value: op.value }
      : { type: 'del' as const, key: op.key }))
  }, (op) => op.key.byteLength + (op.type === 'put' ? op.value.byteLength : 0))
  return {
    async get (key) {
      return await db.get(key) ?? undefined
    },
    async batch (ops) {
      await writes.write(ops)
    },
    async * entries (range) {
      for await (const [key, value] of db.iterator({ gte: range.gte, lt: range.lt, limit: range.limit ?? -1, reverse: range.reverse ?? false })) {
        yield [key, value]
      }
    },
    async compactRange (gte, lt) {
      // LevelDB first writes the memtable to a table (its log file is then deleted), then
      // merges the tables overlapping the range, dropping deleted and overwritten values.
      // `level` types its Level without compactRange; the classic-level binding under it has it.
      await (db as unknown as { compactRange: (start: Uint8Array, end: Uint8Array) => Promise<void> }).compactRange(gte, lt)
      await makeFilesPrivate(path)
    },
    async close () {
      await writes.idle()
      await db.close()
      await makeFilesPrivate(path)
    }
  }
}

/** chmod 0600 every file of a folder that others could read; files gone meanwhile are skipped. */
async function makeFilesPrivate (dir: string): Promise<void> {
  if (platform() === 'win32') return
  for (const name of await readdir(dir)) {
    const file = join(dir, name)
    try {
      const s = await stat(file)
      if (s.isFile() && (s.mode & 0o077) !== 0) await chmod(file, 0o600)
    } catch (err) {
      // LevelDB deletes obsolete logs and tables as it goes.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

export function openMemoryKV (): RawKV {
  const map = new Map<string, Uint8Array>()
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
  return {
    async get (key) {
      const v = map.get(hex(key))
      return v === undefined ? undefined : Uint8Array.from(v)
    },
    async batch (ops) {
      for (const op of ops) {
        if (op.type === 'put') map.set(hex(op.key), Uint8Array.from(op.value))
        else map.delete(hex(op.key))
      }
    },
    async * entries (range) {
      // Hex of bytes sorts like the bytes themselves.
      const lo = hex(range.gte)
      const hi = hex(range.lt)
      let keys = [...map.keys()].filter((k) => k >= lo && k < hi).sort()
      if (range.reverse === true) keys = keys.reverse()
      if (range.limit !== undefined && range.limit >= 0) keys = keys.slice(0, range.limit)
      for (const k of keys) {
        const v = map.get(k)
        if (v !== undefined) yield [new Uint8Array(Buffer.from(k, 'hex')), Uint8Array.from(v)]
      }
    },
    async compactRange () {},
    async close () {}
  }
}

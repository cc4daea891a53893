/**
 * Compaction by table: after records are deleted for good (disappearing messages), the
 * LevelDB files that still hold their old values are rewritten. A table's records share the
 * physical prefix `table 0x00` (sealed-store.ts), which is not secret, so the range can be
 * named without the index key.
 */
import { concatBytes, utf8 } from '../bytes.js'
import type { RawKV } from './raw.js'

/** [gte, lt) covering every physical key of a table. */
export function tableRange (table: string): { gte: Uint8Array, lt: Uint8Array } {
  return { gte: concatBytes(utf8(table), Uint8Array.of(0)), lt: concatBytes(utf8(table), Uint8Array.of(1)) }
}

/** Compacts the given tables' ranges one after another (LevelDB runs one manual compaction at a time). */
export async function compactTables (raw: RawKV, tables: Iterable<string>): Promise<void> {
  if (raw.compactRange === undefined) return
  for (const table of new Set(tables)) {
    const { gte, lt } = tableRange(table)
    await raw.compactRange(gte, lt)
  }
}

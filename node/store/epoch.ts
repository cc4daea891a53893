/**
 * A monotonic counter of the store's writes, kept in the store itself: every batch also puts
 * `['epoch', n]` with the next n, so the highest n present is the number of the last batch
 * that landed (batches are atomic, also across a crash). Copied with the data folder, it says
 * how recent a copy is; compared with a number kept outside the folder
 * (node/account/rollback-guard.ts), it shows a folder restored from an older copy (L7).
 *
 * Each batch carries its own key (n), so batches that land out of order never lower the
 * highest one; older keys are pruned when the store is opened. The store also gets a random
 * instance id on first use: copies of one folder share it, a fresh restore from the phrase
 * does not.
 */
import { randomBytes } from 'node:crypto'
import type { SecureStore, StoreOp } from './types.js'

const EPOCH_TABLE = 'epoch'
const INSTANCE_KEY = ['meta', 'instance'] as const

function u64 (n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}
function readU64 (b: Uint8Array): number {
  return b.length === 8 ? Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0)) : 0
}

export interface EpochStore extends SecureStore {
  /** The number of the last batch written through this store (or found at open). */
  readonly epoch: number
  /** Random bytes naming this store's lineage: shared by copies, new for a fresh account. */
  readonly instanceId: Uint8Array
  /** Moves the counter to at least `n` (one batch), so a known later number is not seen as ahead again. */
  advanceTo: (n: number) => Promise<void>
  /** Called after each batch landed, with its number. */
  onCommitted: (listener: ((epoch: number) => void) | undefined) => void
}

export async function withEpoch (store: SecureStore): Promise<EpochStore> {
  const found: number[] = []
  for await (const v of store.list([EPOCH_TABLE])) found.push(readU64(v))
  let next = Math.max(0, ...found)
  let committed = next
  const stale = found.filter((n) => n !== next)
  let instance = await store.get(INSTANCE_KEY)
  const init: StoreOp[] = stale.map((n) => ({ type: 'del', key: [EPOCH_TABLE, n] }))
  if (instance === undefined) {
    instance = new Uint8Array(randomBytes(16))
    init.push({ type: 'put', key: INSTANCE_KEY, value: instance })
  }
  if (init.length > 0) await store.batch(init)
  let listener: ((epoch: number) => void) | undefined

  const batch = async (ops: readonly StoreOp[]): Promise<void> => {
    const n = ++next
    await store.batch([...ops, { type: 'put', key: [EPOCH_TABLE, n], value: u64(n) }, ...(n > 1 ? [{ type: 'del' as const, key: [EPOCH_TABLE, n - 1] as const }] : [])])
    committed = Math.max(committed, n)
    listener?.(committed)
  }

  return {
    get epoch () { return committed },
    instanceId: instance,
    get: async (key) => await store.get(key),
    put: async (key, value) => { await batch([{ type: 'put', key, value }]) },
    del: async (key) => { await batch([{ type: 'del', key }]) },
    batch,
    list: (prefix, options) => store.list(prefix, options),
    close: async () => { await store.close() },
    async advanceTo (n) {
      if (n <= next) return
      next = n - 1
      await batch([])
    },
    onCommitted (l) { listener = l }
  }
}

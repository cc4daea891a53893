/**
 * Group commit: batches that arrive while a write is in progress are written together, as one
 * batch, once it is done. A LevelDB write costs about the same for one op as for fifty (one
 * trip to the binding's thread and one append to the write-ahead log), so a node busy with
 * many conversations writes a handful of times per burst instead of once per message.
 *
 * Each caller's ops stay all-or-nothing (they are inside one atomic batch), land in call order
 * (a later put of a key wins, as if written one after the other), and its promise resolves
 * only once the batch holding them is written; a failed write rejects every caller in it.
 */

export interface GroupCommitLimits {
  /** Ops in one combined write; a caller's own batch is never split. @default 4096 */
  maxOps?: number
  /** Bytes of keys and values in one combined write. @default 8 MiB */
  maxBytes?: number
}

interface Waiting<Op> { ops: readonly Op[], bytes: number, resolve: () => void, reject: (err: unknown) => void }

export interface GroupCommit<Op> {
  /** Resolves once `ops` are written (together with whatever came meanwhile). */
  write: (ops: readonly Op[]) => Promise<void>
  /** Resolves once nothing is queued or being written (before closing the database). */
  idle: () => Promise<void>
}

export function groupCommit<Op> (write: (ops: Op[]) => Promise<void>, sizeOf: (op: Op) => number, limits: GroupCommitLimits = {}): GroupCommit<Op> {
  const maxOps = limits.maxOps ?? 4096
  const maxBytes = limits.maxBytes ?? 8 * 1024 * 1024
  const queue: Array<Waiting<Op>> = []
  let draining: Promise<void> | undefined

  const drain = async (): Promise<void> => {
    try {
      while (queue.length > 0) {
        // Whole callers only, up to the limits (always at least one).
        const group: Array<Waiting<Op>> = [queue.shift() as Waiting<Op>]
        let ops = group[0].ops.length
        let bytes = group[0].bytes
        while (queue.length > 0 && ops + queue[0].ops.length <= maxOps && bytes + queue[0].bytes <= maxBytes) {
          const next = queue.shift() as Waiting<Op>
          ops += next.ops.length
          bytes += next.bytes
          group.push(next)
        }
        try {
          await write(group.length === 1 ? [...group[0].ops] : group.flatMap((g) => g.ops))
          for (const g of group) g.resolve()
        } catch (err) {
          for (const g of group) g.reject(err)
        }
      }
    } finally {
      draining = undefined
    }
  }

  return {
    async write (ops) {
      if (ops.length === 0) return
      const done = new Promise<void>((resolve, reject) => {
        queue.push({ ops, bytes: ops.reduce((n, op) => n + sizeOf(op), 0), resolve, reject })
      })
      draining ??= drain()
      await done
    },
    async idle () {
      while (draining !== undefined) await draining
    }
  }
}

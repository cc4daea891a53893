/** Shared helpers for the benchmarks: percentiles, sustained throughput, printing. */

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i]
}

export function median (values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

/** Runs `op` until at least `minMs` of wall time passed; returns operations per second. */
export async function sustained (op: () => Promise<void> | void, minMs: number, maxOps = 10_000_000): Promise<number> {
  const start = performance.now()
  let n = 0
  while (n < maxOps) {
    await op()
    n++
    if ((n & 7) === 0 && performance.now() - start >= minMs) break
  }
  return n / ((performance.now() - start) / 1000)
}

export function wantsJson (): boolean {
  return process.argv.includes('--json')
}

export function fmt (n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : 'n/a'
}

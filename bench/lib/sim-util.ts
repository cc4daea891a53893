/** Small helpers of the scale harness: a seeded random source, bounded concurrency, loopback counters. */
import { readFileSync } from 'node:fs'

/** A seeded LCG, as the churn soak uses: the same seed picks the same users, victims and pairs. */
export function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

export function shuffle<T> (items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

/** Runs `task` over `items` with at most `limit` at a time; results in the items' order. */
export async function mapLimit<T, R> (items: readonly T[], limit: number, task: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await task(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return out
}

/** Bytes received + sent on the loopback interface (/proc/net/dev), or NaN where there is none. */
export function loopbackBytes (): number {
  try {
    for (const line of readFileSync('/proc/net/dev', 'utf8').split('\n')) {
      const m = /^\s*lo:\s*(.*)$/.exec(line)
      if (m === null) continue
      const f = m[1].trim().split(/\s+/).map(Number)
      return f[0] + f[8]
    }
  } catch { /* not Linux */ }
  return NaN
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

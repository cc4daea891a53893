/**
 * A token bucket per key (a peer): `perSecond` tokens refill up to `burst`. Bounded: beyond
 * `maxKeys` the least recently seen key is forgotten (it starts again with a full bucket,
 * which costs an attacker a new key per burst, and keys are PeerIds with a connection).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  constructor (private readonly now: () => number, private readonly perSecond: number, private readonly burst: number, private readonly maxKeys = 10_000) {}

  /** Takes one token for `key`; false when its bucket is empty. */
  take (key: string): boolean {
    const t = this.now()
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t }
    b.tokens = Math.min(this.burst, b.tokens + (t - b.at) / 1000 * this.perSecond)
    b.at = t
    this.buckets.delete(key)
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string)
    this.buckets.set(key, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}

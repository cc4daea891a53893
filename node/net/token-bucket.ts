/**
 * A token bucket per key (a peer): `perSecond` tokens refill up to `burst`. Bounded: beyond
 * `maxKeys` the least recently seen key is forgotten (it starts again with a full bucket,
 * which costs an attacker a new key per burst, and keys are PeerIds with a connection).
 */
import { SottoError } from '../errors.js'

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  constructor (private readonly now: () => number, private readonly perSecond: number, private readonly burst: number, private readonly maxKeys = 10_000) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new SottoError('ERR_BAD_RATE', 'a rate needs perSecond > 0 and burst >= 1')
  }

  /** Takes one token for `key`: 0 when it got one, else the milliseconds until one is back. */
  wait (key: string): number {
    const b = this.refill(key)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil((1 - b.tokens) * 1000 / this.perSecond)
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take (key: string): boolean {
    return this.wait(key) === 0
  }

  /**
   * Takes `tokens` more for `key` whatever is left: a cost learnt only after the work was
   * done (a refused envelope). The bucket may go below zero, so the debt is paid from the
   * refill before the key is served again; at most `burst` deep, so the debt stays bounded.
   */
  charge (key: string, tokens: number): void {
    const b = this.refill(key)
    b.tokens = Math.max(-this.burst, b.tokens - tokens)
  }

  private refill (key: string): { tokens: number, at: number } {
    const t = this.now()
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t }
    b.tokens = Math.min(this.burst, b.tokens + Math.max(0, t - b.at) * this.perSecond / 1000)
    b.at = t
    // Most recently seen last, so the first is the one to forget.
    this.buckets.delete(key)
    this.buckets.set(key, b)
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string)
    return b
  }
}

import { describe, expect, it } from 'vitest'
import { noncePool } from '../../node/store/nonce-pool.js'

describe('nonce pool', () => {
  it('hands out every byte once: 20,000 nonces across many refills are all distinct and none is all zero', () => {
    const next = noncePool(1000)
    const seen = new Set<string>()
    for (let i = 0; i < 20_000; i++) {
      const n = next(24)
      expect(n).toHaveLength(24)
      expect(n.some((b) => b !== 0)).toBe(true)
      seen.add(Buffer.from(n).toString('hex'))
    }
    expect(seen.size).toBe(20_000)
  })

  it('a nonce is a copy: drawing more (a refill) does not change one already handed out', () => {
    const next = noncePool(48)
    const first = next(24)
    const copy = first.slice()
    next(24)
    next(24)
    next(24)
    expect(first).toEqual(copy)
    expect(next(100)).toHaveLength(100)
  })
})

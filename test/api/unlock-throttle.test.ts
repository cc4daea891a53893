import { describe, expect, it } from 'vitest'
import { UnlockThrottle } from '../../node/account/unlock-throttle.js'

describe('unlock throttle', () => {
  it('L2/A7: repeated wrong passphrases wait longer and longer, up to a cap; a success resets', () => {
    let t = 0
    const throttle = new UnlockThrottle(() => t)
    throttle.check()
    const waits: number[] = []
    for (let i = 0; i < 8; i++) {
      throttle.failed()
      try { throttle.check(); waits.push(0) } catch (e) { waits.push((e as { retryAfterMs: number }).retryAfterMs) }
      t += waits[i]
      throttle.check()
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
    throttle.failed()
    expect(() => throttle.check()).toThrow(expect.objectContaining({ code: 'ERR_UNLOCK_THROTTLED' }))
    t += 60_000
    throttle.succeeded()
    throttle.failed()
    expect(() => throttle.check()).toThrow(expect.objectContaining({ retryAfterMs: 1000 }))
  })
})

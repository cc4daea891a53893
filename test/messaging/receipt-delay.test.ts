import { describe, expect, it } from 'vitest'
import { seededRandom, systemRandom } from '../../node/crypto/random.js'
import { receiptDelayMs, RECEIPT_DELAY_MAX_MS, RECEIPT_DELAY_MIN_MS } from '../../node/messaging/receipt-delay.js'

describe('receipt delay', () => {
  it('E5: receipt delays are neither immediate nor deterministic', () => {
    const delays = Array.from({ length: 200 }, () => receiptDelayMs(systemRandom))
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(RECEIPT_DELAY_MIN_MS)
    expect(Math.max(...delays)).toBeLessThanOrEqual(RECEIPT_DELAY_MAX_MS)
    expect(new Set(delays).size).toBeGreaterThan(100)
    const seeded = seededRandom('e5')
    expect(receiptDelayMs(seeded)).not.toBe(receiptDelayMs(seeded))
    expect(() => receiptDelayMs(systemRandom, 10, 5)).toThrow(expect.objectContaining({ code: 'ERR_BAD_DELAY' }))
  })
})

/**
 * E5: delivery receipts are sealed envelopes like any message, and they leave after a random
 * delay, not at once: an immediate, deterministic receipt is a timing oracle that links a
 * sealed sender to its recipient (Martiny et al., NDSS 2021). The network/messaging layer
 * schedules a receipt `receiptDelayMs(random)` ms after the message was committed.
 */
import { RECEIPT_DELAY_MAX_MS, RECEIPT_DELAY_MIN_MS } from './constants.js'
import { randomInt, systemRandom, type RandomSource } from './random.js'

/** A uniform delay in [min, max] ms (defaults: constants.RECEIPT_DELAY_MIN_MS..MAX_MS). */
export function receiptDelayMs (random: RandomSource = systemRandom, min = RECEIPT_DELAY_MIN_MS, max = RECEIPT_DELAY_MAX_MS): number {
  if (!(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min >= 0 && max >= min)) throw new RangeError('bad receipt delay bounds')
  return min + randomInt(random, max - min + 1)
}

/**
 * E5: delivery and read receipts are sealed envelopes like any message, and they leave after
 * a random delay, not at once: an immediate, deterministic receipt is a timing oracle that
 * links a sealed sender to its recipient (Martiny et al., NDSS 2021). The messenger schedules
 * a receipt `receiptDelayMs(random)` ms after the message was committed.
 */
import { randomInt, systemRandom, type RandomSource } from '../crypto/random.js'
import { MessagingError } from './errors.js'

/** Receipts leave after a uniform random delay in [min, max] ms. */
export const RECEIPT_DELAY_MIN_MS = 2_000
export const RECEIPT_DELAY_MAX_MS = 30_000

/** A uniform delay in [min, max] ms. */
export function receiptDelayMs (random: RandomSource = systemRandom, min = RECEIPT_DELAY_MIN_MS, max = RECEIPT_DELAY_MAX_MS): number {
  if (!(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min >= 0 && max >= min)) throw new MessagingError('ERR_BAD_DELAY', 'receipt delay bounds must be integers with 0 <= min <= max')
  return min + randomInt(random, max - min + 1)
}

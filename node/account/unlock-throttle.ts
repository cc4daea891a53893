/**
 * Slows repeated wrong passphrases at the running node (L2, A7): after n failures in a row,
 * the next attempt waits min(2^(n-1) s, 60 s). scrypt already costs ~0.5 s per guess; this
 * keeps a script on localhost from running guesses back to back. Memory only: a restart
 * resets it, which costs an attacker a restart (visible to the user) per few guesses.
 */
import { SottoError } from '../errors.js'

export const UNLOCK_BASE_DELAY_MS = 1000
export const UNLOCK_MAX_DELAY_MS = 60_000

export class UnlockThrottledError extends SottoError {
  readonly retryAfterMs: number
  constructor (retryAfterMs: number) {
    super('ERR_UNLOCK_THROTTLED', `too many wrong passphrases; try again in ${Math.ceil(retryAfterMs / 1000)} s`)
    this.retryAfterMs = retryAfterMs
  }
}

export class UnlockThrottle {
  private failures = 0
  private notBefore = 0

  constructor (private readonly now: () => number = Date.now) {}

  /** Throws UnlockThrottledError while an attempt is not yet allowed. */
  check (): void {
    const wait = this.notBefore - this.now()
    if (wait > 0) throw new UnlockThrottledError(wait)
  }

  failed (): void {
    this.failures++
    this.notBefore = this.now() + Math.min(UNLOCK_BASE_DELAY_MS * 2 ** (this.failures - 1), UNLOCK_MAX_DELAY_MS)
  }

  succeeded (): void {
    this.failures = 0
    this.notBefore = 0
  }
}

/**
 * Slows repeated wrong passphrases at the running node (L2, A7): after n failures in a row,
 * the next attempt waits min(2^(n-1) s, 60 s). scrypt already costs ~0.5 s per guess; this
 * keeps a script on localhost from running guesses back to back. Memory only: a restart
 * resets it, which costs an attacker a restart (visible to the user) per few guesses.
 *
 * One attempt at a time: an attempt is counted as a failure when it begins, before its key
 * derivation runs, and any other attempt while it runs is refused (ERR_UNLOCK_BUSY), so
 * guesses fired in parallel get one derivation between them, not one each.
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

export class UnlockBusyError extends SottoError {
  readonly retryAfterMs: number
  constructor (retryAfterMs: number) {
    super('ERR_UNLOCK_BUSY', `another unlock attempt is running; try again in ${Math.ceil(retryAfterMs / 1000)} s`)
    this.retryAfterMs = retryAfterMs
  }
}

/** One attempt, begun by UnlockThrottle.begin; exactly one of its methods ends it. */
export interface UnlockAttempt {
  /** The passphrase was right: the count starts again. */
  succeeded: () => void
  /** The passphrase was wrong: the attempt stays counted, and the wait runs from now. */
  failed: () => void
  /** Ended for another reason (no account, unreadable key file): as if it never began. */
  abandoned: () => void
}

export class UnlockThrottle {
  private failures = 0
  private notBefore = 0
  private running = false

  constructor (private readonly now: () => number = Date.now) {}

  /**
   * Starts an attempt, counted as failed until it ends otherwise. Throws UnlockBusyError
   * while another attempt runs, UnlockThrottledError while the wait is not over.
   */
  begin (): UnlockAttempt {
    // While an attempt runs its failure is already counted: its wait is the one to name.
    if (this.running) throw new UnlockBusyError(Math.max(this.notBefore - this.now(), UNLOCK_BASE_DELAY_MS))
    const wait = this.notBefore - this.now()
    if (wait > 0) throw new UnlockThrottledError(wait)
    const before = { failures: this.failures, notBefore: this.notBefore }
    this.running = true
    this.failures++
    this.notBefore = this.now() + this.delay()
    let ended = false
    const end = (): boolean => {
      if (ended) return false
      ended = true
      this.running = false
      return true
    }
    return {
      succeeded: () => {
        if (!end()) return
        this.failures = 0
        this.notBefore = 0
      },
      failed: () => {
        if (!end()) return
        this.notBefore = this.now() + this.delay()
      },
      abandoned: () => {
        if (!end()) return
        this.failures = before.failures
        this.notBefore = before.notBefore
      }
    }
  }

  private delay (): number {
    return Math.min(UNLOCK_BASE_DELAY_MS * 2 ** (this.failures - 1), UNLOCK_MAX_DELAY_MS)
  }
}

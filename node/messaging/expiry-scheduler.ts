/**
 * One timer for every disappearing message: it holds only the next expiry time and, when it
 * comes, runs the sweep, which says when the next one is. The clock and the timer functions
 * are passed in (tests drive them); the sweep itself is the messenger's (Messenger.expireDue).
 */

/** The longest single wait: setTimeout's limit is about 24.8 days, and a wake-up now and then costs nothing. */
export const MAX_WAIT_MS = 24 * 60 * 60 * 1000

export interface ExpirySchedulerInit {
  now: () => number
  /** Deletes what is due and resolves with the next expiry time, if any. */
  sweep: () => Promise<number | undefined>
  onError?: (err: unknown) => void
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (handle: unknown) => void
}

export class ExpiryScheduler {
  private handle: unknown
  private nextAt: number | undefined
  private running = false
  private again = false
  private stopped = true
  private readonly setTimer: (fn: () => void, ms: number) => unknown
  private readonly clearTimer: (handle: unknown) => void

  constructor (private readonly init: ExpirySchedulerInit) {
    this.setTimer = init.setTimer ?? ((fn, ms) => { const t = setTimeout(fn, ms); t.unref(); return t })
    this.clearTimer = init.clearTimer ?? ((h) => { clearTimeout(h as NodeJS.Timeout) })
  }

  /** Starts with the next expiry time the store holds (the messenger swept before). */
  start (next: number | undefined): void {
    this.stopped = false
    if (next !== undefined) this.wake(next)
  }

  /** A message will expire at `at`: the timer moves earlier if it has to. */
  wake (at: number): void {
    if (this.stopped) return
    if (this.nextAt !== undefined && this.nextAt <= at) return
    this.arm(at)
  }

  stop (): void {
    this.stopped = true
    if (this.handle !== undefined) this.clearTimer(this.handle)
    this.handle = undefined
    this.nextAt = undefined
  }

  private arm (at: number): void {
    if (this.handle !== undefined) this.clearTimer(this.handle)
    this.nextAt = at
    const wait = Math.min(Math.max(0, at - this.init.now()), MAX_WAIT_MS)
    this.handle = this.setTimer(() => { void this.fire() }, wait)
  }

  private async fire (): Promise<void> {
    this.handle = undefined
    this.nextAt = undefined
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = true
    let next: number | undefined
    try {
      next = await this.init.sweep()
    } catch (err) {
      this.init.onError?.(err)
      // Try again a little later rather than never.
      next = this.init.now() + 1000
    } finally {
      this.running = false
    }
    if (this.again) { this.again = false; next = this.init.now() }
    if (next !== undefined) this.wake(next)
  }
}

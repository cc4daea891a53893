/**
 * The disappearing-message timer of a 1:1 conversation (docs/PROTOCOL.md §12): its shape, the
 * user's change checked, and the rule that makes both ends agree without a server. Each change
 * gets a Lamport version (max seen + 1); of two changes with the same version, the one with
 * the larger (changedAt, then author Session ID) wins. Both ends apply the same rule to the
 * same pair, so changes made at once while one side was offline end up equal on both.
 */
import type { SessionId } from '../identity/session-id.js'
import { MessagingError } from './errors.js'

export type TimerMode = 'off' | 'after-send' | 'after-read'

/** The longest timer: one week (the longest choice the UI offers). */
export const MAX_TIMER_SECONDS = 7 * 24 * 60 * 60

export interface TimerSetting {
  mode: TimerMode
  /** 0 when off, else 1..MAX_TIMER_SECONDS. */
  seconds: number
  /** Lamport counter: 0 while never set. */
  version: number
  /** When the change was made, by its author's clock (ms). 0 while never set. */
  changedAt: number
  /** Who made the change (our Session ID or the contact's); null while never set. */
  changedBy: SessionId | null
}

/** What a message was sent under: only the two modes that make it disappear. */
export interface MessageTimer { mode: 'after-send' | 'after-read', seconds: number }

export const TIMER_OFF: TimerSetting = Object.freeze({ mode: 'off', seconds: 0, version: 0, changedAt: 0, changedBy: null }) as TimerSetting

/** A timer change as the user asks for it: `{ mode, seconds }`, or MessagingError ERR_TIMER. */
export function parseTimerChange (body: unknown): { mode: TimerMode, seconds: number } {
  const raw = typeof body === 'object' && body !== null && !Array.isArray(body) ? body as Record<string, unknown> : undefined
  const mode = raw?.mode
  if (mode !== 'off' && mode !== 'after-send' && mode !== 'after-read') throw new MessagingError('ERR_TIMER', 'mode is "off", "after-send" or "after-read"')
  const seconds = raw?.seconds
  if (mode === 'off') {
    if (seconds !== undefined && seconds !== 0) throw new MessagingError('ERR_TIMER', 'a timer that is off has 0 seconds')
    return { mode, seconds: 0 }
  }
  if (!checkSeconds(seconds)) throw new MessagingError('ERR_TIMER', `seconds is a whole number from 1 to ${MAX_TIMER_SECONDS}`)
  return { mode, seconds }
}

export function checkSeconds (seconds: unknown): seconds is number {
  return typeof seconds === 'number' && Number.isSafeInteger(seconds) && seconds >= 1 && seconds <= MAX_TIMER_SECONDS
}

/** Whether mode and seconds go together (what a peer sends is checked with this too). */
export function validTimer (mode: unknown, seconds: unknown): mode is TimerMode {
  if (mode === 'off') return seconds === 0
  return (mode === 'after-send' || mode === 'after-read') && checkSeconds(seconds)
}

/**
 * True when `candidate` should replace `current`: a higher version, or the same version with a
 * later changedAt, or the same both with the larger author Session ID (compared as bytes: the
 * IDs are lower-case hex of equal length, so string order is byte order).
 */
export function timerWins (candidate: Pick<TimerSetting, 'version' | 'changedAt' | 'changedBy'>, current: Pick<TimerSetting, 'version' | 'changedAt' | 'changedBy'>): boolean {
  if (candidate.version !== current.version) return candidate.version > current.version
  if (candidate.changedAt !== current.changedAt) return candidate.changedAt > current.changedAt
  return (candidate.changedBy ?? '') > (current.changedBy ?? '')
}

/** Our own change: the next Lamport version after everything seen (the contact's setting holds the highest). */
export function ownChange (current: TimerSetting, change: { mode: TimerMode, seconds: number }, self: SessionId, now: number): TimerSetting {
  return { mode: change.mode, seconds: change.seconds, version: current.version + 1, changedAt: now, changedBy: self }
}

/** The timer a message sent now carries, or undefined when the conversation has none running. */
export function messageTimerOf (setting: TimerSetting): MessageTimer | undefined {
  return setting.mode === 'off' ? undefined : { mode: setting.mode, seconds: setting.seconds }
}

/**
 * Disappearing messages on the command line: `sotto contacts timer CONTACT 5m [--after-read]`
 * turned into the body of PUT /api/contacts/:id/timer, and a timer turned back into words.
 * Pure, so the rules are tested as tables (test/cli/timer-args.test.ts). The node keeps the
 * timer and enforces it; this module knows nothing of expiry itself.
 */
import { CliError, EXIT_USAGE } from './errors.js'
import { safeForTerminal } from './terminal-text.js'
import { count } from './wording.js'

export type TimerMode = 'off' | 'after-send' | 'after-read'

/** What PUT /api/contacts/:id/timer takes. */
export interface TimerSetting { mode: TimerMode, seconds: number }

/** A contact's timer as the API describes it (docs/API.md, Contacts). */
export interface ContactTimer extends TimerSetting { version: number, changedAt: number, changedBy: string | null }

/**
 * The range a timer may take (issue 17). The web UI offers 30 s to 1 week; the CLI takes any
 * whole number of seconds in the range, so scripts and tests can use 2 s.
 */
export const MIN_TIMER_SECONDS = 1
export const MAX_TIMER_SECONDS = 7 * 24 * 3600

/** Units a duration is written in, largest first (durationWords picks the largest that fits). */
const UNITS = [
  { suffix: 'w', seconds: 604_800, word: 'week' },
  { suffix: 'd', seconds: 86_400, word: 'day' },
  { suffix: 'h', seconds: 3_600, word: 'hour' },
  { suffix: 'm', seconds: 60, word: 'minute' },
  { suffix: 's', seconds: 1, word: 'second' }
] as const

export const TIMER_USAGE = 'usage: sotto contacts timer CONTACT DURATION|off [--after-read] (DURATION: 30s, 5m, 1h, 1d, 1w…)'

/** A timer argument the CLI refuses before asking the node; exit 1 like every usage error. */
export class TimerArgumentError extends CliError {
  constructor (readonly code: 'ERR_TIMER_DURATION' | 'ERR_TIMER_USAGE', message: string) {
    super(message, EXIT_USAGE)
    this.name = 'TimerArgumentError'
  }
}

/** "30s", "5m", "1h", "1d", "1w", or any `<n><unit>` from 1 second to 1 week: the seconds. */
export function parseDuration (text: string): number {
  const match = /^(\d{1,7})([smhdw])$/.exec(text.trim().toLowerCase())
  const shown = safeForTerminal(text)
  if (match === null) throw new TimerArgumentError('ERR_TIMER_DURATION', `"${shown}" is not a duration: write a number and a unit, as in 30s, 5m, 1h, 1d or 1w (or "off")`)
  const unit = UNITS.find((u) => u.suffix === match[2])
  const seconds = Number(match[1]) * (unit?.seconds ?? 1)
  if (seconds < MIN_TIMER_SECONDS || seconds > MAX_TIMER_SECONDS) {
    throw new TimerArgumentError('ERR_TIMER_DURATION', `"${shown}" is out of range: a timer lasts from 1 second to 1 week`)
  }
  return seconds
}

/**
 * The arguments after `contacts timer`: exactly CONTACT and DURATION (or "off"); the clock
 * starts at sending unless --after-read.
 */
export function parseTimerArgs (args: readonly string[], flags: { 'after-read'?: unknown, 'after-send'?: unknown }): { contact: string, setting: TimerSetting } {
  if (args.length !== 2 || args[0].trim() === '') throw new TimerArgumentError('ERR_TIMER_USAGE', TIMER_USAGE)
  const [contact, duration] = args
  const afterRead = flags['after-read'] === true
  const afterSend = flags['after-send'] === true
  if (afterRead && afterSend) throw new TimerArgumentError('ERR_TIMER_USAGE', 'choose one of --after-read and --after-send')
  if (duration.trim().toLowerCase() === 'off') {
    if (afterRead || afterSend) throw new TimerArgumentError('ERR_TIMER_USAGE', `"off" takes no --${afterRead ? 'after-read' : 'after-send'}`)
    return { contact, setting: { mode: 'off', seconds: 0 } }
  }
  return { contact, setting: { mode: afterRead ? 'after-read' : 'after-send', seconds: parseDuration(duration) } }
}

/** "5 minutes", "1 week", "90 minutes", "2 seconds": the largest unit that divides it. */
export function durationWords (seconds: number): string {
  const unit = UNITS.find((u) => seconds >= u.seconds && seconds % u.seconds === 0) ?? UNITS[UNITS.length - 1]
  return count(seconds / unit.seconds, unit.word)
}

/** What `sotto contacts timer` prints: the setting the node now holds, as a sentence. */
export function timerSentence (name: string, timer: TimerSetting): string {
  const who = safeForTerminal(name)
  if (timer.mode === 'off' || timer.seconds <= 0) return `Messages with ${who} no longer disappear.`
  return `Messages with ${who} now disappear ${durationWords(timer.seconds)} after ${timer.mode === 'after-read' ? 'reading' : 'sending'}.`
}

/**
 * Time left, short, for a line of `sotto inbox`: "45 s", "4 min", "3 h", "2 days". Rounded
 * up, so a message still there never says 0.
 */
export function timeLeft (ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.ceil(s / 60)} min`
  if (s < 2 * 86_400) return `${Math.ceil(s / 3600)} h`
  return `${Math.ceil(s / 86_400)} days`
}

/**
 * The mark `sotto inbox` puts after a disappearing message: the time left once the clock
 * runs ("⏱ 4 min"), or, for burn-on-read not yet read, how long it lasts once read. Empty for
 * a message without a timer.
 */
export function inboxMark (m: { expiresAt?: number, timer?: TimerSetting }, now: number): string {
  if (typeof m.expiresAt === 'number') return `⏱ ${timeLeft(m.expiresAt - now)}`
  if (m.timer !== undefined && m.timer.mode !== 'off' && m.timer.seconds > 0) {
    // Without expiresAt the clock has not started: the node starts it at the first read.
    return `⏱ ${timeLeft(m.timer.seconds * 1000)}${m.timer.mode === 'after-read' ? ' once read' : ''}`
  }
  return ''
}

/** What `sotto groups timer` prints: the group's setting the node now holds, as a sentence. */
export function groupTimerSentence (name: string, timer: TimerSetting): string {
  const group = safeForTerminal(name)
  if (timer.mode === 'off' || timer.seconds <= 0) return `Messages in ${group} no longer disappear.`
  return `Messages in ${group} now disappear ${durationWords(timer.seconds)} after ${timer.mode === 'after-read' ? 'reading' : 'sending'}.`
}

// Disappearing messages in words: the timer's choices, its durations, the line a timer change
// leaves in the conversation, and the countdown on a message. No DOM and no store, so the
// words are tested without a browser (test/browser/disappearing.test.ts). The node keeps and
// enforces the timer; the page only shows it.

/** The choices the timer control offers (issue 17), in seconds; 0 is off. */
export const TIMER_CHOICES = [0, 30, 300, 3600, 86_400, 604_800]

/** The range a timer may take: the same as the CLI's (cli/timer.ts). */
export const MIN_TIMER_SECONDS = 1
export const MAX_TIMER_SECONDS = 604_800

/** Units, largest first: a duration is said in the largest one that divides it. */
export const TIMER_UNITS = [
  { seconds: 604_800, one: 'week', short: 'w' },
  { seconds: 86_400, one: 'day', short: 'd' },
  { seconds: 3600, one: 'hour', short: 'h' },
  { seconds: 60, one: 'minute', short: 'min' },
  { seconds: 1, one: 'second', short: 's' }
]

function count (n, one) { return `${n} ${n === 1 ? one : `${one}s`}` }

/** The largest unit that divides `seconds`, and how many of it. */
export function splitDuration (seconds) {
  const unit = TIMER_UNITS.find((u) => seconds >= u.seconds && seconds % u.seconds === 0) ?? TIMER_UNITS[TIMER_UNITS.length - 1]
  return { amount: seconds / unit.seconds, unit }
}

/** "30 seconds", "5 minutes", "1 week", "90 minutes". */
export function durationWords (seconds) {
  const { amount, unit } = splitDuration(seconds)
  return count(amount, unit.one)
}

/** "30 s", "5 min", "1 h", "1 d", "1 w": for the header, where room is short. */
export function durationShort (seconds) {
  const { amount, unit } = splitDuration(seconds)
  return `${amount} ${unit.short}`
}

/** Whether a timer (as the API gives it, maybe missing) makes messages disappear. */
export function timerOn (timer) {
  return timer !== undefined && timer !== null && timer.mode !== 'off' && Number(timer.seconds) > 0
}

export function modeWords (mode) {
  return mode === 'after-read' ? 'after reading' : 'after sending'
}

/** "5 minutes after reading", or "Off". */
export function timerWords (timer) {
  return timerOn(timer) ? `${durationWords(timer.seconds)} ${modeWords(timer.mode)}` : 'Off'
}

/**
 * The line a timer change leaves in the conversation, without its time: "You set disappearing
 * messages to 5 minutes (after reading)", "Bob turned off disappearing messages".
 */
export function timerChangeText (event, who) {
  if (!timerOn(event)) return `${who} turned off disappearing messages`
  return `${who} set disappearing messages to ${durationWords(event.seconds)} (${modeWords(event.mode)})`
}

/** The same change for the conversation list, where nobody is named. */
export function timerChangeSummary (event) {
  if (!timerOn(event)) return 'Disappearing messages turned off'
  return `Disappearing messages: ${durationWords(event.seconds)} (${modeWords(event.mode)})`
}

/** Whether a message is a timer change rather than something someone wrote. */
export function isTimerEvent (m) {
  return m?.event?.type === 'timer'
}

/**
 * The countdown on a message: "45 s", "4 min", "3 h", "2 d". Rounded up, so a message that
 * is still there never says 0.
 */
export function timeLeft (ms) {
  const s = Math.max(1, Math.ceil(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.ceil(s / 60)} min`
  if (s < 2 * 86_400) return `${Math.ceil(s / 3600)} h`
  return `${Math.ceil(s / 86_400)} d`
}

/** The same in words, for screen readers: "disappears in 4 minutes". */
export function timeLeftWords (ms) {
  const s = Math.max(1, Math.ceil(ms / 1000))
  if (s < 60) return `disappears in ${count(s, 'second')}`
  if (s < 3600) return `disappears in ${count(Math.ceil(s / 60), 'minute')}`
  if (s < 2 * 86_400) return `disappears in ${count(Math.ceil(s / 3600), 'hour')}`
  return `disappears in ${count(Math.ceil(s / 86_400), 'day')}`
}

/** Whether a message's time is up at `now` (the node deletes it; the page need not wait). */
export function expired (m, now = Date.now()) {
  return typeof m?.expiresAt === 'number' && m.expiresAt <= now
}

/**
 * A custom duration from the control's amount and unit: the seconds, or an error in words
 * when it is not a whole number or falls outside 1 second to 1 week.
 */
export function customSeconds (amount, unitSeconds) {
  const n = Number(amount)
  if (String(amount).trim() === '' || !Number.isInteger(n) || n < 1) return { error: 'Write a whole number, 1 or more.' }
  const seconds = n * unitSeconds
  if (seconds < MIN_TIMER_SECONDS || seconds > MAX_TIMER_SECONDS) return { error: 'A timer lasts from 1 second to 1 week.' }
  return { seconds }
}

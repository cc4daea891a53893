/**
 * `sotto contacts timer`: its arguments and its words as tables (cli/timer.ts is pure), then
 * the command itself, in this process through run(), for what it refuses before it asks any
 * node: one line on stderr, exit 1, the same as every other usage error.
 */
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { run } from '../../cli/main.js'
import { CliError } from '../../cli/errors.js'
import type { CliIO } from '../../cli/io.js'
import {
  durationWords, inboxMark, MAX_TIMER_SECONDS, parseDuration, parseTimerArgs, timeLeft, TimerArgumentError, timerSentence
} from '../../cli/timer.js'

/** Runs `sotto ARGS` in this process; answers the exit code and what it printed. */
async function sotto (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let o = ''
  let e = ''
  stdout.on('data', (d: Buffer) => { o += d.toString() })
  stderr.on('data', (d: Buffer) => { e += d.toString() })
  const io: CliIO = { stdin: new PassThrough(), stdout, stderr, env: {} }
  const code = await run(args, io)
  return { code, stdout: o, stderr: e }
}

describe('timer durations', () => {
  it.each([
    ['30s', 30], ['5m', 300], ['1h', 3600], ['1d', 86_400], ['1w', 604_800],
    ['2s', 2], ['1s', 1], ['90m', 5400], ['7d', 604_800], ['10080m', 604_800], ['168h', 604_800], ['5M', 300], [' 5m ', 300]
  ])('%j is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds)
  })

  it.each([
    ['5', /not a duration/], ['m', /not a duration/], ['5 m', /not a duration/], ['5min', /not a duration/], ['-5m', /not a duration/],
    ['1.5h', /not a duration/], ['', /not a duration/], ['5y', /not a duration/],
    ['0s', /out of range/], ['8d', /out of range/], ['2w', /out of range/], ['604801s', /out of range/]
  ])('%j is refused: %s', (text, message) => {
    const e = (() => { try { parseDuration(text); return undefined } catch (err) { return err } })()
    expect(e).toBeInstanceOf(TimerArgumentError)
    expect((e as TimerArgumentError).code).toBe('ERR_TIMER_DURATION')
    expect((e as TimerArgumentError).exitCode).toBe(1)
    expect((e as Error).message).toMatch(message)
  })

  it('a terminal escape in a refused duration is not echoed', () => {
    expect(() => parseDuration('\u001b]0;pwned\u00075m')).toThrow(/^"5m" is not a duration/)
  })

  it('the longest timer is one week', () => {
    expect(MAX_TIMER_SECONDS).toBe(604_800)
  })
})

describe('timer arguments', () => {
  it.each([
    [['Bob', '5m'], {}, { contact: 'Bob', setting: { mode: 'after-send', seconds: 300 } }],
    [['Bob', '5m'], { 'after-read': true }, { contact: 'Bob', setting: { mode: 'after-read', seconds: 300 } }],
    [['Bob', '1h'], { 'after-send': true }, { contact: 'Bob', setting: { mode: 'after-send', seconds: 3600 } }],
    [['Bob', 'off'], {}, { contact: 'Bob', setting: { mode: 'off', seconds: 0 } }],
    [['Bob', 'OFF'], {}, { contact: 'Bob', setting: { mode: 'off', seconds: 0 } }],
    [['05' + 'ab'.repeat(32), '2s'], { 'after-read': false }, { contact: '05' + 'ab'.repeat(32), setting: { mode: 'after-send', seconds: 2 } }]
  ])('%j %j', (args, flags, expected) => {
    expect(parseTimerArgs(args, flags)).toEqual(expected)
  })

  it.each([
    [[], {}, /^usage: sotto contacts timer CONTACT DURATION\|off/],
    [['Bob'], {}, /^usage:/],
    [['Bob', '5m', 'extra'], {}, /^usage:/],
    [['', '5m'], {}, /^usage:/],
    [['Bob', '5m'], { 'after-read': true, 'after-send': true }, /one of --after-read and --after-send/],
    [['Bob', 'off'], { 'after-read': true }, /"off" takes no --after-read/]
  ])('%j %j is refused', (args, flags, message) => {
    expect(() => parseTimerArgs(args, flags)).toThrow(TimerArgumentError)
    expect(() => parseTimerArgs(args, flags)).toThrow(message)
  })
})

describe('timer words', () => {
  it.each([
    [1, '1 second'], [2, '2 seconds'], [30, '30 seconds'], [60, '1 minute'], [300, '5 minutes'], [5400, '90 minutes'],
    [3600, '1 hour'], [86_400, '1 day'], [172_800, '2 days'], [604_800, '1 week'], [90, '90 seconds']
  ])('durationWords(%i) is %j', (seconds, words) => {
    expect(durationWords(seconds)).toBe(words)
  })

  it.each([
    [{ mode: 'after-read', seconds: 300 }, 'Messages with Bob now disappear 5 minutes after reading.'],
    [{ mode: 'after-send', seconds: 604_800 }, 'Messages with Bob now disappear 1 week after sending.'],
    [{ mode: 'off', seconds: 0 }, 'Messages with Bob no longer disappear.']
  ] as const)('%j in words', (timer, sentence) => {
    expect(timerSentence('Bob', timer)).toBe(sentence)
  })

  it.each([
    [500, '1 s'], [1000, '1 s'], [45_000, '45 s'], [59_500, '1 min'], [60_000, '1 min'], [240_000, '4 min'], [239_000, '4 min'],
    [3_600_000, '1 h'], [3 * 3_600_000, '3 h'], [2 * 86_400_000, '2 days'], [0, '1 s'], [-5000, '1 s']
  ])('timeLeft(%i) is %j', (ms, text) => {
    expect(timeLeft(ms)).toBe(text)
  })

  it('the inbox marks a message whose clock runs, one that waits to be read, and nothing else', () => {
    const now = 1_000_000
    expect(inboxMark({ expiresAt: now + 4 * 60_000, timer: { mode: 'after-send', seconds: 300 } }, now)).toBe('⏱ 4 min')
    expect(inboxMark({ timer: { mode: 'after-read', seconds: 300 } }, now)).toBe('⏱ 5 min once read')
    expect(inboxMark({ timer: { mode: 'off', seconds: 0 } }, now)).toBe('')
    expect(inboxMark({}, now)).toBe('')
  })
})

describe('sotto contacts timer refuses before it asks the node', () => {
  it.each([
    [['Bob', '5x'], /^sotto: "5x" is not a duration/],
    [['Bob', '8d'], /^sotto: "8d" is out of range: a timer lasts from 1 second to 1 week$/],
    [['Bob'], /^sotto: usage: sotto contacts timer/],
    [['Bob', 'off', '--after-read'], /^sotto: "off" takes no --after-read$/]
  ])('sotto contacts timer %j: one line, exit 1, no node needed', async (args, message) => {
    // No node runs for this folder: the error is about the arguments, not "no node is running".
    const r = await sotto('contacts', 'timer', ...args, '--data-dir', '/nonexistent/sotto-timer-test')
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stderr.trimEnd()).toMatch(message)
  })

  it('with good arguments it goes on to the node, which here is not running (exit 2)', async () => {
    const r = await sotto('contacts', 'timer', 'Bob', '5m', '--after-read', '--data-dir', '/nonexistent/sotto-timer-test')
    expect(r.code).toBe(2)
    expect(r.stderr.trimEnd()).toMatch(/^sotto: no Sotto node is running/)
  })

  it('TimerArgumentError is a CliError the CLI prints as one line', () => {
    expect(new TimerArgumentError('ERR_TIMER_DURATION', 'x')).toBeInstanceOf(CliError)
  })

  it('contacts --help lists the timer', async () => {
    const r = await sotto('contacts', '--help')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('sotto contacts timer CONTACT DURATION [--after-read]')
    expect(r.stdout).toContain('sotto contacts timer CONTACT off')
  })
})

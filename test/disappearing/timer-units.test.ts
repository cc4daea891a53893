/**
 * The parts of disappearing messages that need no network: the timer payload parsed strictly,
 * the convergence rule as a table, the user's change checked, the scheduler driven by an
 * injected clock and timer, and the short-lived key file (sealed, rewritten, forgetting).
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodePayload, encodePayload } from '../../node/messaging/payload.js'
import { parseTimerChange, timerWins, MAX_TIMER_SECONDS, type TimerSetting } from '../../node/messaging/timer.js'
import { ExpiryScheduler } from '../../node/messaging/expiry-scheduler.js'
import { EphemeralKeys, memoryKeyStore } from '../../node/store/ephemeral-keys.js'

const bytes = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))
const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

describe('the timer payload', () => {
  it('round-trips a change and a text carrying its setting', () => {
    const change = { v: 1, t: 'timer', mode: 'after-read', seconds: 300, version: 4, changedAt: 1_700_000_000_000 } as const
    expect(decodePayload(encodePayload(change))).toEqual(change)
    const text = { v: 1, t: 'text', id: 'a'.repeat(32), sentAt: 5, text: 'hi', timer: { mode: 'after-send', seconds: 30, version: 2 } } as const
    expect(decodePayload(encodePayload(text))).toEqual(text)
    // "off" travels too (a receiver behind on the setting learns the newer version).
    expect(decodePayload(bytes({ ...text, timer: { mode: 'off', seconds: 0, version: 3 } }))).toMatchObject({ timer: { mode: 'off', seconds: 0, version: 3 } })
  })

  it.each([
    ['an unknown mode', { mode: 'after-lunch', seconds: 30, version: 1, changedAt: 1 }],
    ['0 seconds with a running mode', { mode: 'after-send', seconds: 0, version: 1, changedAt: 1 }],
    ['more than a week', { mode: 'after-send', seconds: MAX_TIMER_SECONDS + 1, version: 1, changedAt: 1 }],
    ['fractional seconds', { mode: 'after-send', seconds: 1.5, version: 1, changedAt: 1 }],
    ['seconds with "off"', { mode: 'off', seconds: 30, version: 1, changedAt: 1 }],
    ['version 0', { mode: 'off', seconds: 0, version: 0, changedAt: 1 }],
    ['a string version', { mode: 'off', seconds: 0, version: '2', changedAt: 1 }],
    ['no changedAt', { mode: 'off', seconds: 0, version: 2 }],
    ['a negative changedAt', { mode: 'off', seconds: 0, version: 2, changedAt: -1 }]
  ])('refuses a timer change with %s (ERR_PAYLOAD)', (_what, fields) => {
    expect(codeOf(() => decodePayload(bytes({ v: 1, t: 'timer', ...fields })))).toBe('ERR_PAYLOAD')
  })

  it('refuses a text whose timer is malformed (ERR_PAYLOAD)', () => {
    const text = { v: 1, t: 'text', id: 'a'.repeat(32), sentAt: 5, text: 'hi' }
    for (const timer of [null, [], 'after-send', { mode: 'after-send', seconds: 30 }, { mode: 'after-send', seconds: -1, version: 1 }, { mode: 'x', seconds: 30, version: 1 }]) {
      expect(codeOf(() => decodePayload(bytes({ ...text, timer })))).toBe('ERR_PAYLOAD')
    }
  })
})

describe('the convergence rule', () => {
  const A = '05' + 'a'.repeat(64)
  const B = '05' + 'b'.repeat(64)
  const t = (version: number, changedAt: number, changedBy: string | null): Pick<TimerSetting, 'version' | 'changedAt' | 'changedBy'> => ({ version, changedAt, changedBy: changedBy as TimerSetting['changedBy'] })

  it.each([
    ['a higher version wins, even if older', t(3, 10, A), t(2, 99, B), true],
    ['a lower version loses', t(2, 99, B), t(3, 10, A), false],
    ['same version: the later change wins', t(2, 20, A), t(2, 10, B), true],
    ['same version: the earlier change loses', t(2, 10, B), t(2, 20, A), false],
    ['same version and time: the larger Session ID wins', t(2, 10, B), t(2, 10, A), true],
    ['same version and time: the smaller Session ID loses', t(2, 10, A), t(2, 10, B), false],
    ['the same change does not replace itself', t(2, 10, A), t(2, 10, A), false],
    ['any change beats never set', t(1, 0, A), t(0, 0, null), true]
  ])('X2: %s', (_what, candidate, current, wins) => {
    expect(timerWins(candidate, current)).toBe(wins)
    // Both ends apply the same rule to the same pair: exactly one of two different changes wins.
    if (JSON.stringify(candidate) !== JSON.stringify(current)) expect(timerWins(current, candidate)).toBe(!wins)
  })
})

describe('the user\'s change', () => {
  it('takes off, after-send and after-read with 1 s to a week', () => {
    expect(parseTimerChange({ mode: 'off' })).toEqual({ mode: 'off', seconds: 0 })
    expect(parseTimerChange({ mode: 'off', seconds: 0 })).toEqual({ mode: 'off', seconds: 0 })
    expect(parseTimerChange({ mode: 'after-send', seconds: 1 })).toEqual({ mode: 'after-send', seconds: 1 })
    expect(parseTimerChange({ mode: 'after-read', seconds: MAX_TIMER_SECONDS })).toEqual({ mode: 'after-read', seconds: MAX_TIMER_SECONDS })
  })

  it.each([
    [undefined], [null], ['5m'], [[]], [{}], [{ mode: 'never' }], [{ mode: 'after-send' }], [{ mode: 'after-send', seconds: 0 }],
    [{ mode: 'after-send', seconds: '30' }], [{ mode: 'after-read', seconds: MAX_TIMER_SECONDS + 1 }], [{ mode: 'off', seconds: 30 }], [{ mode: 'after-send', seconds: 2.5 }]
  ])('refuses %j with ERR_TIMER', (body) => {
    expect(codeOf(() => parseTimerChange(body))).toBe('ERR_TIMER')
  })
})

describe('the expiry scheduler', () => {
  /** A clock and a timer queue the test moves by hand. */
  function manualTime (): { now: () => number, advance: (ms: number) => Promise<void>, pending: () => number, setTimer: (fn: () => void, ms: number) => unknown, clearTimer: (h: unknown) => void } {
    let t = 1_000_000
    const timers = new Map<number, { at: number, fn: () => void }>()
    let next = 0
    return {
      now: () => t,
      pending: () => timers.size,
      setTimer: (fn, ms) => { const id = ++next; timers.set(id, { at: t + ms, fn }); return id },
      clearTimer: (h) => { timers.delete(h as number) },
      async advance (ms) {
        t += ms
        for (const [id, timer] of [...timers].sort((x, y) => x[1].at - y[1].at)) {
          if (timer.at > t) continue
          timers.delete(id)
          timer.fn()
          // Let the sweep's promise settle before the next timer.
          for (let i = 0; i < 10; i++) await Promise.resolve()
        }
      }
    }
  }

  it('holds one timer for the soonest expiry and sweeps when it comes, then waits for the next', async () => {
    const time = manualTime()
    const expiries = [time.now() + 5_000, time.now() + 2_000, time.now() + 9_000]
    const swept: number[] = []
    const scheduler = new ExpiryScheduler({
      now: time.now,
      setTimer: time.setTimer,
      clearTimer: time.clearTimer,
      sweep: async () => {
        swept.push(time.now())
        const left = expiries.filter((at) => at > time.now())
        return left.length === 0 ? undefined : Math.min(...left)
      }
    })
    scheduler.start(expiries[0])
    scheduler.wake(expiries[1])
    scheduler.wake(expiries[2])
    expect(time.pending()).toBe(1)
    await time.advance(1_999)
    expect(swept).toHaveLength(0)
    await time.advance(1)
    expect(swept).toEqual([expiries[1]])
    await time.advance(3_000)
    expect(swept).toEqual([expiries[1], expiries[0]])
    await time.advance(4_000)
    expect(swept).toHaveLength(3)
    expect(time.pending()).toBe(0)
    scheduler.stop()
  })

  it('arms nothing after stop()', () => {
    const time = manualTime()
    const scheduler = new ExpiryScheduler({ now: time.now, setTimer: time.setTimer, clearTimer: time.clearTimer, sweep: async () => undefined })
    scheduler.start(time.now() + 10)
    scheduler.stop()
    scheduler.wake(time.now() + 5)
    expect(time.pending()).toBe(0)
  })
})

describe('short-lived keys', () => {
  it('open what they sealed until the bucket is dropped; the file keeps the keys sealed and forgets dropped ones', async () => {
    const file = memoryKeyStore()
    const wrap = new Uint8Array(randomBytes(32))
    const keys = await EphemeralKeys.open(file, wrap)
    const sealed = keys.seal('h100', new TextEncoder().encode('MARKER-one'), 'msg-row')
    const other = keys.seal('h101', new TextEncoder().encode('MARKER-two'), 'msg-row')
    await keys.flush()
    const onDisk = await file.load()
    expect(Buffer.from(onDisk as Uint8Array).includes('MARKER')).toBe(false)
    // Another opening of the same file (a restart) reads the same keys.
    const again = await EphemeralKeys.open(file, wrap)
    expect(new TextDecoder().decode(again.open(sealed, 'msg-row'))).toBe('MARKER-one')
    // Bound to its purpose: the same sealed value does not open as something else.
    expect(again.open(sealed, 'other')).toBeUndefined()
    keys.drop(['h100'])
    await keys.flush()
    expect(keys.open(sealed, 'msg-row')).toBeUndefined()
    const afterDrop = await EphemeralKeys.open(file, wrap)
    expect(afterDrop.open(sealed, 'msg-row')).toBeUndefined()
    expect(new TextDecoder().decode(afterDrop.open(other, 'msg-row'))).toBe('MARKER-two')
    expect(afterDrop.buckets()).toEqual(['h101'])
  })

  it('refuses a key file under another account\'s key (ERR_EPHEMERAL_KEYS)', async () => {
    const file = memoryKeyStore()
    const keys = await EphemeralKeys.open(file, new Uint8Array(randomBytes(32)))
    keys.seal('h1', new Uint8Array(1), 'x')
    await keys.flush()
    await expect(EphemeralKeys.open(file, new Uint8Array(randomBytes(32)))).rejects.toMatchObject({ code: 'ERR_EPHEMERAL_KEYS' })
  })
})

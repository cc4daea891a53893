/**
 * A group's timer rules (node/groups/group-timer.ts) as tables: which member's change wins
 * over the setting held (the 1:1 rule, timer.ts timerWins), what a text's setting does, and
 * when each copy of a message expires.
 */
import { describe, expect, it } from 'vitest'
import type { SessionId } from '../../node/identity/session-id.js'
import { memberChange, receivedExpiry, sentExpiry } from '../../node/groups/group-timer.js'
import { TIMER_OFF, type TimerSetting } from '../../node/messaging/timer.js'

const low = ('05' + '1'.repeat(64)) as SessionId
const high = ('05' + 'f'.repeat(64)) as SessionId
const held: TimerSetting = { mode: 'after-send', seconds: 60, version: 3, changedAt: 1000, changedBy: low }

describe('a member\'s timer change', () => {
  it.each([
    ['a higher version wins', { mode: 'off', seconds: 0, version: 4, changedAt: 1 }, high, false, { row: true }],
    ['a lower version loses', { mode: 'after-read', seconds: 5, version: 2, changedAt: 9999 }, high, false, undefined],
    ['same version, later change wins', { mode: 'after-read', seconds: 5, version: 3, changedAt: 1001 }, high, false, { row: true }],
    ['same version, earlier change loses', { mode: 'after-read', seconds: 5, version: 3, changedAt: 999 }, high, false, undefined],
    ['same version and time: the larger Session ID wins', { mode: 'after-read', seconds: 5, version: 3, changedAt: 1000 }, high, false, { row: true }],
    ['the same change seen again makes nothing', { mode: 'after-send', seconds: 60, version: 3, changedAt: 1000 }, low, false, undefined],
    ['the same change with its own changedAt corrects it, no row', { mode: 'after-send', seconds: 60, version: 3, changedAt: 1500 }, low, false, { row: false }],
    ['from a text, only a higher version is news', { mode: 'after-read', seconds: 5, version: 3, changedAt: 5000 }, high, true, undefined],
    ['from a text, a higher version applies', { mode: 'after-read', seconds: 5, version: 4, changedAt: 5000 }, high, true, { row: true }]
  ] as const)('%s', (_what, change, from, fromText, expected) => {
    const got = memberChange(held, change, from, fromText)
    if (expected === undefined) { expect(got).toBeUndefined(); return }
    expect(got).toEqual({ setting: { ...change, changedBy: from }, row: expected.row })
  })

  it('a first change wins over a group that never had one', () => {
    expect(memberChange(undefined, { mode: 'after-send', seconds: 2, version: 1, changedAt: 5 }, low, false)?.setting).toMatchObject({ version: 1, changedBy: low })
    expect(memberChange({ ...TIMER_OFF }, { mode: 'off', seconds: 0, version: 1, changedAt: 5 }, low, true)?.row).toBe(true)
  })
})

describe('when a copy expires', () => {
  it('a member\'s after-send copy counts from the earlier of sending and arrival; after-read waits for reading', () => {
    expect(receivedExpiry({ mode: 'after-send', seconds: 2 }, 10_000, 10_500)).toBe(12_000)
    // An author whose clock runs ahead cannot lengthen it.
    expect(receivedExpiry({ mode: 'after-send', seconds: 2 }, 50_000, 10_500)).toBe(12_500)
    expect(receivedExpiry({ mode: 'after-read', seconds: 2 }, 10_000, 10_500)).toBeUndefined()
    expect(receivedExpiry(undefined, 10_000, 10_500)).toBeUndefined()
  })

  it('the author\'s copy counts from sending in both modes (no read receipts in groups)', () => {
    expect(sentExpiry({ mode: 'after-send', seconds: 2 }, 10_000)).toBe(12_000)
    expect(sentExpiry({ mode: 'after-read', seconds: 2 }, 10_000)).toBe(12_000)
    expect(sentExpiry(undefined, 10_000)).toBeUndefined()
  })
})

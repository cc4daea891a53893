/**
 * The disappearing-message timer of a group (docs/GROUPS.md §5.2, PROTOCOL.md §12.6): what a
 * member's change does to the setting held here, and when a group message's copy expires.
 * Any member may change it; the change travels as a group message (`t: 'timer'`, the 1:1
 * payload) and every text carries the setting it was sent under, so members agree by the
 * same rule as two contacts (messaging/timer.ts timerWins). Knows nothing of sending, the
 * network or the store: the callers (group-manager.ts, group-intake.ts) write what it decides.
 */
import type { SessionId } from '../identity/session-id.js'
import type { ExpiryIndex } from '../messaging/expiry-index.js'
import type { Message, MessageLog } from '../messaging/message-log.js'
import type { StoreOp } from '../store/types.js'
import { TIMER_OFF, timerWins, type MessageTimer, type TimerSetting } from '../messaging/timer.js'

/** A change as it comes: a `timer` payload, or the setting a text carried (its sentAt standing in for changedAt). */
export type MemberChange = Pick<TimerSetting, 'mode' | 'seconds' | 'version' | 'changedAt'>

/**
 * What a member's change does to the group's setting `current`: undefined when nothing; the
 * new setting and whether it makes a row (false: the same change seen again, which only
 * takes the author's changedAt). From a text (`fromText`) only a higher version is news: a
 * text knows the version, not when the change was made. As messaging/incoming.ts peerTimer.
 */
export function memberChange (current: TimerSetting | undefined, change: MemberChange, from: SessionId, fromText: boolean): { setting: TimerSetting, row: boolean } | undefined {
  const held = current ?? TIMER_OFF
  const candidate: TimerSetting = { mode: change.mode, seconds: change.seconds, version: change.version, changedAt: change.changedAt, changedBy: from }
  if (fromText && candidate.version <= held.version) return undefined
  if (candidate.version === held.version && held.changedBy === from && candidate.mode === held.mode && candidate.seconds === held.seconds) {
    return candidate.changedAt === held.changedAt ? undefined : { setting: candidate, row: false }
  }
  if (!timerWins(candidate, held)) return undefined
  return { setting: candidate, row: true }
}

/**
 * When a member's copy of a received group message expires: after-send from the earlier of
 * its sentAt and its arrival (an author whose clock runs ahead cannot lengthen it);
 * after-read waits for the member's reading (undefined: no clock yet).
 */
export function receivedExpiry (timer: MessageTimer | undefined, sentAt: number, now: number): number | undefined {
  return timer?.mode === 'after-send' ? Math.min(sentAt, now) + timer.seconds * 1000 : undefined
}

/**
 * When the author's own copy expires. There are no read receipts in groups, so an after-read
 * message's own copy cannot wait for the others' reading: both modes count from sending.
 */
export function sentExpiry (timer: MessageTimer | undefined, sentAt: number): number | undefined {
  return timer === undefined ? undefined : sentAt + timer.seconds * 1000
}

/**
 * Starts an after-read message's clock at the member's first reading: its expiry time, its
 * row sealed again under its expiry hour's key, its expiry entry in place of its wait entry
 * (as Messenger.startClock for 1:1). Undefined when it has no clock to start.
 */
export function startClock (log: MessageLog, expiry: ExpiryIndex, m: Message, now: number): { message: Message, ops: StoreOp[] } | undefined {
  if (m.timer?.mode !== 'after-read' || m.expiresAt !== undefined) return undefined
  const expiresAt = now + m.timer.seconds * 1000
  const message: Message = { ...m, expiresAt }
  return { message, ops: [log.putOp(message), expiry.unwaitOp(m.peer, m.id), expiry.expireOp(m.peer, m.id, expiresAt)] }
}

/**
 * What arrives in a group (gossip, direct copies, group mailboxes), taken one at a time:
 * checked, opened and stored with the sender chain's new state in one batch, or kept aside
 * until it can be (its sender key not here yet, or waiting for the catch-up after a start),
 * and then taken in chain order. This is what makes a member back after days get every
 * message in order, once (G6). Knows nothing of sending, membership changes or the network.
 */
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import { previewOf } from '../messaging/contacts.js'
import type { Message } from '../messaging/message-log.js'
import type { Messenger } from '../messaging/messenger.js'
import { Mutex } from '../messaging/mutex.js'
import { decodePayload, type TextPayload, type TimerPayload } from '../messaging/payload.js'
import { GUARD_KEEP_MS, timerRowId } from '../messaging/incoming.js'
import { messageTimerOf, TIMER_OFF } from '../messaging/timer.js'
import type { StoreOp } from '../store/types.js'
import { memberChange, receivedExpiry, type MemberChange } from './group-timer.js'
import type { SecureStore } from '../store/types.js'
import { CATCH_UP_MAX_MS, MAX_PENDING_PER_GROUP, PENDING_MAX_AGE_MS } from './constants.js'
import { GroupError } from './errors.js'
import { stateOf, type GroupRecord, type GroupStore, type PendingMessage } from './group-store.js'
import { loadSenderKey, receivingKey } from './sender-key.js'
import { decryptGroupMessage, peekGroupMessage, verifyGroupMessage } from './wire.js'

export type GroupVerdict = 'accepted' | 'duplicate' | 'pending' | 'rejected'

export interface GroupIntakeInit {
  self: SessionId
  store: SecureStore
  groups: GroupStore
  /** Its lock (every write shares it), its message log, and for disappearing messages its expiry index, key-flushing store and sweep. */
  messenger: Pick<Messenger, 'locked' | 'log' | 'expiry' | 'storeWithKeys' | 'wakeExpiry'>
  logger: ComponentLogger
  now: () => number
  /** A new message was stored, with the group record it updated. */
  onMessage: (message: Message, record: GroupRecord) => void
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
/** Pending messages whose group is not known from where they came (direct copies). */
const UNKNOWN = '_'

export class GroupIntake {
  private readonly lock = new Mutex()
  /** Groups whose mailboxes were not read since this start, and until when live copies wait for them. */
  private readonly catchUpUntil = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly init: GroupIntakeInit) {}

  private get groups (): GroupStore { return this.init.groups }

  /**
   * A group message (gossip, a direct copy, or opened from a group mailbox). Checked in this
   * order, each refusal leaving nothing changed: version and shape; the sender key is known
   * (else kept aside until it comes); its owner is a member of the group now (G3); the
   * signature is that key's (G3); the iteration is unused (G4); it decrypts.
   *
   * Messages are taken one at a time, and one whose sender key has earlier messages still
   * kept aside waits behind them: a chain's messages are then stored in the order they came
   * (G6), even when its key arrives in the middle of a mailbox collection.
   */
  async receive (bytes: Uint8Array, groupHint: string | undefined, via: 'live' | 'mailbox'): Promise<GroupVerdict> {
    return await this.lock.run(async () => await this.take(bytes, groupHint, via === 'live'))
  }

  private async take (bytes: Uint8Array, groupHint: string | undefined, live: boolean): Promise<GroupVerdict> {
    let header
    try { header = peekGroupMessage(bytes) } catch { return 'rejected' }
    const owner = await this.groups.keyOwner(header.keyId)
    if (owner === undefined) return await this.keepPending(groupHint ?? UNKNOWN, bytes, live)
    if (owner.member === this.init.self) return 'duplicate'
    // Back after a while, live copies (gossip's message cache, direct copies) wait until the
    // mailboxes were read, so the older messages there come first (G6); and a message behind
    // earlier ones of its chain kept aside waits with them. Both are retried in chain order.
    if ((live && this.catchingUp(owner.group)) || await this.waitsBehind(header.keyId, owner.group, live)) return await this.keepPending(owner.group, bytes, live)
    const r = await this.groups.get(owner.group)
    if (r === undefined || (r.local !== 'accepted' && r.local !== 'request')) return 'rejected'
    if (!stateOf(r).members.includes(owner.member)) return 'rejected'
    const groupId = new Uint8Array(Buffer.from(owner.group, 'hex'))
    const keys = await this.groups.memberKeys(owner.group, owner.member)
    const stored = keys === undefined ? undefined : [keys.current, ...keys.old].find((k) => k.keyId === header.keyId)
    if (stored === undefined || !verifyGroupMessage(groupId, loadSenderKey(stored).signingPublic, bytes)) {
      this.init.logger.info('refused a group message', { code: 'ERR_GROUP_SIGNATURE' })
      return 'rejected'
    }
    try {
      const done = await this.init.messenger.locked(async () => {
        const fresh = await this.groups.memberKeys(owner.group, owner.member)
        const k = fresh === undefined ? undefined : [fresh.current, ...fresh.old].find((x) => x.keyId === header.keyId)
        if (fresh === undefined || k === undefined) throw new GroupError('ERR_GROUP_KEY', 'the sender key went away')
        const step = receivingKey(loadSenderKey(k), header.iteration)
        const payload = decodePayload(decryptGroupMessage(groupId, step.seed, bytes))
        if (payload.t !== 'text' && payload.t !== 'timer') throw new GroupError('ERR_PAYLOAD', 'a group message carries a text or a timer change')
        const keyOp = this.groups.updatedKeyOp(owner.group, owner.member, fresh, step.next)
        const log = this.init.messenger.log
        if (payload.t === 'text' && await log.known(owner.group as SessionId, payload.id)) {
          await this.init.store.batch([keyOp])
          return undefined
        }
        const latest = await this.groups.get(owner.group)
        if (latest === undefined) throw new GroupError('ERR_UNKNOWN_GROUP', 'no such group')
        if (payload.t === 'timer') return await this.timerChange(latest, owner.member, payload, keyOp)
        return await this.text(latest, owner.member, payload, keyOp)
      })
      if (done === undefined) return 'duplicate'
      for (const m of done.messages) {
        if (m.expiresAt !== undefined) this.init.messenger.wakeExpiry(m.expiresAt)
        this.init.onMessage(m, done.record)
      }
      return 'accepted'
    } catch (err) {
      const code = (err as GroupError).code
      if (code === 'ERR_GROUP_DUPLICATE') return 'duplicate'
      this.init.logger.info('refused a group message', { code: code ?? 'ERR_INTERNAL' })
      return 'rejected'
    }
  }

  /**
   * A member's timer change (its own group message): applied when it wins over the group's
   * setting here (group-timer.ts), with a row; a losing or repeated change only moves the chain.
   */
  private async timerChange (latest: GroupRecord, from: SessionId, payload: TimerPayload, keyOp: StoreOp): Promise<{ messages: Message[], record: GroupRecord }> {
    const applied = await this.applyChange(latest, from, payload, false)
    await this.init.store.batch([keyOp, ...applied.ops])
    if (applied.row !== undefined) this.init.messenger.log.committed(applied.row)
    return { messages: applied.row === undefined ? [] : [applied.row], record: applied.record }
  }

  /** The setting and row a change makes (none when it does not apply), as writes for the caller's batch. */
  private async applyChange (latest: GroupRecord, from: SessionId, change: MemberChange, fromText: boolean): Promise<{ record: GroupRecord, row?: Message, ops: StoreOp[] }> {
    const decided = memberChange(latest.timer, change, from, fromText)
    if (decided === undefined) return { record: latest, ops: [] }
    const record: GroupRecord = { ...latest, timer: decided.setting }
    if (!decided.row) return { record, ops: [this.groups.putOp(record)] }
    const s = decided.setting
    const { message: row, ops } = await this.init.messenger.log.prepareAppend({
      id: timerRowId(from, s), peer: latest.id as SessionId, direction: 'in', text: '', sentAt: s.changedAt, receivedAt: this.init.now(), state: 'read', group: latest.id, from,
      event: { type: 'timer', mode: s.mode, seconds: s.seconds }
    })
    return { record, row, ops: [...ops, this.groups.putOp(record)] }
  }

  /**
   * A member's text, maybe under the group's timer: a newer setting it carries is applied
   * first (its row before the text); one whose time was over before it came (this member was
   * offline longer than the timer) moves the chain and leaves a guard, and is never stored.
   */
  private async text (latest: GroupRecord, from: SessionId, payload: TextPayload, keyOp: StoreOp): Promise<{ messages: Message[], record: GroupRecord }> {
    const log = this.init.messenger.log
    const group = latest.id as SessionId
    const now = this.init.now()
    const setting = payload.timer === undefined ? undefined : await this.applyChange(latest, from, { ...payload.timer, changedAt: payload.sentAt }, true)
    const base = setting?.record ?? latest
    const timer = payload.timer === undefined ? undefined : messageTimerOf({ ...TIMER_OFF, ...payload.timer })
    const expiresAt = receivedExpiry(timer, payload.sentAt, now)
    if (expiresAt !== undefined && expiresAt <= now) {
      await this.init.store.batch([keyOp, log.goneOp(group, payload.id, now + GUARD_KEEP_MS), ...(setting?.ops ?? [])])
      if (setting?.row !== undefined) log.committed(setting.row)
      return { messages: setting?.row === undefined ? [] : [setting.row], record: base }
    }
    const { message, ops } = await log.prepareAppend({
      id: payload.id, peer: group, direction: 'in', text: payload.text, sentAt: payload.sentAt, receivedAt: now, state: 'received', group: latest.id, from,
      // Files it carries are fetched from the author's node (account/lifecycle.ts).
      ...(payload.attachments === undefined ? {} : { attachments: payload.attachments }),
      ...(timer === undefined ? {} : { timer, timerVersion: payload.timer?.version }),
      ...(expiresAt === undefined ? {} : { expiresAt })
    }, { after: setting?.row })
    if (expiresAt !== undefined) ops.push(this.init.messenger.expiry.expireOp(group, message.id, expiresAt))
    else if (timer !== undefined) ops.push(this.init.messenger.expiry.waitOp(group, message.id))
    const next: GroupRecord = { ...base, unread: base.unread + 1, lastMessageAt: now, lastMessage: previewOf(message) }
    // The setting's own record write is replaced by the one below (the same record, moved on).
    const settingOps = (setting?.ops ?? []).filter((op) => op.key[0] !== 'group')
    // Its row may be sealed under a new short-lived key: the key file is written first.
    await this.init.messenger.storeWithKeys.batch([keyOp, ...settingOps, ...ops, this.groups.putOp(next)])
    if (setting?.row !== undefined) log.committed(setting.row)
    log.committed(message)
    return { messages: setting?.row === undefined ? [message] : [setting.row, message], record: next }
  }

  private async keepPending (bucket: string, bytes: Uint8Array, live: boolean): Promise<GroupVerdict> {
    await this.init.messenger.locked(async () => {
      const now = this.init.now()
      const list = (await this.groups.pending(bucket)).filter((p) => now - p.at < PENDING_MAX_AGE_MS)
      const encoded = b64(bytes)
      if (list.some((p) => p.bytes === encoded)) return
      list.push({ bytes: encoded, at: now, ...(live ? { live } : {}) })
      await this.init.store.batch([this.groups.pendingOp(bucket, list.slice(-MAX_PENDING_PER_GROUP))])
    })
    return 'pending'
  }

  /**
   * After a start, live copies of the groups we were in wait until their mailboxes were read
   * (caughtUp) or CATCH_UP_MAX_MS passed, then are taken in chain order.
   */
  startCatchUp (groups: string[]): void {
    const until = this.init.now() + CATCH_UP_MAX_MS
    for (const id of groups) this.catchUpUntil.set(id, until)
    this.timer = setTimeout(() => {
      const waiting = [...this.catchUpUntil.keys()]
      this.catchUpUntil.clear()
      for (const id of waiting) void this.retryPending(id)
    }, CATCH_UP_MAX_MS)
    this.timer.unref()
  }

  /** The group's mailboxes were read: what waited is taken now, in chain order. */
  async caughtUp (group: string): Promise<void> {
    if (this.catchUpUntil.delete(group)) await this.retryPending(group)
  }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
  }

  private catchingUp (group: string): boolean {
    return (this.catchUpUntil.get(group) ?? 0) > this.init.now()
  }

  /**
   * Whether messages under `keyId` are kept aside for the group, or with no group known. A
   * mailbox copy waits only behind mailbox copies: live ones kept aside during a catch-up are
   * newer or the same (then dropped as duplicates when they are retried).
   */
  private async waitsBehind (keyId: string, group: string, live: boolean): Promise<boolean> {
    for (const bucket of [group, UNKNOWN]) {
      for (const p of await this.groups.pending(bucket)) {
        if (p.live === true && !live) continue
        try {
          if (peekGroupMessage(new Uint8Array(Buffer.from(p.bytes, 'base64'))).keyId === keyId) return true
        } catch { /* kept aside only after the same check passed */ }
      }
    }
    return false
  }

  /** Messages kept aside for a group (and those whose group was unknown) are tried again, in the order they came. */
  async retryPending (id: string): Promise<void> {
    await this.lock.run(async () => { await this.retryPendingNow(id) })
  }

  private async retryPendingNow (id: string): Promise<void> {
    for (const bucket of [id, UNKNOWN]) {
      const list = chainOrder(await this.groups.pending(bucket))
      if (list.length === 0) continue
      await this.init.messenger.locked(async () => { await this.init.store.batch([this.groups.pendingOp(bucket, [])]) })
      const still: PendingMessage[] = []
      for (const p of list) {
        const bytes = new Uint8Array(Buffer.from(p.bytes, 'base64'))
        if (await this.groups.keyOwner(peekGroupMessage(bytes).keyId) === undefined) { still.push(p); continue }
        // Taken again in chain order; one that must still wait goes back to the list.
        await this.take(bytes, bucket === UNKNOWN ? undefined : bucket, p.live === true)
      }
      if (still.length > 0) {
        await this.init.messenger.locked(async () => {
          const now = await this.groups.pending(bucket)
          await this.init.store.batch([this.groups.pendingOp(bucket, [...still, ...now])])
        })
      }
    }
  }
}

/** Kept-aside messages in chain order: chains in the order they first came, each by iteration. */
function chainOrder (list: PendingMessage[]): PendingMessage[] {
  const chains = new Map<string, Array<{ p: PendingMessage, iteration: number }>>()
  for (const p of list) {
    let header
    try { header = peekGroupMessage(new Uint8Array(Buffer.from(p.bytes, 'base64'))) } catch { continue }
    const chain = chains.get(header.keyId) ?? []
    chain.push({ p, iteration: header.iteration })
    chains.set(header.keyId, chain)
  }
  return [...chains.values()].flatMap((c) => c.sort((x, y) => x.iteration - y.iteration).map((x) => x.p))
}

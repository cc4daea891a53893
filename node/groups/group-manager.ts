/**
 * The group use cases (docs/GROUPS.md): create, add, remove, leave, accept, send, and what
 * arrives: control payloads inside 1:1 sessions (applyControl, called inside the messenger's
 * commit), group messages from gossip, direct copies and group mailboxes (receive, handed
 * to group-intake.ts). How messages leave is group-delivery.ts; the mailbox reading,
 * group-collector.ts.
 *
 * Writes that touch the message log or a sender chain run under the messenger's lock, each in
 * one batch with what it records. Follow-ups that send (rotations, distributions) run after
 * the commit, outside the lock.
 */
import { randomBytes } from 'node:crypto'
import type { IdentityKeys } from '../identity/keys.js'
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import { cleanName, PREVIEW_LENGTH, previewOf, type LastMessage } from '../messaging/contacts.js'
import { timerRowId } from '../messaging/incoming.js'
import { messageTimerOf, ownChange, parseTimerChange, TIMER_OFF, type TimerSetting } from '../messaging/timer.js'
import type { Message, MessageState, StateExtra } from '../messaging/message-log.js'
import type { Messenger } from '../messaging/messenger.js'
import type { MessengerEvent } from '../messaging/ports.js'
import { encodePayload, MAX_TEXT_LENGTH } from '../messaging/payload.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import type { AttachmentRef } from '../attachments/refs.js'
import { DAY_MS, GROUP_SECRET_RETENTION_MS, MAX_GROUP_MEMBERS, MAX_GROUPS, MAX_STATE_HISTORY, SENDER_KEY_MAX_AGE_MS, SENDER_KEY_MAX_MESSAGES } from './constants.js'
import { decodeControl, encodeKeyControl, encodeStateControl } from './control.js'
import { GroupError } from './errors.js'
import { GroupCollector } from './group-collector.js'
import { GROUP_OUTBOX_TABLE, GroupDelivery, type GroupNet } from './group-delivery.js'
import { sentExpiry, startClock } from './group-timer.js'
import { GroupIntake, type GroupVerdict } from './group-intake.js'
import { topicFor } from './group-mailbox.js'
import { authorised, decodeState, encodeState, leaveAdmins, nextState, signState, stateHash, wins, type GroupState } from './group-state.js'
import { currentSecret, encodeStateB64, GroupStore, stateOf, type GroupRecord } from './group-store.js'
import { distributionOf, fromDistribution, newSenderKey, nextSendingKey, type SenderKey, type SenderKeyDistribution } from './sender-key.js'
import { encodeGroupMessage } from './wire.js'

export type { GroupNet } from './group-delivery.js'

/** A group as the API shows it (docs/API.md "Groups"). */
export interface GroupView {
  id: string
  name: string
  members: SessionId[]
  admins: SessionId[]
  version: number
  state?: 'request'
  removed?: true
  left?: true
  unread: number
  lastMessage?: LastMessage
  lastMessageAt?: number
  /** The group's disappearing-message timer, in the shape of a contact's (off while never set). */
  timer: TimerSetting
}

export type GroupEvent =
  | { type: 'group', group: GroupView }
  | { type: 'group-removed', id: string }
  | { type: 'message', message: Message }
  | Extract<MessengerEvent, { type: 'message-state' }>

export type { GroupVerdict } from './group-intake.js'

export interface GroupManagerInit {
  identity: IdentityKeys
  store: SecureStore
  messenger: Messenger
  net: GroupNet
  logger: ComponentLogger
  now: () => number
  onEvent: (event: GroupEvent) => void
  /** How often group mailboxes are read for what gossip missed; default 5 min. */
  collectEveryMs?: number
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
const EARLY_KEYS = ['group-early'] as const
/** Sender keys that came before their group's invite, all groups together (oldest evicted). */
const MAX_EARLY_KEYS = 500

interface EarlyKey { group: string, from: SessionId, key: ReturnType<typeof encodeKeyControl>, at: number }

export class GroupManager {
  readonly groups: GroupStore
  private readonly self: SessionId
  private readonly topics = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private readonly collector: GroupCollector
  /** What arrives, one message at a time, in order (group-intake.ts). */
  private readonly intake: GroupIntake
  /** Fan-out and retries of the messages we send. */
  readonly delivery: GroupDelivery

  constructor (private readonly init: GroupManagerInit) {
    this.groups = new GroupStore(init.store)
    this.self = init.identity.sessionId
    this.delivery = new GroupDelivery({
      self: this.self,
      store: init.store,
      groups: this.groups,
      net: init.net,
      logger: init.logger,
      now: init.now,
      onState: async (group, id, state, extra) => { await this.setState(group, id, state, extra) }
    })
    this.collector = new GroupCollector({
      groups: this.groups,
      net: init.net,
      logger: init.logger,
      now: init.now,
      receive: async (bytes, group) => await this.receive(bytes, group, 'mailbox'),
      markCollected: async (group, day) => {
        await this.init.messenger.locked(async () => {
          const latest = await this.groups.get(group)
          if (latest !== undefined) await this.init.store.batch([this.groups.putOp({ ...latest, collectedDay: day })])
        })
        await this.intake.caughtUp(group)
      }
    })
    this.intake = new GroupIntake({
      self: this.self,
      store: init.store,
      groups: this.groups,
      messenger: init.messenger,
      logger: init.logger,
      now: init.now,
      onMessage: (message, record) => {
        this.emit({ type: 'message', message })
        this.changed(record)
      }
    })
  }

  async start (): Promise<void> {
    const all = await this.groups.list()
    for (const r of all) this.subscribeTo(r)
    this.intake.startCatchUp(all.map((r) => r.id))
    // A round cut short (the account closing under it) is tried again at the next one.
    const collectSoon = (): void => {
      this.collect().catch((err) => { this.init.logger.debug('group mailbox round failed', { code: (err as GroupError).code ?? 'ERR' }) })
    }
    this.timer = setInterval(collectSoon, this.init.collectEveryMs ?? 300_000)
    this.timer.unref()
    collectSoon()
    // Messages queued before a restart go out again (R11).
    this.delivery.start()
    void this.delivery.outbox.retryDue(true)
  }

  /** Tries every queued group message now (a peer connected: a path may be back). */
  async retryDue (): Promise<void> {
    await this.delivery.outbox.retryDue(true)
  }

  stop (): void {
    this.delivery.stop()
    this.intake.stop()
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const topic of this.topics.values()) this.init.net.unsubscribe(topic)
    this.topics.clear()
  }

  // ---- views ----

  async list (): Promise<GroupView[]> {
    const all = await Promise.all((await this.groups.list()).map(async (r) => await this.withText(r)))
    return all.map((r) => this.view(r)).sort((a, b) => (b.lastMessageAt ?? 0) - (a.lastMessageAt ?? 0))
  }

  async get (id: string): Promise<GroupView> {
    return this.view(await this.withText(await this.record(id)))
  }

  /** A stored record with the text of a disappearing last message read from its row (group-store.ts putOp). */
  private async withText (r: GroupRecord): Promise<GroupRecord> {
    if (r.lastMessage?.timed !== true) return r
    const m = await this.init.messenger.log.find(r.id as SessionId, r.lastMessage.id)
    return { ...r, lastMessage: { ...r.lastMessage, text: m?.text.slice(0, PREVIEW_LENGTH) ?? '' } }
  }

  view (r: GroupRecord): GroupView {
    const s = stateOf(r)
    return {
      id: r.id,
      name: s.name,
      members: s.members,
      admins: s.admins,
      version: s.version,
      ...(r.local === 'request' ? { state: 'request' as const } : {}),
      ...(r.local === 'removed' || r.local === 'left' ? { removed: true as const } : {}),
      ...(r.local === 'left' ? { left: true as const } : {}),
      unread: r.unread,
      ...(r.lastMessage === undefined ? {} : { lastMessage: r.lastMessage, lastMessageAt: r.lastMessageAt }),
      timer: r.timer ?? { ...TIMER_OFF }
    }
  }

  /** A group by id, or by its name among the groups we are in (case-insensitive). */
  async resolve (idOrName: string): Promise<GroupRecord | undefined> {
    if (/^[0-9a-f]{64}$/.test(idOrName)) return await this.groups.get(idOrName)
    const wanted = idOrName.trim().toLowerCase()
    const matches = (await this.groups.list()).filter((r) => (r.local === 'accepted' || r.local === 'request') && stateOf(r).name.toLowerCase() === wanted)
    if (matches.length > 1) throw new GroupError('ERR_GROUP_AMBIGUOUS', `more than one group is called "${idOrName}"; use the group id`)
    return matches[0]
  }

  async messages (id: string, options: { limit?: number, before?: number } = {}): Promise<Message[]> {
    await this.record(id)
    return await this.init.messenger.log.conversation(id as SessionId, options)
  }

  private async record (id: string): Promise<GroupRecord> {
    const r = /^[0-9a-f]{64}$/.test(id) ? await this.groups.get(id) : undefined
    if (r === undefined) throw new GroupError('ERR_UNKNOWN_GROUP', 'no such group')
    return r
  }

  // ---- membership (admins) ----

  async create (name: unknown, members: unknown): Promise<GroupView> {
    const clean = cleanName(name, 'ERR_GROUP_NAME')
    if (!Array.isArray(members)) throw new GroupError('ERR_BAD_REQUEST', 'members is a list of Session IDs')
    const ids = [...new Set(members.map((m) => this.memberId(m)))]
    if (ids.length + 1 > MAX_GROUP_MEMBERS) throw new GroupError('ERR_GROUP_SIZE', `a group has at most ${MAX_GROUP_MEMBERS} members`)
    if ((await this.groups.list()).length >= MAX_GROUPS) throw new GroupError('ERR_TOO_MANY_GROUPS', `at most ${MAX_GROUPS} groups`)
    const now = this.init.now()
    const id = randomBytes(32).toString('hex')
    const secret = new Uint8Array(randomBytes(32))
    const state = signState({ id, name: clean, members: [this.self, ...ids], admins: [this.self], version: 1, parent: '', createdAt: now }, this.init.identity)
    const own = newSenderKey(now)
    const record: GroupRecord = { id, state: encodeStateB64(state), history: [], secrets: [{ stateHash: stateHash(state), secret: b64(secret), since: now }], local: 'accepted', unread: 0, joinedAt: now }
    const encoded = encodeState(state)
    await this.init.messenger.sendGroupControl(
      ids.map((peer) => ({ peer, group: encodeStateControl(encoded, secret, distributionOf(own)) })),
      async () => [this.groups.putOp(record), ...this.ownKeyOps(id, own)]
    )
    this.subscribeTo(record)
    return this.changed(record)
  }

  async addMember (id: string, member: unknown): Promise<GroupView> {
    const who = this.memberId(member)
    const r = await this.member(id)
    const cur = stateOf(r)
    this.requireAdmin(cur)
    if (cur.members.includes(who)) throw new GroupError('ERR_ALREADY_MEMBER', 'already a member')
    if (cur.members.length >= MAX_GROUP_MEMBERS) throw new GroupError('ERR_GROUP_SIZE', `a group has at most ${MAX_GROUP_MEMBERS} members`)
    return await this.change(r, { members: [...cur.members, who] }, { rotate: false })
  }

  async removeMember (id: string, member: unknown): Promise<GroupView> {
    const who = this.memberId(member)
    const r = await this.member(id)
    const cur = stateOf(r)
    this.requireAdmin(cur)
    if (!cur.members.includes(who)) throw new GroupError('ERR_NOT_MEMBER', 'not a member of this group')
    const members = cur.members.filter((m) => m !== who)
    return await this.change(r, { members, admins: cur.admins.filter((a) => a !== who) }, { rotate: true })
  }

  /**
   * Makes a member an admin, or takes it back (an admin may also step down). The group keeps
   * at least one admin; asking for what already holds changes nothing.
   */
  async setAdmin (id: string, rawWho: unknown, admin: boolean): Promise<GroupView> {
    const who = typeof rawWho === 'string' && rawWho === this.self ? this.self : this.memberId(rawWho)
    const r = await this.member(id)
    const cur = stateOf(r)
    this.requireAdmin(cur)
    if (!cur.members.includes(who)) throw new GroupError('ERR_NOT_MEMBER', 'not a member of this group')
    if (cur.admins.includes(who) === admin) return this.view(r)
    const admins = admin ? [...cur.admins, who] : cur.admins.filter((a) => a !== who)
    if (admins.length === 0) throw new GroupError('ERR_LAST_ADMIN', 'a group keeps at least one admin')
    return await this.change(r, { members: cur.members, admins }, { rotate: false })
  }

  /**
   * Signs and sends a new state made from the record's current one. A removal rotates: a new
   * group secret and our new sender key go with it to the remaining members only; the removed
   * get the state alone, so their UI says so (G1).
   */
  private async change (r: GroupRecord, change: { members: SessionId[], admins?: SessionId[] }, options: { rotate: boolean }): Promise<GroupView> {
    const now = this.init.now()
    const cur = stateOf(r)
    const next = signState(nextState(cur, change, now), this.init.identity)
    const encoded = encodeState(next)
    const removed = cur.members.filter((m) => !next.members.includes(m))
    const added = next.members.filter((m) => !cur.members.includes(m))
    const secret = options.rotate ? new Uint8Array(randomBytes(32)) : currentSecret(r)
    const own = options.rotate ? newSenderKey(now) : (await this.groups.ownKey(r.id)) ?? newSenderKey(now)
    const others = next.members.filter((m) => m !== this.self)
    const items = [
      ...others.map((peer) => ({ peer, group: encodeStateControl(encoded, secret, options.rotate || added.includes(peer) ? distributionOf(own) : undefined) })),
      ...removed.map((peer) => ({ peer, group: encodeStateControl(encoded) }))
    ]
    let done: GroupRecord = r
    await this.init.messenger.sendGroupControl(items, async () => {
      const latest = await this.record(r.id)
      done = this.withState(latest, next, secret, now)
      const drop = (await Promise.all(removed.map(async (m) => await this.groups.dropMemberKeysOps(r.id, m)))).flat()
      return [this.groups.putOp(done), ...this.ownKeyOps(r.id, own), ...drop]
    })
    this.subscribeTo(done)
    return await this.changedWithText(done)
  }

  /** Leaving: a state without us, signed by us (allowed for one's own leave); our keys go. */
  async leave (id: string): Promise<GroupView> {
    return await this.leaveGroup(await this.member(id))
  }

  /**
   * Deletes a group from this node: its record, messages, keys, queued messages and
   * anything kept aside for it, in one batch. A group we are still in (an invite not
   * accepted, or an accepted group) is left first, so its members see us go and a later
   * state naming us again can only come from someone adding us back. What stays is a
   * tombstone with the last version we knew: older copies of the group's states (a
   * mailbox's, a slow member's) are dropped instead of showing the group again.
   */
  async remove (id: string): Promise<void> {
    let r = await this.record(id)
    if (r.local === 'accepted' || r.local === 'request') {
      await this.leaveGroup(r)
      r = await this.record(id)
    }
    const cur = stateOf(r)
    await this.init.messenger.locked(async () => {
      const queued = (await this.delivery.outbox.dropAllOps(id as SessionId))
      await this.init.store.batch([
        { type: 'del', key: ['group', id] },
        { type: 'put', key: ['group-gone', id], value: jsonValue({ version: cur.version, at: this.init.now() }) },
        this.groups.pendingOp(id, []),
        ...await this.dropAllKeysOps(id, cur.members),
        ...await this.init.messenger.log.prepareRemoveConversation(id as SessionId),
        // Unread after-read messages no longer wait (their rows go with the conversation).
        ...await this.init.messenger.expiry.dropPeerOps(id as SessionId),
        ...queued
      ])
      this.init.messenger.log.removed(id as SessionId)
    })
    this.unsubscribe(id)
    this.emit({ type: 'group-removed', id })
  }

  private async leaveGroup (r: GroupRecord): Promise<GroupView> {
    const id = r.id
    const cur = stateOf(r)
    const now = this.init.now()
    const rest = cur.members.filter((m) => m !== this.self)
    let done: GroupRecord = r
    if (rest.length === 0) {
      done = { ...r, local: 'left' }
      await this.init.store.batch([this.groups.putOp(done), this.groups.ownKeyOp(r.id, undefined)])
    } else {
      const next = signState(nextState(cur, { members: rest, admins: leaveAdmins(cur, this.self) }, now), this.init.identity)
      const encoded = encodeState(next)
      await this.init.messenger.sendGroupControl(rest.map((peer) => ({ peer, group: encodeStateControl(encoded) })), async () => {
        done = { ...this.withState(await this.record(id), next, undefined, now), local: 'left' }
        return [this.groups.putOp(done), ...await this.dropAllKeysOps(r.id, cur.members)]
      })
    }
    this.unsubscribe(r.id)
    return await this.changedWithText(done)
  }

  /** Accepts an invite from someone who is not an accepted contact: our sender key goes out now. */
  async accept (id: string): Promise<GroupView> {
    const r = await this.record(id)
    if (r.local !== 'request') throw new GroupError('ERR_NOT_REQUEST', 'this group is not a request')
    const own = newSenderKey(this.init.now())
    const others = stateOf(r).members.filter((m) => m !== this.self)
    let done: GroupRecord = r
    await this.init.messenger.sendGroupControl(others.map((peer) => ({ peer, group: encodeKeyControl(id, own) })), async () => {
      done = { ...await this.record(id), local: 'accepted' }
      return [this.groups.putOp(done), ...this.ownKeyOps(id, own)]
    })
    this.subscribeTo(done)
    return await this.changedWithText(done)
  }

  async markRead (id: string): Promise<GroupView> {
    const done = await this.init.messenger.locked(async () => {
      const r = await this.record(id)
      const ops: StoreOp[] = []
      const started: number[] = []
      const now = this.init.now()
      for (const mid of await this.init.messenger.log.idsWith(id as SessionId, 'in', 'received')) {
        const p = await this.init.messenger.log.prepareState(id as SessionId, mid, 'read', 'in')
        if (p === undefined) continue
        // Burn-on-read: an after-read message's clock starts at this member's first reading.
        const clock = startClock(this.init.messenger.log, this.init.messenger.expiry, p.message, now)
        ops.push(...(clock?.ops ?? [p.op]))
        if (clock?.message.expiresAt !== undefined) started.push(clock.message.expiresAt)
      }
      const next = { ...r, unread: 0 }
      await this.init.messenger.storeWithKeys.batch([...ops, this.groups.putOp(next)])
      return { next, started }
    })
    for (const at of done.started) this.init.messenger.wakeExpiry(at)
    return await this.changedWithText(done.next)
  }

  // ---- disappearing messages ----

  /**
   * Changes the group's timer (docs/GROUPS.md §5.2): any member may, as any member may write.
   * The change is a group message (the 1:1 `timer` payload) under our sender key, recorded
   * with its row, the chain step and its queue entry in one batch, and goes out as a text does
   * (gossip, direct copies, the day's mailbox). The same setting again changes nothing.
   * `change` is checked here: MessagingError ERR_TIMER.
   */
  async setTimer (id: string, change: unknown): Promise<GroupView> {
    const wanted = parseTimerChange(change)
    const r = await this.member(id)
    await this.freshKey(r.id)
    const groupId = new Uint8Array(Buffer.from(r.id, 'hex'))
    const done = await this.init.messenger.locked(async () => {
      const key = await this.groups.ownKey(r.id)
      const latest = await this.record(r.id)
      if (key === undefined || latest.local !== 'accepted') throw new GroupError('ERR_NOT_MEMBER', 'you are no longer a member of this group')
      const current = latest.timer ?? TIMER_OFF
      if (current.mode === wanted.mode && current.seconds === wanted.seconds) return { record: latest, row: undefined, entry: undefined }
      const next = ownChange(current, wanted, this.self, this.init.now())
      const step = nextSendingKey(key)
      const bytes = encodeGroupMessage(groupId, key, step.iteration, step.seed, encodePayload({ v: 1, t: 'timer', mode: next.mode, seconds: next.seconds, version: next.version, changedAt: next.changedAt }))
      const { message: row, ops } = await this.init.messenger.log.prepareAppend({
        id: timerRowId(this.self, next), peer: r.id as SessionId, direction: 'out', text: '', sentAt: next.changedAt, state: 'delivered', group: r.id, from: this.self,
        event: { type: 'timer', mode: next.mode, seconds: next.seconds }
      })
      const record: GroupRecord = { ...latest, timer: next }
      // The queue entry has its own id: the row shows the change, not a delivery state.
      const entry = this.delivery.entry(r.id, randomBytes(16).toString('hex'), bytes)
      await this.init.store.batch([this.groups.ownKeyOp(r.id, step.next), ...ops, this.groups.putOp(record), this.delivery.queueOp(entry)])
      this.init.messenger.log.committed(row)
      return { record, row, entry }
    })
    if (done.row === undefined || done.entry === undefined) return this.view(await this.withText(done.record))
    this.emit({ type: 'message', message: done.row })
    const view = await this.changedWithText(done.record)
    await this.delivery.outbox.attempt(done.entry)
    return view
  }

  /**
   * Disappearing messages of a group expired (Messenger.expireDue, under its lock): the
   * record's unread count and last message in step, and their queued copies cancelled (a copy
   * not sent yet is never sent). Undefined for a conversation that is not a group's.
   */
  async expiredOps (peer: SessionId, rows: Array<{ id: string, message?: Message }>): Promise<{ ops: StoreOp[], tables: string[], after: () => void } | undefined> {
    const r = await this.groups.get(peer)
    if (r === undefined) return undefined
    const gone = new Set(rows.map((x) => x.id))
    const unreadGone = rows.filter((x) => x.message?.direction === 'in' && x.message.state === 'received' && x.message.event === undefined).length
    let next: GroupRecord = { ...r, unread: Math.max(0, r.unread - unreadGone) }
    if (r.lastMessage !== undefined && gone.has(r.lastMessage.id)) {
      const latest = await this.init.messenger.log.latest(peer, gone)
      next = { ...next, lastMessage: latest === undefined ? undefined : previewOf(latest) }
      if (next.lastMessage === undefined) delete next.lastMessage
    }
    const final = next
    return {
      ops: [this.groups.putOp(final), ...[...gone].map((id) => this.delivery.outbox.dropOp(id))],
      tables: [GROUP_OUTBOX_TABLE],
      after: () => { void this.changedWithText(final).catch(() => {}) }
    }
  }

  /** Our sender key is rotated first when it is too old or has sent too many (SENDER_KEY_MAX_*). */
  private async freshKey (id: string): Promise<void> {
    const own = await this.groups.ownKey(id)
    if (own === undefined || this.init.now() - own.createdAt > SENDER_KEY_MAX_AGE_MS || own.sent >= SENDER_KEY_MAX_MESSAGES) await this.rotate(id)
  }

  // ---- sending ----

  /**
   * Sends a text to the group. `attachments`: files (node/attachments) the text carries, as
   * in a 1:1 text; with them the text may be empty. Members fetch them from our node.
   */
  async send (target: string, text: string, options: { attachments?: AttachmentRef[] } = {}): Promise<Message> {
    const files = options.attachments !== undefined && options.attachments.length > 0 ? options.attachments : undefined
    if (typeof text !== 'string' || (text.length === 0 && files === undefined)) throw new GroupError('ERR_EMPTY_MESSAGE', 'nothing to send')
    if (text.length > MAX_TEXT_LENGTH) throw new GroupError('ERR_MESSAGE_TOO_LONG', `a message has at most ${MAX_TEXT_LENGTH} characters`)
    const r = await this.resolve(target)
    if (r === undefined) throw new GroupError('ERR_UNKNOWN_GROUP', 'no such group')
    if (r.local === 'request') throw new GroupError('ERR_GROUP_REQUEST', 'accept the group invite first')
    if (r.local !== 'accepted') throw new GroupError('ERR_NOT_MEMBER', 'you are no longer a member of this group')
    const own = await this.groups.ownKey(r.id)
    if (own === undefined || this.init.now() - own.createdAt > SENDER_KEY_MAX_AGE_MS || own.sent >= SENDER_KEY_MAX_MESSAGES) await this.rotate(r.id)
    const id = randomBytes(16).toString('hex')
    const sentAt = this.init.now()
    const groupId = new Uint8Array(Buffer.from(r.id, 'hex'))
    const done = await this.init.messenger.locked(async () => {
      const key = await this.groups.ownKey(r.id)
      const latest = await this.record(r.id)
      if (key === undefined || latest.local !== 'accepted') throw new GroupError('ERR_NOT_MEMBER', 'you are no longer a member of this group')
      const step = nextSendingKey(key)
      // Sent under the group's timer as it is now; "off" too once set, so a member behind catches up.
      const setting = latest.timer ?? TIMER_OFF
      const timer = messageTimerOf(setting)
      const expiresAt = sentExpiry(timer, sentAt)
      const carried = setting.version > 0 ? { timer: { mode: setting.mode, seconds: setting.seconds, version: setting.version } } : {}
      const bytes = encodeGroupMessage(groupId, key, step.iteration, step.seed, encodePayload({ v: 1, t: 'text', id, sentAt, text, ...(files === undefined ? {} : { attachments: files }), ...carried }))
      const { message, ops } = await this.init.messenger.log.prepareAppend({
        id, peer: r.id as SessionId, direction: 'out', text, sentAt, state: 'sending', group: r.id, from: this.self, ...(files === undefined ? {} : { attachments: files }),
        ...(setting.version > 0 ? { timerVersion: setting.version } : {}),
        ...(timer === undefined ? {} : { timer }),
        ...(expiresAt === undefined ? {} : { expiresAt })
      })
      if (expiresAt !== undefined) ops.push(this.init.messenger.expiry.expireOp(r.id as SessionId, id, expiresAt))
      const next: GroupRecord = { ...latest, lastMessageAt: sentAt, lastMessage: previewOf(message) }
      // An after-send message's mailbox copy asks for no more than its time left (outbox.ts
      // passes it as ttlMs); an after-read one keeps the normal TTL: its clock starts at each
      // member's reading, which may be long after.
      const plain = this.delivery.entry(r.id, id, bytes)
      const entry = timer?.mode === 'after-send' && expiresAt !== undefined ? { ...plain, expiresAt } : plain
      // The chain moves on in the same batch as the message (a key is never used twice, R10),
      // and the message is queued in it too: it is never shown as sent without going out.
      await this.init.messenger.storeWithKeys.batch([this.groups.ownKeyOp(r.id, step.next), ...ops, this.groups.putOp(next), this.delivery.queueOp(entry)])
      this.init.messenger.log.committed(message)
      return { message, entry, record: next }
    })
    if (done.message.expiresAt !== undefined) this.init.messenger.wakeExpiry(done.message.expiresAt)
    this.emit({ type: 'message', message: done.message })
    this.changed(done.record)
    await this.delivery.outbox.attempt(done.entry)
    return (await this.init.messenger.log.find(r.id as SessionId, id)) ?? done.message
  }

  /** An outgoing group message's state moved forward (its last-message preview with it). */
  private async setState (group: string, id: string, state: MessageState, extra: StateExtra): Promise<void> {
    const done = await this.init.messenger.locked(async () => {
      const p = await this.init.messenger.log.prepareState(group as SessionId, id, state, 'out', extra)
      if (p === undefined) return undefined
      const r = await this.groups.get(group)
      const record = r?.lastMessage?.id === id ? { ...r, lastMessage: previewOf(p.message) } : undefined
      await this.init.store.batch([p.op, ...(record === undefined ? [] : [this.groups.putOp(record)])])
      return { message: p.message, record }
    })
    if (done === undefined) return
    const m = done.message
    this.emit({
      type: 'message-state',
      id: m.id,
      peer: m.peer,
      state: m.state,
      ...(m.lastError === undefined ? {} : { lastError: m.lastError }),
      ...(m.mailboxes === undefined ? {} : { mailboxes: m.mailboxes, storedUntil: m.storedUntil })
    })
    if (done.record !== undefined) this.changed(done.record)
  }

  /** A new sender key of ours, sent pairwise to the other members and stored in the same batch. */
  async rotate (id: string): Promise<void> {
    const r = await this.member(id)
    const own = newSenderKey(this.init.now())
    const others = stateOf(r).members.filter((m) => m !== this.self)
    await this.init.messenger.sendGroupControl(others.map((peer) => ({ peer, group: encodeKeyControl(id, own) })), async () => this.ownKeyOps(id, own))
  }

  // ---- receiving ----

  /**
   * A control payload inside a 1:1 session from `from` (authenticated by the ratchet), within
   * the messenger's commit: returns the writes and what to do after they landed.
   */
  async applyControl (from: SessionId, body: Record<string, unknown>): Promise<{ ops: StoreOp[], after?: () => void }> {
    const control = decodeControl(body)
    if (control.op === 'sender-key') return await this.applyKey(from, control.group, control.senderKey)
    return await this.applyState(from, control.state, control.secret, control.senderKey)
  }

  private async applyKey (from: SessionId, groupId: string, d: SenderKeyDistribution): Promise<{ ops: StoreOp[], after?: () => void }> {
    const r = await this.groups.get(groupId)
    if (r === undefined) {
      // It came before the invite (another member's 1:1 message was faster): kept aside, bounded.
      const early = ((await getJson<EarlyKey[]>(this.init.store, EARLY_KEYS)) ?? []).filter((e) => !(e.group === groupId && e.from === from))
      early.push({ group: groupId, from, key: encodeKeyControl(groupId, d), at: this.init.now() })
      return { ops: [{ type: 'put', key: EARLY_KEYS, value: jsonValue(early.slice(-MAX_EARLY_KEYS)) }] }
    }
    if ((r.local !== 'accepted' && r.local !== 'request') || !stateOf(r).members.includes(from) || from === this.self) {
      this.init.logger.info('refused a sender key', { code: 'ERR_NOT_MEMBER' })
      return { ops: [] }
    }
    return { ops: await this.groups.memberKeyOps(groupId, from, fromDistribution(d, this.init.now())), after: () => { void this.retryPending(groupId) } }
  }

  private async applyState (from: SessionId, s: GroupState, secret: Uint8Array | undefined, d: SenderKeyDistribution | undefined): Promise<{ ops: StoreOp[], after?: () => void }> {
    const now = this.init.now()
    const r = await this.groups.get(s.id)
    const keyOps = async (): Promise<StoreOp[]> => d !== undefined && s.members.includes(from) && from !== this.self ? await this.groups.memberKeyOps(s.id, from, fromDistribution(d, now)) : []
    if (r === undefined) {
      // An invite: from its author, an admin, naming us.
      if (from !== s.author || !s.admins.includes(from) || !s.members.includes(this.self)) return { ops: [] }
      // A group deleted here comes back only through a state newer than the one we left.
      const gone = await getJson<{ version: number }>(this.init.store, ['group-gone', s.id])
      if (gone !== undefined && s.version <= gone.version) return { ops: [] }
      if ((await this.groups.list()).length >= MAX_GROUPS) return { ops: [] }
      const contact = await this.init.messenger.contacts.get(from)
      if (contact?.state === 'blocked') return { ops: [] }
      const record: GroupRecord = {
        id: s.id, state: encodeStateB64(s), history: [], secrets: secret === undefined ? [] : [{ stateHash: stateHash(s), secret: b64(secret), since: now }],
        local: contact?.state === 'accepted' ? 'accepted' : 'request', unread: 0, joinedAt: now
      }
      const early = (await getJson<EarlyKey[]>(this.init.store, EARLY_KEYS)) ?? []
      const mine = early.filter((e) => e.group === s.id && s.members.includes(e.from) && e.from !== from)
      const ops: StoreOp[] = [this.groups.putOp(record), ...await keyOps()]
      for (const e of mine) ops.push(...await this.groups.memberKeyOps(s.id, e.from, fromDistribution(decodeControl(e.key).senderKey as SenderKeyDistribution, now)))
      if (mine.length > 0) ops.push({ type: 'put', key: EARLY_KEYS, value: jsonValue(early.filter((e) => e.group !== s.id)) })
      return {
        ops,
        after: () => {
          this.subscribeTo(record)
          this.changed(record)
          if (record.local === 'accepted') void this.rotate(s.id).catch(() => {})
          void this.retryPending(s.id)
        }
      }
    }
    if (r.local === 'removed' || r.local === 'left') return { ops: [] }
    const cur = stateOf(r)
    const hash = stateHash(s)
    if (hash === stateHash(cur)) {
      // The same state again (say, with the secret or a key this time).
      const next = secret === undefined || r.secrets.some((x) => x.stateHash === hash) ? r : { ...r, secrets: [...r.secrets, { stateHash: hash, secret: b64(secret), since: now }] }
      return { ops: [...(next === r ? [] : [this.groups.putOp(next)]), ...await keyOps()], after: () => { void this.retryPending(s.id) } }
    }
    const base = this.stateByHash(r, s.parent) ?? cur
    if (!authorised(s, base)) {
      // G2: a change by someone who was not an admin of the state it was made from.
      this.init.logger.info('refused a group change', { code: 'ERR_GROUP_NOT_ADMIN' })
      return { ops: [] }
    }
    if (!wins(s, cur)) {
      // A concurrent change that lost (G5): kept as history, so changes made from it can be checked.
      const next = { ...r, history: [...r.history, encodeStateB64(s)].slice(-MAX_STATE_HISTORY) }
      return { ops: [this.groups.putOp(next)] }
    }
    let next = this.withState(r, s, secret, now)
    const removed = cur.members.filter((m) => !s.members.includes(m))
    const added = s.members.filter((m) => !cur.members.includes(m))
    const ops: StoreOp[] = []
    if (!s.members.includes(this.self)) {
      next = { ...next, local: s.author === this.self ? 'left' : 'removed' }
      ops.push(this.groups.putOp(next), ...await this.dropAllKeysOps(s.id, cur.members))
      return { ops, after: () => { this.unsubscribe(s.id); void this.changedWithText(next).catch(() => {}) } }
    }
    for (const m of removed) ops.push(...await this.groups.dropMemberKeysOps(s.id, m))
    ops.push(this.groups.putOp(next), ...await keyOps())
    const lost = cur.author === this.self && cur.version === s.version ? this.ourChange(r, cur) : undefined
    const rekey = !s.members.includes(s.author) && s.admins[0] === this.self
    const final = next
    return {
      ops,
      after: () => {
        this.subscribeTo(final)
        void this.changedWithText(final).catch(() => {})
        if (final.local !== 'accepted') return
        void (async () => {
          // A removal or leave: every remaining member rotates; the author sent its new key with the state.
          if (removed.length > 0 && from !== this.self && s.author !== this.self) await this.rotate(s.id)
          else if (added.length > 0) await this.sendKeyTo(s.id, added)
          // A member left: it could not hand the others a secret it must not know, so the first admin picks one.
          if (rekey) await this.rekey(s.id)
          // Our concurrent change lost to this one: make it again on top of the winner (G5).
          if (lost?.remove !== undefined && s.members.includes(lost.remove)) await this.removeMember(s.id, lost.remove)
          if (lost?.add !== undefined && !s.members.includes(lost.add)) await this.addMember(s.id, lost.add)
          await this.retryPending(s.id)
        })().catch((err) => { this.init.logger.info('group follow-up failed', { code: (err as GroupError).code ?? 'ERR' }) })
      }
    }
  }

  /** What our own state `cur` changed from its parent: one removal or addition. */
  private ourChange (r: GroupRecord, cur: GroupState): { remove?: SessionId, add?: SessionId } | undefined {
    const parent = this.stateByHash(r, cur.parent)
    if (parent === undefined) return undefined
    const remove = parent.members.find((m) => !cur.members.includes(m) && m !== this.self)
    const add = cur.members.find((m) => !parent.members.includes(m))
    return { ...(remove === undefined ? {} : { remove }), ...(add === undefined ? {} : { add }) }
  }

  /** A new state with the same members and a new secret (after a leave). */
  private async rekey (id: string): Promise<void> {
    const r = await this.member(id)
    const cur = stateOf(r)
    await this.change(r, { members: cur.members, admins: cur.admins }, { rotate: true })
  }

  private async sendKeyTo (id: string, peers: SessionId[]): Promise<void> {
    const own = await this.groups.ownKey(id)
    if (own === undefined) return
    await this.init.messenger.sendGroupControl(peers.filter((p) => p !== this.self).map((peer) => ({ peer, group: encodeKeyControl(id, own) })), async () => [])
  }

  /** A group message (gossip, a direct copy, or from a group mailbox): group-intake.ts. */
  async receive (bytes: Uint8Array, groupHint?: string, via: 'live' | 'mailbox' = 'live'): Promise<GroupVerdict> {
    return await this.intake.receive(bytes, groupHint, via)
  }

  private async retryPending (id: string): Promise<void> {
    await this.intake.retryPending(id)
  }

  // ---- group mailboxes ----

  /** Reads the group mailboxes for what gossip missed (group-collector.ts, G6). */
  async collect (): Promise<void> {
    await this.collector.collect()
  }

  // ---- helpers ----

  private withState (r: GroupRecord, s: GroupState, secret: Uint8Array | undefined, now: number): GroupRecord {
    const secrets = secret === undefined ? r.secrets : [...r.secrets, { stateHash: stateHash(s), secret: b64(secret), since: now }]
    const keep = secrets.filter((x, i) => i === secrets.length - 1 || now - x.since < GROUP_SECRET_RETENTION_MS + DAY_MS)
    return { ...r, state: encodeStateB64(s), history: [...r.history, r.state].slice(-MAX_STATE_HISTORY), secrets: keep }
  }

  private stateByHash (r: GroupRecord, hash: string): GroupState | undefined {
    if (hash === '') return undefined
    for (const h of [r.state, ...r.history]) {
      const s = decodeState(new Uint8Array(Buffer.from(h, 'base64')))
      if (stateHash(s) === hash) return s
    }
    return undefined
  }

  private ownKeyOps (id: string, key: SenderKey): StoreOp[] {
    return [this.groups.ownKeyOp(id, key), { type: 'put', key: ['group-key-index', key.keyId], value: jsonValue({ group: id, member: this.self }) }]
  }

  private async dropAllKeysOps (id: string, members: SessionId[]): Promise<StoreOp[]> {
    const own = await this.groups.ownKey(id)
    const ops: StoreOp[] = [this.groups.ownKeyOp(id, undefined), ...(own === undefined ? [] : [{ type: 'del', key: ['group-key-index', own.keyId] } as StoreOp])]
    for (const m of members) ops.push(...await this.groups.dropMemberKeysOps(id, m))
    return ops
  }

  private async member (id: string): Promise<GroupRecord> {
    const r = await this.record(id)
    if (r.local === 'request') throw new GroupError('ERR_GROUP_REQUEST', 'accept the group invite first')
    if (r.local !== 'accepted') throw new GroupError('ERR_NOT_MEMBER', 'you are no longer a member of this group')
    return r
  }

  private requireAdmin (s: GroupState): void {
    if (!s.admins.includes(this.self)) throw new GroupError('ERR_GROUP_NOT_ADMIN', 'only an admin can change who is in the group')
  }

  private memberId (raw: unknown): SessionId {
    if (typeof raw !== 'string') throw new GroupError('ERR_BAD_REQUEST', 'a member is a Session ID')
    const id = parseSessionId(raw)
    if (id === this.self) throw new GroupError('ERR_SELF', 'you are in your groups already')
    return id
  }

  private subscribeTo (r: GroupRecord): void {
    if (r.local !== 'accepted' && r.local !== 'request') return
    const secret = currentSecret(r)
    if (secret === undefined) return
    const topic = topicFor(secret)
    const old = this.topics.get(r.id)
    if (old === topic) return
    if (old !== undefined) this.init.net.unsubscribe(old)
    this.topics.set(r.id, topic)
    this.init.net.subscribe(topic, (data) => { void this.receive(data, r.id) })
  }

  private unsubscribe (id: string): void {
    const topic = this.topics.get(id)
    if (topic !== undefined) this.init.net.unsubscribe(topic)
    this.topics.delete(id)
  }

  /** As changed(), for a record read from the store: a disappearing last message's text (kept out of it) read from its row first. */
  private async changedWithText (r: GroupRecord): Promise<GroupView> {
    return this.changed(await this.withText(r))
  }

  private changed (r: GroupRecord): GroupView {
    const v = this.view(r)
    this.emit({ type: 'group', group: v })
    return v
  }

  private emit (e: GroupEvent): void {
    try { this.init.onEvent(e) } catch { /* a listener's failure is not ours */ }
  }
}


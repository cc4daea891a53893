/**
 * The node's use cases for one-to-one chat: contacts, the user's profile, sending (and
 * resending, replying, deleting) texts, receiving envelopes, marking a conversation read,
 * search. Every received message is committed together with the session state that
 * decrypted it (one batch), and only then acknowledged to the sender. Every write that
 * reads a record first runs under one lock, so a message arriving meanwhile cannot be lost
 * between the read and the write.
 */
import { randomBytes } from 'node:crypto'
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { SottoError } from '../errors.js'
import { applyChange, ContactBook, currentContact, newContact, previewOf, type Contact, type ContactChange } from './contacts.js'
import { MessagingError } from './errors.js'
import { applyIncoming, type GroupControlHandler, type Incoming } from './incoming.js'
import { MessageLog, type Message, type MessageState, type Quote, type StateExtra } from './message-log.js'
import { Mutex } from './mutex.js'
import { deliveryErrorCode, FIRST_BACKOFF_MS, Outbox, type OutboxEntry, type OutboxKind } from './outbox.js'
import { decodePayload, encodePayload, MAX_QUOTE_LENGTH, MAX_RECEIPT_IDS, MAX_TEXT_LENGTH, type Payload, type ReceiptKind, type TextPayload } from './payload.js'
import { cleanProfileName, nextVersion, ProfileStore } from './profile.js'
import type { DeliveryResult, EnvelopeTransport, MessengerEvent, SessionCrypto } from './ports.js'
import { receiptDelayMs } from './receipt-delay.js'
import { search, type SearchResult } from './search.js'
import type { AttachmentRef } from '../attachments/refs.js'
import type { EphemeralKeys } from '../store/ephemeral-keys.js'
import { ExpiryIndex, MAX_EXPIRED_PER_BATCH, rowSealer } from './expiry-index.js'
import { ExpiryScheduler } from './expiry-scheduler.js'
import { GUARD_KEEP_MS, timerRowId } from './incoming.js'
import { messageTimerOf, ownChange, parseTimerChange, TIMER_OFF, type TimerSetting } from './timer.js'
import type { CallSignal } from '../calls/signal.js'

/**
 * What became of an envelope: `refused` ones may only be early (a message before its
 * session's first) and stay in the mailbox; `rejected` ones can never open here (not sealed
 * to us, tampered, not a message) and may be deleted by whoever holds them.
 */
export type ReceiveVerdict = 'accepted' | 'duplicate' | 'refused' | 'rejected'

/** Tables that held something of an expired message, compacted after it is deleted. */
const EXPIRY_TABLES = ['msg', 'msg-id', 'inbox', 'outbox', 'expiry', 'burn-wait', 'msg-gone']

/** What sealing says when the contact's prekey record was not found (yet): crypto/errors.ts NoSessionError. */
const NO_RECORD_YET = 'ERR_NO_SESSION'

/** Refusals that no later envelope or session can change. */
const FINAL_REFUSALS = new Set(['ERR_ENVELOPE', 'ERR_UNKNOWN_VERSION', 'ERR_PAYLOAD'])

export interface MessengerInit {
  self: SessionId
  store: SecureStore
  crypto: SessionCrypto
  transport: EnvelopeTransport
  logger: ComponentLogger
  now?: () => number
  onEvent?: (event: MessengerEvent) => void
  /**
   * Delay before a read receipt is sent, so receipts are not an immediate, deterministic
   * timing signal (E5). Default: receiptDelayMs (receipt-delay.ts), uniform in [2 s, 30 s].
   */
  receiptDelayMs?: () => number
  /** Group control payloads (node/groups); without it they are ignored. */
  groups?: GroupControlHandler
  /**
   * Short-lived keys for disappearing messages' rows (store/ephemeral-keys.ts); without them
   * (tests in memory) those rows are sealed with the data key only.
   */
  ephemeral?: EphemeralKeys
  /** Rewrites the database files of these tables after disappearing messages were deleted. */
  compact?: (tables: string[]) => Promise<void>
  /**
   * What else of expiring messages goes in their batch (their files: node/attachments), the
   * tables that held it, and what to do once committed.
   */
  expireExtras?: (messages: Message[]) => Promise<{ ops: StoreOp[], tables: string[], after?: () => void }>
  /**
   * Call signalling that opened in a session (node/calls), told after the commit with how it
   * came (a mailbox copy is stale by design); without it, it is ignored.
   */
  calls?: (from: SessionId, call: CallSignal, via: 'direct' | 'mailbox') => void
  /**
   * Expired messages of a conversation that is no contact's (a group's, node/groups): the
   * writes that keep its record in step (unread, last message, queued copies), the tables
   * they touch, and what to tell once committed. Called under the lock, inside the sweep.
   */
  expireConversation?: (peer: SessionId, rows: Array<{ id: string, message?: Message }>) => Promise<{ ops: StoreOp[], tables: string[], after?: () => void } | undefined>
}

export interface SendOptions {
  signal?: AbortSignal
  /** The id of a message in the same conversation this text replies to. */
  quote?: string
  /** Files to carry (node/attachments); with them the text may be empty. */
  attachments?: AttachmentRef[]
}

/** Sealed envelopes for one peer, ready to queue, or the code of the seal that failed. */
type Sealed = { entries: OutboxEntry[], profileVersion?: number } | { error: string }

export class Messenger {
  readonly contacts: ContactBook
  readonly log: MessageLog
  readonly outbox: Outbox
  readonly profiles: ProfileStore
  readonly expiry: ExpiryIndex
  private readonly lock = new Mutex()
  private readonly now: () => number
  /** The account store, with the short-lived key file written before every batch (a row's key is on disk before the row). */
  private readonly store: SecureStore
  private readonly scheduler: ExpiryScheduler
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly pendingReceipts = new Map<string, { kind: ReceiptKind, ids: string[] }>()

  constructor (private readonly init: MessengerInit) {
    this.now = init.now ?? Date.now
    const keys = init.ephemeral
    this.store = keys === undefined
      ? init.store
      : {
          get: async (k) => await init.store.get(k),
          put: async (k, v) => { await keys.flush(); await init.store.put(k, v) },
          del: async (k) => { await init.store.del(k) },
          batch: async (ops) => { await keys.flush(); await init.store.batch(ops) },
          list: (prefix, options) => init.store.list(prefix, options),
          close: async () => { await init.store.close() }
        }
    this.log = new MessageLog(this.store, keys === undefined ? undefined : rowSealer(keys))
    this.contacts = new ContactBook(this.store, this.now, async (peer, id) => (await this.log.find(peer, id))?.text)
    this.expiry = new ExpiryIndex(this.store)
    this.scheduler = new ExpiryScheduler({
      now: this.now,
      sweep: async () => await this.expireDue(),
      onError: (err) => { this.init.logger.warn('expiring messages failed', { code: (err as SottoError).code ?? 'ERR_INTERNAL' }) }
    })
    this.profiles = new ProfileStore(init.store)
    this.outbox = new Outbox({
      store: init.store,
      transport: init.transport,
      logger: init.logger,
      now: this.now,
      onSettled: async (entry, result, drop) => { await this.settled(entry, result, drop) },
      onRefused: async (entry) => await this.reseal(entry),
      seal: async (entry) => await this.sealQueued(entry),
      onAttemptFailed: async (entry, result) => { await this.attemptFailed(entry, result) }
    })
  }

  /** Starts retrying queued envelopes (and those left from before a restart). */
  start (): void {
    this.outbox.start()
    void this.outbox.retryDue(true)
    this.scheduler.start(undefined)
    void this.expiry.next().then((at) => { if (at !== undefined) this.scheduler.wake(at) }, () => {})
  }

  stop (): void {
    this.scheduler.stop()
    this.outbox.stop()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  /**
   * Runs `fn` under the messenger's lock, for the group layer's writes that share the message
   * log and the sessions (one batch each, never interleaved with a 1:1 commit).
   */
  async locked<T> (fn: () => Promise<T>): Promise<T> {
    return await this.lock.run(fn)
  }

  /**
   * The account store as the message log needs it: every batch writes the short-lived key
   * file first, so a row sealed under a new key is never committed before its key (group
   * rows under a timer are written by node/groups with this store).
   */
  get storeWithKeys (): SecureStore {
    return this.store
  }

  /** A message written outside the messenger (a group's) expires at `at`: the sweep runs by then. */
  wakeExpiry (at: number): void {
    this.scheduler.wake(at)
  }

  /**
   * Seals group control payloads pairwise (each inside its 1:1 session, G8) and queues them in
   * one batch with `extraOps` (say, the new sender key they distribute): the key is stored only
   * together with its distribution, so nothing is sent under it before that went out. Then
   * tries each once. A payload whose seal failed (no prekey record found yet: many members
   * looking each other up at once, a member offline too long for its record) is queued
   * unsealed and sealed again by the outbox's retries; those peers are returned. Only an
   * identity change is not queued: it waits for the user.
   */
  async sendGroupControl (items: Array<{ peer: SessionId, group: Record<string, unknown> }>, extraOps: () => Promise<StoreOp[]>, options: { signal?: AbortSignal } = {}): Promise<{ failed: SessionId[] }> {
    await Promise.all([...new Set(items.map((i) => i.peer))].map(async (peer) => { await this.init.crypto.prepare?.(peer, options).catch(() => {}) }))
    const failed: SessionId[] = []
    const entries = await this.lock.run(async () => {
      const out: OutboxEntry[] = []
      const later: OutboxEntry[] = []
      const now = this.now()
      for (const item of items) {
        const id = randomBytes(16).toString('hex')
        try {
          const envelope = await this.init.crypto.seal(item.peer, encodePayload({ v: 1, t: 'group', group: item.group }), options)
          out.push({ id, peer: item.peer, kind: 'group', group: JSON.stringify(item.group), envelope: Buffer.from(envelope).toString('base64'), createdAt: now, attempts: 0, nextAttemptAt: now })
        } catch (err) {
          await this.noteIdentityChange(item.peer, err)
          const code = (err as SottoError).code ?? 'ERR_SEAL'
          this.init.logger.info('could not seal a group payload', { code })
          failed.push(item.peer)
          if (code !== 'ERR_IDENTITY_CHANGED') later.push({ id, peer: item.peer, kind: 'group', group: JSON.stringify(item.group), envelope: '', createdAt: now, attempts: 1, nextAttemptAt: now + FIRST_BACKOFF_MS })
        }
      }
      await this.store.batch([...await extraOps(), ...[...out, ...later].map((e) => this.outbox.queueOp(e))])
      return out
    })
    await Promise.all(entries.map(async (e) => await this.outbox.attempt(e, options).catch(() => undefined)))
    return { failed }
  }

  /**
   * Seals a call signal (node/calls) and hands it to the peer's device directly: never to the
   * outbox and never to a mailbox, since a call is now or never (R18). Nothing is stored but
   * the session step. Expected failures (unreachable, locked, no session) are values.
   */
  async sendCallSignal (peer: SessionId, call: CallSignal, options: { signal?: AbortSignal } = {}): Promise<DeliveryResult> {
    if (this.init.transport.deliverDirect === undefined) return { ok: false, error: 'UNREACHABLE' }
    let envelope: Uint8Array
    try {
      await this.init.crypto.prepare?.(peer, options)
      envelope = await this.lock.run(async () => await this.init.crypto.seal(peer, encodePayload({ v: 1, t: 'call', call }), options))
    } catch (err) {
      await this.noteIdentityChange(peer, err)
      this.init.logger.info('could not seal a call signal', { code: (err as SottoError).code ?? 'ERR_SEAL' })
      return { ok: false, error: (err as SottoError).code ?? 'ERR_SEAL' }
    }
    return await this.init.transport.deliverDirect(peer, envelope, options)
  }

  // ---- contacts ----

  /** Adds a contact. An existing one is never renamed; a request becomes accepted. */
  async addContact (id: SessionId, name: unknown = ''): Promise<{ contact: Contact, existed: boolean }> {
    if (id === this.init.self) throw new MessagingError('ERR_SELF', 'that is your own Session ID')
    const before = await this.contacts.get(id)
    const added = await this.lock.run(async () => await this.contacts.add(id, name))
    if (before?.state === 'request' && added.contact.state === 'accepted') await this.sendPendingReadReceipts(id)
    if (!added.existed || before?.state !== added.contact.state) this.emit({ type: 'contact', contact: added.contact })
    return added
  }

  /** Renames (name '' clears the local name), accepts, blocks, verifies. */
  async updateContact (id: SessionId, change: ContactChange): Promise<Contact> {
    const { before, after } = await this.lock.run(async () => {
      const existing = await this.contacts.get(id)
      if (existing === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
      const next = applyChange(existing, change)
      await this.store.batch([this.contacts.putOp(next)])
      return { before: existing, after: next }
    })
    if (before.state === 'request' && after.state === 'accepted') await this.sendPendingReadReceipts(id)
    this.emit({ type: 'contact', contact: after })
    return after
  }

  /** Removes a contact with its whole conversation and anything still queued for it, in one batch. */
  async removeContact (id: SessionId): Promise<void> {
    await this.lock.run(async () => {
      if (await this.contacts.get(id) === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
      const ops = [
        ...await this.log.prepareRemoveConversation(id),
        ...await this.outbox.dropAllOps(id),
        ...await this.expiry.dropPeerOps(id),
        this.profiles.peerDelOp(id),
        this.contacts.delOp(id)
      ]
      await this.store.batch(ops)
      this.log.removed(id)
    })
    for (const kind of ['delivered', 'read'] as const) this.pendingReceipts.delete(`${id}:${kind}`)
    this.emit({ type: 'contact-removed', sessionId: id })
  }

  // ---- profile ----

  async profile (): Promise<{ displayName: string | null }> {
    return { displayName: (await this.profiles.own()).displayName }
  }

  /**
   * Sets (or, with null, clears) the user's display name and sends it to every accepted
   * contact there is a conversation with; the others get it with the first text to them.
   */
  async setProfile (displayName: unknown): Promise<{ displayName: string | null }> {
    const name = cleanProfileName(displayName)
    const queued = await this.lock.run(async () => {
      const own = await this.profiles.own()
      const next = { displayName: name, version: nextVersion(own.version, this.now()) }
      await this.store.batch([this.profiles.ownOp(next)])
      const out: OutboxEntry[] = []
      for (const contact of await this.contacts.list()) {
        if (contact.state !== 'accepted' || contact.lastMessageAt === undefined) continue
        const sealed = await this.sealFor(contact, [], { profileDue: true })
        if ('error' in sealed) continue // it goes with the next text instead
        await this.store.batch([...sealed.entries.map((e) => this.outbox.queueOp(e)), this.contacts.putOp({ ...contact, profileSentVersion: next.version })])
        out.push(...sealed.entries)
      }
      return out
    })
    for (const entry of queued) void this.outbox.attempt(entry).catch(() => {})
    return { displayName: name }
  }

  // ---- disappearing messages ----

  /**
   * Changes the conversation's timer (docs/PROTOCOL.md §12): the next Lamport version, a row
   * in the conversation, and the change sealed for the contact in the same batch (queued
   * unsealed when the seal cannot happen yet, like group control). The same setting again
   * changes nothing. `change` is checked here: MessagingError ERR_TIMER.
   */
  async setTimer (id: SessionId, change: unknown, options: { signal?: AbortSignal } = {}): Promise<Contact> {
    const wanted = parseTimerChange(change)
    if (await this.contacts.get(id) === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
    await this.init.crypto.prepare?.(id, options).catch(() => {})
    const done = await this.lock.run(async () => {
      const contact = await this.contacts.get(id)
      if (contact === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
      if (contact.state === 'blocked') throw new MessagingError('ERR_CONTACT_BLOCKED', 'this contact is blocked; unblock it to change the timer')
      const current: TimerSetting = contact.timer ?? TIMER_OFF
      if (current.mode === wanted.mode && current.seconds === wanted.seconds) return { contact, row: undefined, entries: [] as OutboxEntry[] }
      const next = ownChange(current, wanted, this.init.self, this.now())
      const updated = currentContact({ ...contact, timer: next })
      const { message: row, ops } = await this.log.prepareAppend({
        id: timerRowId(this.init.self, next), peer: id, direction: 'out', text: '', sentAt: next.changedAt, state: 'delivered',
        event: { type: 'timer', mode: next.mode, seconds: next.seconds }
      })
      const entryId = randomBytes(16).toString('hex')
      const payload: Payload = { v: 1, t: 'timer', mode: next.mode, seconds: next.seconds, version: next.version, changedAt: next.changedAt }
      const sealed = await this.sealFor(updated, [{ kind: 'timer', id: entryId, payload }], options, false)
      const now = this.now()
      const entries: OutboxEntry[] = 'error' in sealed
        ? (sealed.error === 'ERR_IDENTITY_CHANGED' ? [] : [{ id: entryId, peer: id, kind: 'timer', envelope: '', createdAt: now, attempts: 1, nextAttemptAt: now + FIRST_BACKOFF_MS }])
        : sealed.entries
      await this.store.batch([...ops, this.contacts.putOp(updated), ...entries.map((e) => this.outbox.queueOp(e))])
      this.log.committed(row)
      return { contact: updated, row, entries: entries.filter((e) => e.envelope !== '') }
    })
    if (done.row !== undefined) {
      this.emit({ type: 'message', message: done.row })
      this.emit({ type: 'contact', contact: done.contact })
    }
    for (const entry of done.entries) void this.outbox.attempt(entry).catch(() => {})
    return done.contact
  }

  /**
   * Deletes every disappearing message whose time is up, each with everything of it in one
   * batch: its row, id index and inbox entry (a guard without content stays), its queued
   * envelopes, its files, its place as the contact's last message. Then forgets the
   * short-lived keys no message needs any more and compacts the tables that held it, so
   * neither a live record nor a leftover copy in the database files can be read. Resolves
   * with the next expiry time. Run at unlock before anything is served, and by the scheduler.
   */
  async expireDue (): Promise<number | undefined> {
    for (;;) {
      const done = await this.lock.run(async () => {
        const now = this.now()
        const due = await this.expiry.due(now)
        if (due.length === 0) return undefined
        const ops: StoreOp[] = []
        const byPeer = new Map<SessionId, Array<{ id: string, seq: number, inboxSeq?: number, message?: Message }>>()
        for (const e of due) {
          ops.push(this.expiry.doneOp(e), this.expiry.unwaitOp(e.peer, e.id), this.outbox.dropOp(e.id))
          const row = await this.log.rowOf(e.peer, e.id)
          if (row === undefined) continue
          byPeer.set(e.peer, [...(byPeer.get(e.peer) ?? []), row])
        }
        const contacts: Contact[] = []
        const others: Array<{ ops: StoreOp[], tables: string[], after?: () => void }> = []
        for (const [peer, rows] of byPeer) {
          ops.push(...await this.log.prepareExpire(peer, rows, now + GUARD_KEEP_MS))
          const contact = await this.contacts.get(peer)
          if (contact === undefined) {
            // A group's conversation: its record is the group layer's to keep in step.
            const other = await this.init.expireConversation?.(peer, rows)
            if (other !== undefined) { ops.push(...other.ops); others.push(other) }
            continue
          }
          const gone = new Set(rows.map((r) => r.id))
          const unreadGone = rows.filter((r) => r.message?.direction === 'in' && r.message.state === 'received').length
          let updated = currentContact({ ...contact, unread: Math.max(0, contact.unread - unreadGone) })
          if (contact.lastMessage !== undefined && gone.has(contact.lastMessage.id)) {
            const latest = await this.log.latest(peer, gone)
            updated = currentContact({ ...updated, lastMessage: latest === undefined ? undefined : previewOf(latest) })
            if (updated.lastMessage === undefined) delete updated.lastMessage
          }
          ops.push(this.contacts.putOp(updated))
          contacts.push(updated)
        }
        const messages = [...byPeer.values()].flat().flatMap((r) => r.message === undefined ? [] : [r.message])
        const files = await this.init.expireExtras?.(messages.filter((m) => m.attachments !== undefined)) ?? { ops: [], tables: [] }
        const extras = {
          ops: files.ops,
          tables: [...files.tables, ...others.flatMap((o) => o.tables)],
          after: () => { for (const f of [files.after, ...others.map((o) => o.after)]) { try { f?.() } catch { /* each follow-up is its owner's */ } } }
        }
        // A row written and deleted while both are still in LevelDB's memtable would be flushed,
        // value and tombstone together, into a bottom-level table that the compaction after the
        // delete does not rewrite (measured, test/disappearing/leveldb-leftovers.test.ts); so the
        // rows are compacted out of the memtable first, and the delete then merges down onto them.
        await this.compact([...EXPIRY_TABLES, ...extras.tables])
        await this.store.batch([...ops, ...extras.ops])
        await this.forgetUnneededKeys()
        return { byPeer, contacts, extras, more: due.length >= MAX_EXPIRED_PER_BATCH }
      })
      if (done === undefined) break
      for (const [peer, rows] of done.byPeer) this.emit({ type: 'messages-expired', peer, ids: rows.map((r) => r.id) })
      for (const c of done.contacts) this.emit({ type: 'contact', contact: c })
      try { done.extras.after?.() } catch { /* the attachments' follow-up is their own */ }
      // Deleted values stay in LevelDB's files until a compaction rewrites them.
      await this.compact([...EXPIRY_TABLES, ...done.extras.tables])
      if (!done.more) break
    }
    return await this.expiry.next()
  }

  private async compact (tables: string[]): Promise<void> {
    await this.init.compact?.(tables).catch((err) => {
      this.init.logger.warn('compaction for expired messages failed', { code: (err as SottoError).code ?? 'ERR_INTERNAL' })
    })
  }

  /**
   * Run at unlock, after expireDue: drops the guards of expired messages whose time is over
   * (no copy of them can come any more), and any short-lived key no message needs (one made
   * for a batch that never landed, or left by a stop between a batch and its key's removal).
   */
  async pruneGuards (): Promise<void> {
    await this.lock.run(async () => {
      const ops = await this.log.pruneGuardsOps(this.now())
      if (ops.length > 0) await this.store.batch(ops)
      await this.forgetUnneededKeys()
    })
  }

  /** Drops the short-lived keys that no pending message is sealed under (called under the lock). */
  private async forgetUnneededKeys (): Promise<void> {
    const keys = this.init.ephemeral
    if (keys === undefined) return
    const needed = await this.expiry.neededBuckets(keys)
    keys.drop(keys.buckets().filter((b) => !needed.has(b)))
    await keys.flush()
  }

  // ---- sending ----

  /** Stores the text as "sending", then tries to deliver it; resolves with its state after that try. */
  async send (to: string, text: string, options: SendOptions = {}): Promise<Message> {
    const files = options.attachments !== undefined && options.attachments.length > 0 ? options.attachments : undefined
    if (typeof text !== 'string' || (text.length === 0 && files === undefined)) throw new MessagingError('ERR_EMPTY_MESSAGE', 'nothing to send')
    if (text.length > MAX_TEXT_LENGTH) throw new MessagingError('ERR_MESSAGE_TOO_LONG', `a message has at most ${MAX_TEXT_LENGTH} characters`)
    const target = await this.contacts.resolve(to)
    const peer = typeof target === 'string' ? target : target.sessionId
    if (peer === this.init.self) throw new MessagingError('ERR_SELF', 'you cannot write to yourself')
    if (typeof target !== 'string' && target.state === 'blocked') throw new MessagingError('ERR_CONTACT_BLOCKED', 'this contact is blocked; unblock it to write')
    const quote = options.quote === undefined ? undefined : await this.quoteFor(peer, options.quote)

    // A first message needs the contact's record from the DHT: look it up before the lock.
    await this.init.crypto.prepare?.(peer, options)
    const sentAt = this.now()
    const id = randomBytes(16).toString('hex')
    const done = await this.lock.run(async () => {
      // Writing to a new Session ID makes it a contact (no local name: its profile name or ID shows).
      const existing = await this.contacts.get(peer)
      const contact = existing ?? newContact(peer, '', 'accepted', sentAt)
      // Sent under the conversation's timer as it is now (docs/PROTOCOL.md §12).
      const setting = contact.timer ?? TIMER_OFF
      const timer = messageTimerOf(setting)
      const expiresAt = timer?.mode === 'after-send' ? sentAt + timer.seconds * 1000 : undefined
      const draft: Omit<Message, 'seq' | 'inboxSeq'> = {
        id, peer, direction: 'out', text, sentAt, state: 'sending',
        ...(quote === undefined ? {} : { quote }),
        ...(files === undefined ? {} : { attachments: files }),
        ...(setting.version > 0 ? { timerVersion: setting.version } : {}),
        ...(timer === undefined ? {} : { timer }),
        ...(expiresAt === undefined ? {} : { expiresAt })
      }
      const payload = this.textPayloadOf(draft)
      // The row, the contact and the queued envelopes, for the outcome of the seal.
      const writes = async (sealed: Sealed): Promise<{ message: Message, contact: Contact, entries: OutboxEntry[], ops: StoreOp[] }> => {
        // No prekey record of theirs found yet (their node was never reached, or its record has
        // not spread): the text waits in the outbox unsealed, and the outbox seals it once the
        // record is found (sealQueued), as it keeps a text for an offline contact.
        const waiting = 'error' in sealed && sealed.error === NO_RECORD_YET
        const { message, ops } = await this.log.prepareAppend({
          ...draft,
          state: 'error' in sealed && !waiting ? 'failed' : 'sending',
          ...('error' in sealed ? { lastError: sealed.error } : {})
        })
        if (expiresAt !== undefined) ops.push(this.expiry.expireOp(peer, id, expiresAt))
        else if (timer !== undefined) ops.push(this.expiry.waitOp(peer, id))
        const updated = currentContact({
          ...contact,
          // Writing to a request is how it is accepted.
          state: contact.state === 'request' ? 'accepted' : contact.state,
          lastMessageAt: sentAt,
          lastMessage: previewOf(message),
          ...('error' in sealed || sealed.profileVersion === undefined ? {} : { profileSentVersion: sealed.profileVersion })
        })
        const unsealed: OutboxEntry = { id, peer, kind: 'text', envelope: '', createdAt: sentAt, attempts: 1, nextAttemptAt: sentAt + FIRST_BACKOFF_MS, ...(expiresAt === undefined ? {} : { expiresAt }) }
        const entries = 'error' in sealed ? (waiting ? [unsealed] : []) : sealed.entries.map((e) => e.id === id && expiresAt !== undefined ? { ...e, expiresAt } : e)
        // A row sealed under a new short-lived key: the key goes to disk before the batch.
        await this.init.ephemeral?.flush()
        return { message, contact: updated, entries, ops: [...ops, this.contacts.putOp(updated), ...entries.map((e) => this.outbox.queueOp(e))] }
      }
      // The message and its queued envelope land with the session state that sealed it: it is
      // never shown as sent without being queued, and a sent message costs one write.
      let prepared: Awaited<ReturnType<typeof writes>> | undefined
      const sealed = await this.sealFor(contact, [{ kind: 'text', id, payload }], options, true, async (s) => {
        prepared = await writes(s)
        return prepared.ops
      })
      if (prepared === undefined || 'error' in sealed) {
        prepared = await writes(sealed)
        await this.store.batch(prepared.ops)
      }
      const { message, contact: updated, entries } = prepared
      this.log.committed(message)
      return { message, contact: updated, entries, accepted: existing?.state === 'request' }
    })
    if (done.message.expiresAt !== undefined) this.scheduler.wake(done.message.expiresAt)
    this.emit({ type: 'message', message: done.message })
    this.emit({ type: 'contact', contact: done.contact })
    if (done.accepted) await this.sendPendingReadReceipts(peer)
    // The profile (when due) goes first, so the contact knows our name when the text shows.
    // An unsealed entry waits for its first retry: its record was looked up just now.
    for (const entry of done.entries) if (entry.envelope !== '') await this.outbox.attempt(entry, options)
    return (await this.log.find(peer, id)) ?? done.message
  }

  /** Queues a failed outgoing message again (same id and time), and tries it once. */
  async resend (peer: SessionId, id: string, options: { signal?: AbortSignal } = {}): Promise<Message> {
    const message = await this.log.find(peer, id)
    if (message === undefined || message.deleted === true) throw new MessagingError('ERR_UNKNOWN_MESSAGE', 'no such message')
    if (message.direction !== 'out' || message.state !== 'failed') throw new MessagingError('ERR_NOT_FAILED', 'only a message that was not sent can be sent again')
    await this.init.crypto.prepare?.(peer, options)
    const done = await this.lock.run(async () => {
      const contact = await this.contacts.get(peer)
      if (contact === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
      if (contact.state === 'blocked') throw new MessagingError('ERR_CONTACT_BLOCKED', 'this contact is blocked; unblock it to write')
      const current = await this.log.find(peer, id)
      if (current === undefined || current.deleted === true || current.state !== 'failed') throw new MessagingError('ERR_NOT_FAILED', 'only a message that was not sent can be sent again')
      const sealed = await this.sealFor(contact, [{ kind: 'text', id, payload: this.textPayloadOf(current) }], options)
      // State goes back to "sending" on purpose: this is the one move against the order.
      const next: Message = 'error' in sealed ? { ...current, lastError: sealed.error } : { ...current, state: 'sending' }
      if (!('error' in sealed)) delete next.lastError
      const ops: StoreOp[] = [this.log.putOp(next)]
      let updated = contact
      if (!('error' in sealed)) {
        ops.push(...sealed.entries.map((e) => this.outbox.queueOp(e.id === id && current.timer?.mode === 'after-send' && current.expiresAt !== undefined ? { ...e, expiresAt: current.expiresAt } : e)))
        if (contact.lastMessage?.id === id) updated = currentContact({ ...contact, lastMessage: previewOf(next) })
        if (sealed.profileVersion !== undefined) updated = { ...updated, profileSentVersion: sealed.profileVersion }
        if (updated !== contact) ops.push(this.contacts.putOp(updated))
      }
      await this.store.batch(ops)
      return { message: next, entries: 'error' in sealed ? [] : sealed.entries, contact: updated !== contact ? updated : undefined }
    })
    this.emitState(done.message)
    if (done.contact !== undefined) this.emit({ type: 'contact', contact: done.contact })
    for (const entry of done.entries) await this.outbox.attempt(entry, options)
    return (await this.log.find(peer, id)) ?? done.message
  }

  /**
   * Deletes a message here: its text leaves the store (a tombstone row stays, see
   * message-log.ts), and so does its envelope if it is still queued. With `everyone`, for
   * our own messages only, a sealed "delete" goes to the peer too; it is queued in the same
   * batch, so the two never part.
   */
  async deleteMessage (peer: SessionId, id: string, options: { everyone?: boolean } = {}): Promise<void> {
    const everyone = options.everyone === true
    const found = await this.log.find(peer, id)
    if (found === undefined || found.deleted === true) throw new MessagingError('ERR_UNKNOWN_MESSAGE', 'no such message')
    if (everyone && found.direction !== 'out') throw new MessagingError('ERR_NOT_OWN_MESSAGE', 'only your own messages can be deleted for everyone')
    if (everyone) await this.init.crypto.prepare?.(peer)
    const done = await this.lock.run(async () => {
      const message = await this.log.find(peer, id)
      if (message === undefined || message.deleted === true) throw new MessagingError('ERR_UNKNOWN_MESSAGE', 'no such message')
      const contact = await this.contacts.get(peer)
      let entries: OutboxEntry[] = []
      if (everyone) {
        if (contact === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
        const entryId = randomBytes(16).toString('hex')
        const sealed = await this.sealFor(contact, [{ kind: 'delete', id: entryId, ids: [id], payload: { v: 1, t: 'delete', ids: [id] } }], {}, false)
        if ('error' in sealed) throw new MessagingError(sealed.error, 'the deletion could not be sealed for the contact; nothing was deleted')
        entries = sealed.entries
      }
      const ops = [...await this.log.prepareDelete(peer, [message]), this.outbox.dropOp(id), ...entries.map((e) => this.outbox.queueOp(e))]
      // A tombstone has no text, so no short-lived key: an unread after-read one no longer waits.
      if (message.timer !== undefined && message.expiresAt === undefined) ops.push(this.expiry.unwaitOp(peer, id))
      let updated: Contact | undefined
      if (contact !== undefined) {
        const latest = await this.log.latest(peer, new Set([id]))
        updated = currentContact({ ...contact, unread: Math.max(0, contact.unread - (message.direction === 'in' && message.state === 'received' ? 1 : 0)) })
        if (latest === undefined) delete updated.lastMessage
        else updated.lastMessage = previewOf(latest)
        ops.push(this.contacts.putOp(updated))
      }
      await this.store.batch(ops)
      return { entries, contact: updated }
    })
    this.emit({ type: 'message-deleted', peer, id })
    if (done.contact !== undefined) this.emit({ type: 'contact', contact: done.contact })
    for (const entry of done.entries) void this.outbox.attempt(entry).catch(() => {})
  }

  private async quoteFor (peer: SessionId, id: unknown): Promise<Quote> {
    const quoted = typeof id === 'string' ? await this.log.find(peer, id) : undefined
    if (quoted === undefined || quoted.deleted === true) throw new MessagingError('ERR_UNKNOWN_MESSAGE', 'the quoted message is not in this conversation')
    return { id: quoted.id, text: quoted.text.slice(0, MAX_QUOTE_LENGTH), fromMe: quoted.direction === 'out' }
  }

  private textPayloadOf (m: Omit<Message, 'seq' | 'inboxSeq'>): TextPayload {
    // The setting it was sent under travels with it; "off" too, so a peer behind on the setting catches up.
    const timer = m.timerVersion === undefined ? undefined : { mode: m.timer?.mode ?? 'off' as const, seconds: m.timer?.seconds ?? 0, version: m.timerVersion }
    return {
      v: 1, t: 'text', id: m.id, sentAt: m.sentAt, text: m.text,
      ...(m.quote === undefined ? {} : { replyTo: { id: m.quote.id, text: m.quote.text } }),
      ...(m.attachments === undefined ? {} : { attachments: m.attachments }),
      ...(timer === undefined ? {} : { timer })
    }
  }

  /**
   * Seals payloads for a contact, under the lock, as outbox entries. Our profile goes first
   * when the contact has not been sent its current version, or when this seal starts a new
   * session (the contact may have lost it); `withProfile` false leaves it out. `alongside`
   * returns the caller's writes for the outcome; they land in the last seal's batch when the
   * session layer takes them (the caller commits them itself when it did not: check whether it
   * was called).
   */
  private async sealFor (contact: Contact, items: Array<{ kind: OutboxKind, id: string, ids?: string[], payload: Payload }>, options: { signal?: AbortSignal, profileDue?: boolean }, withProfile = true, alongside?: (sealed: Sealed) => Promise<StoreOp[]>): Promise<Sealed> {
    const peer = contact.sessionId
    const own = await this.profiles.own()
    let profileDue = options.profileDue === true
    if (withProfile && !profileDue && own.version > 0) {
      profileDue = contact.profileSentVersion !== own.version || !(await this.init.crypto.hasSession?.(peer) ?? true)
    }
    const all = profileDue && own.version > 0
      ? [{ kind: 'profile' as const, id: randomBytes(16).toString('hex'), payload: { v: 1, t: 'profile', name: own.displayName, version: own.version } as Payload }, ...items]
      : items
    const now = this.now()
    const entries: OutboxEntry[] = []
    const profileVersion = all.length > items.length ? { profileVersion: own.version } : {}
    const entryOf = (item: typeof all[number], envelope: Uint8Array): OutboxEntry =>
      ({ id: item.id, peer, kind: item.kind, ...(item.ids === undefined ? {} : { ids: item.ids }), envelope: Buffer.from(envelope).toString('base64'), createdAt: now, attempts: 0, nextAttemptAt: now })
    try {
      for (const [i, item] of all.entries()) {
        // The caller's writes join the last seal's batch (with every entry sealed before it).
        const last = i === all.length - 1 && alongside !== undefined
        const envelope = await this.init.crypto.seal(peer, encodePayload(item.payload), {
          signal: options.signal,
          ...(last ? { alongside: async (e: Uint8Array) => await alongside({ entries: [...entries, entryOf(item, e)], ...profileVersion }) } : {})
        })
        entries.push(entryOf(item, envelope))
      }
    } catch (err) {
      await this.noteIdentityChange(peer, err)
      const code = (err as SottoError).code ?? 'ERR_SEAL'
      this.init.logger.info('could not seal for a contact', { code })
      return { error: code }
    }
    return { entries, ...profileVersion }
  }

  /**
   * The recipient refused our envelope: most likely its one-time prekey was taken by another
   * sender first (H5). Start a fresh session from the record without a one-time prekey (X3DH
   * §4.2 allows it) and seal the same payload again.
   */
  /** A queued payload whose first seal failed, sealed now (its record looked up first, outside the lock). */
  private async sealQueued (entry: OutboxEntry): Promise<Uint8Array | undefined> {
    const payload = await this.payloadOf(entry)
    if (payload === undefined) return undefined
    try {
      await this.init.crypto.prepare?.(entry.peer)
      return await this.lock.run(async () => await this.init.crypto.seal(entry.peer, encodePayload(payload)))
    } catch (err) {
      await this.noteIdentityChange(entry.peer, err)
      this.init.logger.info('could not seal a queued payload yet', { code: (err as SottoError).code ?? 'ERR_SEAL' })
      return undefined
    }
  }

  private async reseal (entry: OutboxEntry): Promise<Uint8Array | undefined> {
    const payload = await this.payloadOf(entry)
    if (payload === undefined) return undefined
    try {
      return await this.lock.run(async () => {
        await this.init.crypto.reset(entry.peer)
        return await this.init.crypto.seal(entry.peer, encodePayload(payload), { oneTimePrekey: false })
      })
    } catch (err) {
      this.init.logger.info('could not seal a refused envelope again', { code: (err as SottoError).code ?? 'ERR_SEAL' })
      return undefined
    }
  }

  /** What a queued entry carried, rebuilt from the store. */
  private async payloadOf (entry: OutboxEntry): Promise<Payload | undefined> {
    if (entry.kind === 'profile') {
      const own = await this.profiles.own()
      return { v: 1, t: 'profile', name: own.displayName, version: own.version }
    }
    if (entry.kind === 'delete') return entry.ids === undefined ? undefined : { v: 1, t: 'delete', ids: entry.ids }
    if (entry.kind === 'timer') {
      // The setting as it is now: a later change (ours or theirs) supersedes the queued one.
      const t = (await this.contacts.get(entry.peer))?.timer
      // Superseded by the contact's own change: that is theirs, not ours to send (they would take it as ours).
      if (t === undefined || t.version === 0 || t.changedBy !== this.init.self) return undefined
      return { v: 1, t: 'timer', mode: t.mode, seconds: t.seconds, version: t.version, changedAt: t.changedAt }
    }
    if (entry.kind === 'group') return entry.group === undefined ? undefined : { v: 1, t: 'group', group: JSON.parse(entry.group) as Record<string, unknown> }
    const message = await this.log.find(entry.peer, entry.id)
    if (message === undefined || message.direction !== 'out' || message.deleted === true) return undefined
    return this.textPayloadOf(message)
  }

  /** A queued envelope reached a path (direct means the recipient committed it), or was given up. */
  private async settled (entry: OutboxEntry, result: DeliveryResult, drop: StoreOp): Promise<void> {
    // Anything but a text changes no row: its removal is written on its own.
    if (entry.kind !== undefined && entry.kind !== 'text') await this.store.batch([drop])
    if (entry.kind === 'profile') {
      // Given up: the next text carries the profile again.
      if (!result.ok) await this.forgetProfileSent(entry.peer)
      return
    }
    if (entry.kind === 'delete' || entry.kind === 'group' || entry.kind === 'timer') return
    const state = !result.ok ? 'failed' : result.via === 'direct' ? 'delivered' : 'stored'
    const extra: StateExtra = result.ok
      ? { lastError: undefined, ...(result.via === 'mailbox' ? { mailboxes: result.mailboxes, storedUntil: result.expiresAt } : {}) }
      : { lastError: deliveryErrorCode(result.error) }
    await this.setState({ peer: entry.peer, id: entry.id }, state, 'out', extra, [drop])
  }

  /** An attempt failed and the entry waits for the next one: the message says why meanwhile. */
  private async attemptFailed (entry: OutboxEntry, result: Extract<DeliveryResult, { ok: false }>): Promise<void> {
    if (entry.kind !== undefined && entry.kind !== 'text') return
    await this.setState({ peer: entry.peer, id: entry.id }, 'sending', 'out', { lastError: deliveryErrorCode(result.error) })
  }

  private async forgetProfileSent (peer: SessionId): Promise<void> {
    await this.lock.run(async () => {
      const contact = await this.contacts.get(peer)
      if (contact?.profileSentVersion === undefined) return
      const { profileSentVersion: _sent, ...rest } = contact
      await this.store.batch([this.contacts.putOp(rest)])
    })
  }

  private async sealAndDeliver (peer: SessionId, payload: Payload, options: { signal?: AbortSignal }): Promise<DeliveryResult> {
    let envelope: Uint8Array
    try {
      await this.init.crypto.prepare?.(peer, options)
      envelope = await this.lock.run(async () => await this.init.crypto.seal(peer, encodePayload(payload), options))
    } catch (err) {
      await this.noteIdentityChange(peer, err)
      this.init.logger.info('could not seal a receipt', { code: (err as SottoError).code })
      return { ok: false, error: (err as SottoError).code ?? 'ERR_SEAL' }
    }
    const result = await this.init.transport.deliver(peer, envelope, options)
    if (!result.ok) this.init.logger.info('receipt delivery failed', { error: result.error })
    return result
  }

  /**
   * Moves a message's state (forward only; see MessageLog.prepareState) and keeps the
   * contact's last-message preview in step; `alongside` is committed in the same batch (or
   * alone when the state does not move). Never call it while holding the lock.
   */
  private async setState (message: Pick<Message, 'peer' | 'id'>, state: MessageState, direction?: Message['direction'], extra: StateExtra = {}, alongside: StoreOp[] = []): Promise<Message | undefined> {
    const done = await this.lock.run(async () => {
      const prepared = await this.log.prepareState(message.peer, message.id, state, direction, extra)
      if (prepared === undefined) {
        if (alongside.length > 0) await this.store.batch(alongside)
        return undefined
      }
      const contact = await this.contacts.get(message.peer)
      const ops = [prepared.op, ...alongside]
      // Our after-read message was read: its clock starts now (the recipient's started at its reading).
      if (state === 'read' && prepared.message.direction === 'out') {
        const started = this.startClock(prepared.message)
        if (started !== undefined) { prepared.message = started.message; ops.splice(0, 1, ...started.ops) }
      }
      let updated: Contact | undefined
      if (contact?.lastMessage?.id === message.id) {
        updated = currentContact({ ...contact, lastMessage: previewOf(prepared.message) })
        ops.push(this.contacts.putOp(updated))
      }
      await this.store.batch(ops)
      return { message: prepared.message, contact: updated }
    })
    if (done === undefined) return undefined
    if (done.message.expiresAt !== undefined) this.scheduler.wake(done.message.expiresAt)
    this.emitState(done.message)
    if (done.contact !== undefined) this.emit({ type: 'contact', contact: done.contact })
    return done.message
  }

  /**
   * Starts an after-read message's clock (at its first reading here, or at the read receipt
   * for our own): its expiry time, its row sealed again under its expiry hour's key, and its
   * expiry entry in place of its wait entry. Undefined when it has no clock to start.
   */
  private startClock (m: Message): { message: Message, ops: StoreOp[] } | undefined {
    if (m.timer?.mode !== 'after-read' || m.expiresAt !== undefined) return undefined
    const message: Message = { ...m, expiresAt: this.now() + m.timer.seconds * 1000 }
    return { message, ops: [this.log.putOp(message), this.expiry.unwaitOp(m.peer, m.id), this.expiry.expireOp(m.peer, m.id, message.expiresAt as number)] }
  }

  private emitState (m: Message): void {
    this.emit({
      type: 'message-state',
      id: m.id,
      peer: m.peer,
      state: m.state,
      ...(m.lastError === undefined ? {} : { lastError: m.lastError }),
      ...(m.mailboxes === undefined ? {} : { mailboxes: m.mailboxes, storedUntil: m.storedUntil }),
      ...(m.expiresAt === undefined ? {} : { expiresAt: m.expiresAt })
    })
  }

  // ---- receiving ----

  /**
   * An envelope from the network. Resolves only after what it carries (if new) and the
   * session state are committed together, so the transport may then acknowledge it.
   */
  async receive (envelope: Uint8Array, via: 'direct' | 'mailbox' = 'direct'): Promise<ReceiveVerdict> {
    let outcome: Incoming | undefined
    try {
      await this.lock.run(async () => {
        await this.init.crypto.open(envelope, async (from, plaintext) => {
          const applied = await applyIncoming({ contacts: this.contacts, log: this.log, profiles: this.profiles, expiry: this.expiry, now: this.now(), groups: this.init.groups }, from, decodePayload(plaintext))
          outcome = applied.outcome
          // The session's batch may hold a row sealed under a new short-lived key: that key goes to disk first.
          await this.init.ephemeral?.flush()
          return applied.ops
        })
        if (outcome?.kind === 'text' && outcome.timerRow !== undefined) this.log.committed(outcome.timerRow)
        if (outcome?.kind === 'timer' && outcome.row !== undefined) this.log.committed(outcome.row)
        if (outcome?.kind === 'text') this.log.committed(outcome.message)
      })
    } catch (err) {
      const code = (err as SottoError).code
      if (code === 'ERR_DUPLICATE_MESSAGE') return 'duplicate'
      this.init.logger.info('refused an envelope', { code: code ?? 'ERR_INTERNAL' })
      return code !== undefined && FINAL_REFUSALS.has(code) ? 'rejected' : 'refused'
    }
    const done = outcome as Incoming | undefined
    if (done === undefined || done.kind === 'ignored') return 'accepted'
    if (done.kind === 'group') {
      try { done.after?.() } catch { /* the group layer's follow-up is its own */ }
      return 'accepted'
    }
    if (done.kind === 'call') {
      try { this.init.calls?.(done.from, done.call, via) } catch { /* the call layer's decision is its own */ }
      return 'accepted'
    }
    if (done.kind === 'duplicate') return 'duplicate'
    if (done.kind === 'receipt') {
      // A receipt can only move our own messages to that peer forward.
      for (const id of done.payload.ids) await this.setState({ peer: done.from, id }, done.payload.kind, 'out')
      return 'accepted'
    }
    if (done.kind === 'contact') {
      this.emit({ type: 'contact', contact: done.contact })
      return 'accepted'
    }
    if (done.kind === 'timer') {
      this.emit({ type: 'contact', contact: done.contact })
      if (done.row !== undefined) this.emit({ type: 'message', message: done.row })
      return 'accepted'
    }
    if (done.kind === 'deleted') {
      for (const id of done.ids) this.emit({ type: 'message-deleted', peer: done.peer, id })
      if (done.contact !== undefined) this.emit({ type: 'contact', contact: done.contact })
      return 'accepted'
    }
    if (done.message.expiresAt !== undefined) this.scheduler.wake(done.message.expiresAt)
    this.emit({ type: 'contact', contact: done.contact })
    if (done.timerRow !== undefined) this.emit({ type: 'message', message: done.timerRow })
    this.emit({ type: 'message', message: done.message })
    // A direct delivery is acknowledged on the stream; mail fetched from a mailbox is
    // acknowledged to its sender by a sealed receipt (E5: after a random delay).
    if (via === 'mailbox') this.scheduleReceipt(done.message.peer, 'delivered', done.message.id)
    return 'accepted'
  }

  // ---- receipts ----

  private scheduleReceipt (peer: SessionId, kind: ReceiptKind, ...ids: string[]): void {
    const key = `${peer}:${kind}`
    const pending = this.pendingReceipts.get(key)
    if (pending !== undefined) { pending.ids.push(...ids); return }
    this.pendingReceipts.set(key, { kind, ids: [...ids] })
    const delay = (this.init.receiptDelayMs ?? (() => receiptDelayMs()))()
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      const batch = this.pendingReceipts.get(key)
      this.pendingReceipts.delete(key)
      if (batch === undefined) return
      for (let i = 0; i < batch.ids.length; i += MAX_RECEIPT_IDS) {
        const receipt: Payload = { v: 1, t: 'receipt', kind: batch.kind, ids: batch.ids.slice(i, i + MAX_RECEIPT_IDS) }
        this.sealAndDeliver(peer, receipt, {}).catch(() => {})
      }
    }, delay)
    this.timers.add(timer)
  }

  /**
   * A request was accepted: the messages the user read while it was a request got no read
   * receipt then (a request is not told it was read), so they get one now.
   */
  private async sendPendingReadReceipts (peer: SessionId): Promise<void> {
    const ids = await this.log.idsWith(peer, 'in', 'read')
    if (ids.length > 0) this.scheduleReceipt(peer, 'read', ...ids)
  }

  /** Marks a conversation read and, after a randomised delay (E5), sends a read receipt. */
  async markRead (peer: SessionId): Promise<void> {
    const done = await this.lock.run(async () => {
      const contact = await this.contacts.get(peer)
      if (contact === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
      const unreadIds = await this.log.idsWith(peer, 'in', 'received')
      const ops: StoreOp[] = []
      const read: Message[] = []
      for (const id of unreadIds) {
        const prepared = await this.log.prepareState(peer, id, 'read', 'in')
        if (prepared === undefined) continue
        // Burn-on-read: an after-read message's clock starts at its first reading, not at delivery.
        const started = this.startClock(prepared.message)
        ops.push(...(started?.ops ?? [prepared.op]))
        read.push(started?.message ?? prepared.message)
      }
      let updated: Contact | undefined
      const last = contact.lastMessage === undefined ? undefined : read.find((m) => m.id === contact.lastMessage?.id)
      if (contact.unread !== 0 || last !== undefined) {
        updated = currentContact({ ...contact, unread: 0, ...(last === undefined ? {} : { lastMessage: previewOf(last) }) })
        ops.push(this.contacts.putOp(updated))
      }
      if (ops.length > 0) await this.store.batch(ops)
      return { contact: updated ?? contact, read, changed: updated !== undefined }
    })
    // Incoming messages move to "read" locally; the sender learns it from the receipt.
    for (const m of done.read) {
      if (m.expiresAt !== undefined) this.scheduler.wake(m.expiresAt)
      this.emitState(m)
    }
    if (done.changed) this.emit({ type: 'contact', contact: done.contact })
    if (done.read.length === 0 || done.contact.state !== 'accepted') return
    this.scheduleReceipt(peer, 'read', ...done.read.map((m) => m.id))
  }

  // ---- search ----

  async search (query: unknown): Promise<SearchResult> {
    return await search(this.contacts, this.log, query)
  }

  private async noteIdentityChange (peer: SessionId, err: unknown): Promise<void> {
    if ((err as SottoError).code !== 'ERR_IDENTITY_CHANGED') return
    // Called under the lock (from a seal) or outside it (a receipt's seal): a plain write.
    const contact = await this.contacts.get(peer)
    if (contact === undefined || contact.identityChanged) return
    const updated = currentContact({ ...contact, identityChanged: true, verified: false })
    await this.store.batch([this.contacts.putOp(updated)])
    this.emit({ type: 'contact', contact: updated })
  }

  private emit (event: MessengerEvent): void {
    try { this.init.onEvent?.(event) } catch { /* a listener's failure is not the sender's */ }
  }
}

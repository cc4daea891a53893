/**
 * The history of every conversation, and the arrival order of incoming messages (the
 * inbox). Writes are returned as StoreOps so the caller can commit a message in the same
 * batch as the ratchet state that decrypted it. Callers serialise writes (see Messenger).
 *
 * A deleted message stays as a tombstone: its row keeps id, direction, times and state, and
 * loses its text (and quote). The row keeps the id known, so a late copy of the same message
 * (a mailbox's, or one sealed again after a refusal) is a duplicate, not a new message, and
 * positions (`seq`, inbox cursors) do not shift.
 *
 * A message sent under a disappearing-message timer (timer.ts) is different on both counts:
 * its row is sealed a second time under a short-lived key (RowSealer, see
 * store/ephemeral-keys.ts), and when it expires the row goes entirely, leaving only a
 * content-free guard (`msg-gone`: peer, id, until) so a late copy is still a duplicate.
 */
import type { SessionId } from '../identity/session-id.js'
import type { AttachmentRef } from '../attachments/refs.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { EphemeralSealed } from '../store/ephemeral-keys.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import type { MessageTimer, TimerMode } from './timer.js'

export type Direction = 'in' | 'out'
export type MessageState = 'sending' | 'stored' | 'delivered' | 'read' | 'failed' | 'received'

export interface Message {
  id: string
  peer: SessionId
  direction: Direction
  text: string
  sentAt: number
  receivedAt?: number
  state: MessageState
  /** Position in the conversation (per peer, from 1). */
  seq: number
  /** Position in the inbox (incoming only, global, from 1). */
  inboxSeq?: number
  /**
   * Outgoing only: why the last attempt failed, as an error code. Set with "failed", and
   * while "sending" when the last try found no path yet (say ERR_NO_MAILBOX_PEER).
   */
  lastError?: string
  /** Held by this many mailboxes until storedUntil (outgoing, state "stored"). */
  mailboxes?: number
  storedUntil?: number
  /** The message this one replies to: its start, and whether it was ours. */
  quote?: Quote
  /** A tombstone: the text is gone (deleted here, or by its sender for everyone). */
  deleted?: true
  /** A group message: the group's id (then `peer` is the group id too) and its author. */
  group?: string
  from?: SessionId
  /** Files this message carries (node/attachments), with their keys: the API shows them without. */
  attachments?: AttachmentRef[]
  /** The disappearing-message timer it was sent under. */
  timer?: MessageTimer
  /** The timer's setting version it was sent under (sealed again after a refusal with it); not shown by the API. */
  timerVersion?: number
  /** When it disappears (ms); set once its clock runs (at sending for after-send, at reading for after-read). */
  expiresAt?: number
  /** A row that records a change of the conversation rather than a text (no inbox entry, never unread). */
  event?: { type: 'timer', mode: TimerMode, seconds: number }
}

/**
 * Seals the rows of disappearing messages under a short-lived key chosen from the message
 * (its expiry hour, or the unread after-read key), and opens them while that key exists.
 */
export interface RowSealer {
  seal: (m: Message, plaintext: Uint8Array) => EphemeralSealed
  open: (sealed: EphemeralSealed) => Uint8Array | undefined
}

/**
 * A row as stored. Sealed rows keep in the clear (inside the data-key seal, like every record)
 * only what deleting them needs: positions and the random id.
 */
interface SealedRow { seq: number, id: string, inboxSeq?: number, eph: EphemeralSealed }
/** What a stored row gives: always its positions; the message unless its key is gone. */
interface Row { seq: number, id: string, inboxSeq?: number, message?: Message }

export interface Quote { id: string, text: string, fromMe: boolean }

/** The fields a state change may set besides the state. */
export type StateExtra = Partial<Pick<Message, 'mailboxes' | 'storedUntil' | 'lastError' | 'expiresAt'>>

/** A record as stored, possibly by an older version (which called lastError `error`). */
function current (stored: Message & { error?: string }): Message {
  if (stored.error === undefined) return stored
  const { error, ...rest } = stored
  return { ...rest, lastError: rest.lastError ?? error }
}

/** The guard an expired (or deleted-before-it-came) message leaves: no content, only who, which, and how long. */
export interface GoneGuard { id: string, peer?: SessionId, until?: number }

/** A state only moves forward: a late "delivered" never undoes "read". */
const RANK: Record<MessageState, number> = { failed: 0, sending: 1, stored: 2, delivered: 3, received: 3, read: 4 }

interface Counter { n: number }

export class MessageLog {
  private readonly seqCache = new Map<string, number>()
  private inboxSeq: number | undefined

  constructor (private readonly store: SecureStore, private readonly sealer?: RowSealer) {}

  private row (value: Uint8Array): Row {
    const raw = JSON.parse(new TextDecoder().decode(value)) as (Message & { error?: string }) | SealedRow
    if (!('eph' in raw)) return { seq: raw.seq, id: raw.id, ...(raw.inboxSeq === undefined ? {} : { inboxSeq: raw.inboxSeq }), message: current(raw) }
    const opened = this.sealer?.open(raw.eph)
    const message = opened === undefined ? undefined : current(JSON.parse(new TextDecoder().decode(opened)) as Message)
    return { seq: raw.seq, id: raw.id, ...(raw.inboxSeq === undefined ? {} : { inboxSeq: raw.inboxSeq }), ...(message === undefined ? {} : { message }) }
  }

  /** The message of a stored row; undefined when it was sealed under a key that is gone (it expired). */
  private decode (value: Uint8Array): Message | undefined {
    return this.row(value).message
  }

  async find (peer: SessionId, id: string): Promise<Message | undefined> {
    const ref = await getJson<Counter>(this.store, ['msg-id', peer, id])
    if (ref === undefined) return undefined
    const value = await this.store.get(['msg', peer, ref.n])
    return value === undefined ? undefined : this.decode(value)
  }

  /** True when a message with this id is, or was, in the conversation, or was deleted before it came. */
  async known (peer: SessionId, id: string): Promise<boolean> {
    return (await this.store.get(['msg-id', peer, id])) !== undefined || (await this.store.get(['msg-gone', peer, id])) !== undefined
  }

  /**
   * Assigns the next positions and returns the message with the ops that store it. Incoming
   * texts get an inbox position; event rows (a timer change) never do.
   */
  async prepareAppend (message: Omit<Message, 'seq' | 'inboxSeq'>, options: { after?: Message } = {}): Promise<{ message: Message, ops: StoreOp[] }> {
    // `after`: a message prepared for the same batch, not committed yet, whose positions come first.
    const after = options.after?.peer === message.peer ? options.after : undefined
    const seq = Math.max(await this.lastSeq(message.peer), after?.seq ?? 0) + 1
    const ops: StoreOp[] = []
    const full: Message = { ...message, seq }
    if (message.direction === 'in' && message.event === undefined) {
      full.inboxSeq = Math.max(await this.lastInboxSeq(), options.after?.inboxSeq ?? 0) + 1
      ops.push({ type: 'put', key: ['inbox', full.inboxSeq], value: jsonValue({ peer: full.peer, seq }) })
      ops.push({ type: 'put', key: ['meta', 'inbox-seq'], value: jsonValue({ n: full.inboxSeq }) })
    }
    ops.push(this.putOp(full))
    ops.push({ type: 'put', key: ['msg-id', full.peer, full.id], value: jsonValue({ n: seq }) })
    ops.push({ type: 'put', key: ['msg-seq', full.peer], value: jsonValue({ n: seq }) })
    return { message: full, ops }
  }

  /** Call after the ops of prepareAppend were committed. */
  committed (message: Message): void {
    this.seqCache.set(message.peer, Math.max(this.seqCache.get(message.peer) ?? 0, message.seq))
    if (message.inboxSeq !== undefined) this.inboxSeq = Math.max(this.inboxSeq ?? 0, message.inboxSeq)
  }

  /**
   * A message's state moved forward (never back: a late "delivered" never undoes "read"),
   * with the write that stores it; undefined when nothing changes.
   */
  async prepareState (peer: SessionId, id: string, state: MessageState, direction?: Direction, extra: StateExtra = {}): Promise<{ message: Message, op: StoreOp } | undefined> {
    const message = await this.find(peer, id)
    if (message === undefined || message.deleted === true) return undefined
    if (direction !== undefined && message.direction !== direction) return undefined
    // "failed" ranks lowest (any path that later worked wins) but does end a "sending".
    const forward = RANK[state] > RANK[message.state] || (state === 'failed' && message.state === 'sending')
    const errorChanged = 'lastError' in extra && extra.lastError !== message.lastError
    if (!forward && !(state === message.state && errorChanged)) return undefined
    const next: Message = { ...message, ...extra, state }
    if (next.lastError === undefined) delete next.lastError
    return { message: next, op: this.putOp(next) }
  }

  /**
   * The write that stores a message as given (its position unchanged). A disappearing one
   * with text (not a tombstone) is sealed under its short-lived key; the caller commits after
   * that key is on disk (Messenger's store flushes the key file before each batch).
   */
  putOp (message: Message): StoreOp {
    const key = ['msg', message.peer, message.seq] as const
    if (message.timer === undefined || message.deleted === true || this.sealer === undefined) return { type: 'put', key, value: jsonValue(message) }
    const row: SealedRow = { seq: message.seq, id: message.id, ...(message.inboxSeq === undefined ? {} : { inboxSeq: message.inboxSeq }), eph: this.sealer.seal(message, jsonValue(message)) }
    return { type: 'put', key, value: jsonValue(row) }
  }

  /**
   * Everything of an expired message, as writes: its row, its id index and its inbox entry go
   * (not a tombstone: nothing of it stays but the guard), replies lose its quoted text, and a
   * guard until `until` makes a late copy a duplicate.
   */
  async prepareExpire (peer: SessionId, messages: Array<Pick<Message, 'id' | 'seq' | 'inboxSeq'>>, until: number): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    const gone = new Set(messages.map((m) => m.id))
    for (const m of messages) {
      ops.push({ type: 'del', key: ['msg', peer, m.seq] }, { type: 'del', key: ['msg-id', peer, m.id] }, this.goneOp(peer, m.id, until))
      if (m.inboxSeq !== undefined) ops.push({ type: 'del', key: ['inbox', m.inboxSeq] })
    }
    ops.push(...await this.clearQuotesOps(peer, gone))
    return ops
  }

  /** A row by id, readable or not (its key may be gone): what deleting it needs. */
  async rowOf (peer: SessionId, id: string): Promise<Row | undefined> {
    const ref = await getJson<Counter>(this.store, ['msg-id', peer, id])
    if (ref === undefined) return undefined
    const value = await this.store.get(['msg', peer, ref.n])
    return value === undefined ? undefined : this.row(value)
  }

  private async clearQuotesOps (peer: SessionId, gone: ReadonlySet<string>): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    for await (const value of this.store.list(['msg', peer])) {
      const m = this.decode(value)
      if (m?.quote !== undefined && gone.has(m.quote.id) && !gone.has(m.id) && m.quote.text !== '') ops.push(this.putOp({ ...m, quote: { ...m.quote, text: '' } }))
    }
    return ops
  }

  /**
   * Deleting messages: each becomes a tombstone, and quotes of it in the same conversation
   * lose its text too (a reply must not keep what was deleted). Returns the writes.
   */
  async prepareDelete (peer: SessionId, messages: Message[]): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    const gone = new Set(messages.map((m) => m.id))
    for (const m of messages) {
      const { quote: _quote, lastError: _error, attachments: _files, ...rest } = m
      ops.push(this.putOp({ ...rest, text: '', deleted: true }))
    }
    ops.push(...await this.clearQuotesOps(peer, gone))
    return ops
  }

  /**
   * Remembers that a message is gone (the peer deleted it before it came, or it expired): a
   * copy that comes later is dropped. `until`: when the guard may go (no copy can come after).
   */
  goneOp (peer: SessionId, id: string, until?: number): StoreOp {
    const guard: GoneGuard = { id, peer, ...(until === undefined ? {} : { until }) }
    return { type: 'put', key: ['msg-gone', peer, id], value: jsonValue(guard) }
  }

  /** The writes that drop guards whose time is over. */
  async pruneGuardsOps (now: number): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    for await (const value of this.store.list(['msg-gone'])) {
      const g = JSON.parse(new TextDecoder().decode(value)) as GoneGuard
      if (g.peer !== undefined && g.until !== undefined && g.until <= now) ops.push({ type: 'del', key: ['msg-gone', g.peer, g.id] })
    }
    return ops
  }

  /** Every write that removes a conversation: its messages, their index and inbox entries. */
  async prepareRemoveConversation (peer: SessionId): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    for await (const value of this.store.list(['msg', peer])) {
      const m = this.row(value)
      ops.push({ type: 'del', key: ['msg', peer, m.seq] }, { type: 'del', key: ['msg-id', peer, m.id] })
      if (m.inboxSeq !== undefined) ops.push({ type: 'del', key: ['inbox', m.inboxSeq] })
    }
    for await (const value of this.store.list(['msg-gone', peer])) {
      const { id } = JSON.parse(new TextDecoder().decode(value)) as { id: string }
      ops.push({ type: 'del', key: ['msg-gone', peer, id] })
    }
    ops.push({ type: 'del', key: ['msg-seq', peer] })
    return ops
  }

  /** Call after the ops of prepareRemoveConversation were committed: positions start again at 1. */
  removed (peer: SessionId): void {
    this.seqCache.delete(peer)
  }

  /** The newest text of a conversation that is not deleted (nor about to be: `except`). */
  async latest (peer: SessionId, except: ReadonlySet<string> = new Set()): Promise<Message | undefined> {
    for await (const value of this.store.list(['msg', peer], { reverse: true })) {
      const m = this.decode(value)
      if (m !== undefined && m.deleted !== true && m.event === undefined && !except.has(m.id)) return m
    }
    return undefined
  }

  /** Ids of a conversation's messages in one direction and state, oldest first. */
  async idsWith (peer: SessionId, direction: Direction, state: MessageState): Promise<string[]> {
    const out: string[] = []
    for await (const value of this.store.list(['msg', peer])) {
      const m = this.decode(value)
      if (m !== undefined && m.direction === direction && m.state === state && m.deleted !== true && m.event === undefined) out.push(m.id)
    }
    return out
  }

  async conversation (peer: SessionId, options: { limit?: number, before?: number } = {}): Promise<Message[]> {
    const limit = Math.min(options.limit ?? 100, 500)
    const out: Message[] = []
    for await (const value of this.store.list(['msg', peer], { reverse: true })) {
      const m = this.decode(value)
      if (m === undefined) continue
      if (options.before !== undefined && m.seq >= options.before) continue
      out.push(m)
      if (out.length >= limit) break
    }
    return out.reverse()
  }

  /**
   * Messages of a conversation, newest first, that contain `needle` (already lower case);
   * tombstones never match. Decrypts the conversation record by record, stopping at `limit`.
   */
  async search (peer: SessionId, needle: string, limit: number): Promise<Message[]> {
    const out: Message[] = []
    for await (const value of this.store.list(['msg', peer], { reverse: true })) {
      const m = this.decode(value)
      if (m !== undefined && m.deleted !== true && m.text.toLowerCase().includes(needle)) out.push(m)
      if (out.length >= limit) break
    }
    return out
  }

  /** Incoming messages after an inbox position, in arrival order (deleted ones left out). */
  async inbox (after: number, limit = 100): Promise<Message[]> {
    return (await this.inboxPage(after, limit)).messages
  }

  /** Like inbox(), with the position to continue from (past any deleted messages it skipped). */
  async inboxPage (after: number, limit = 100): Promise<{ messages: Message[], cursor: number }> {
    const out: Message[] = []
    const last = await this.lastInboxSeq()
    let cursor = after
    for (let n = after + 1; n <= last && out.length < limit; n++) {
      cursor = n
      const ref = await getJson<{ peer: SessionId, seq: number }>(this.store, ['inbox', n])
      if (ref === undefined) continue
      const value = await this.store.get(['msg', ref.peer, ref.seq])
      const m = value === undefined ? undefined : this.decode(value)
      if (m !== undefined && m.deleted !== true) out.push(m)
    }
    return { messages: out, cursor }
  }

  async lastInboxSeq (): Promise<number> {
    if (this.inboxSeq === undefined) this.inboxSeq = (await getJson<Counter>(this.store, ['meta', 'inbox-seq']))?.n ?? 0
    return this.inboxSeq
  }

  private async lastSeq (peer: SessionId): Promise<number> {
    let n = this.seqCache.get(peer)
    if (n === undefined) {
      n = (await getJson<Counter>(this.store, ['msg-seq', peer]))?.n ?? 0
      this.seqCache.set(peer, n)
    }
    return n
  }
}

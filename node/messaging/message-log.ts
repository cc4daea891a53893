/**
 * The history of every conversation, and the arrival order of incoming messages (the
 * inbox). Writes are returned as StoreOps so the caller can commit a message in the same
 * batch as the ratchet state that decrypted it. Callers serialise writes (see Messenger).
 *
 * A deleted message stays as a tombstone: its row keeps id, direction, times and state, and
 * loses its text (and quote). The row keeps the id known, so a late copy of the same message
 * (a mailbox's, or one sealed again after a refusal) is a duplicate, not a new message, and
 * positions (`seq`, inbox cursors) do not shift.
 */
import type { SessionId } from '../identity/session-id.js'
import type { AttachmentRef } from '../attachments/refs.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'

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
}

export interface Quote { id: string, text: string, fromMe: boolean }

/** The fields a state change may set besides the state. */
export type StateExtra = Partial<Pick<Message, 'mailboxes' | 'storedUntil' | 'lastError'>>

/** A record as stored, possibly by an older version (which called lastError `error`). */
function current (stored: Message & { error?: string }): Message {
  if (stored.error === undefined) return stored
  const { error, ...rest } = stored
  return { ...rest, lastError: rest.lastError ?? error }
}

function decode (value: Uint8Array): Message {
  return current(JSON.parse(new TextDecoder().decode(value)) as Message)
}

/** A state only moves forward: a late "delivered" never undoes "read". */
const RANK: Record<MessageState, number> = { failed: 0, sending: 1, stored: 2, delivered: 3, received: 3, read: 4 }

interface Counter { n: number }

export class MessageLog {
  private readonly seqCache = new Map<string, number>()
  private inboxSeq: number | undefined

  constructor (private readonly store: SecureStore) {}

  async find (peer: SessionId, id: string): Promise<Message | undefined> {
    const ref = await getJson<Counter>(this.store, ['msg-id', peer, id])
    if (ref === undefined) return undefined
    const m = await getJson<Message>(this.store, ['msg', peer, ref.n])
    return m === undefined ? undefined : current(m)
  }

  /** True when a message with this id is, or was, in the conversation, or was deleted before it came. */
  async known (peer: SessionId, id: string): Promise<boolean> {
    return (await this.store.get(['msg-id', peer, id])) !== undefined || (await this.store.get(['msg-gone', peer, id])) !== undefined
  }

  /** Assigns the next positions and returns the message with the ops that store it. */
  async prepareAppend (message: Omit<Message, 'seq' | 'inboxSeq'>): Promise<{ message: Message, ops: StoreOp[] }> {
    const seq = (await this.lastSeq(message.peer)) + 1
    const ops: StoreOp[] = []
    const full: Message = { ...message, seq }
    if (message.direction === 'in') {
      full.inboxSeq = (await this.lastInboxSeq()) + 1
      ops.push({ type: 'put', key: ['inbox', full.inboxSeq], value: jsonValue({ peer: full.peer, seq }) })
      ops.push({ type: 'put', key: ['meta', 'inbox-seq'], value: jsonValue({ n: full.inboxSeq }) })
    }
    ops.push({ type: 'put', key: ['msg', full.peer, seq], value: jsonValue(full) })
    ops.push({ type: 'put', key: ['msg-id', full.peer, full.id], value: jsonValue({ n: seq }) })
    ops.push({ type: 'put', key: ['msg-seq', full.peer], value: jsonValue({ n: seq }) })
    return { message: full, ops }
  }

  /** Call after the ops of prepareAppend were committed. */
  committed (message: Message): void {
    this.seqCache.set(message.peer, message.seq)
    if (message.inboxSeq !== undefined) this.inboxSeq = message.inboxSeq
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

  /** The write that stores a message as given (its position unchanged). */
  putOp (message: Message): StoreOp {
    return { type: 'put', key: ['msg', message.peer, message.seq], value: jsonValue(message) }
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
    for await (const value of this.store.list(['msg', peer])) {
      const m = decode(value)
      if (m.quote !== undefined && gone.has(m.quote.id) && !gone.has(m.id) && m.quote.text !== '') ops.push(this.putOp({ ...m, quote: { ...m.quote, text: '' } }))
    }
    return ops
  }

  /** Remembers that the peer deleted a message we have not received (yet): it is dropped when it comes. */
  goneOp (peer: SessionId, id: string): StoreOp {
    return { type: 'put', key: ['msg-gone', peer, id], value: jsonValue({ id }) }
  }

  /** Every write that removes a conversation: its messages, their index and inbox entries. */
  async prepareRemoveConversation (peer: SessionId): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    for await (const value of this.store.list(['msg', peer])) {
      const m = decode(value)
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

  /** The newest message of a conversation that is not deleted (nor about to be: `except`). */
  async latest (peer: SessionId, except: ReadonlySet<string> = new Set()): Promise<Message | undefined> {
    for await (const value of this.store.list(['msg', peer], { reverse: true })) {
      const m = decode(value)
      if (m.deleted !== true && !except.has(m.id)) return m
    }
    return undefined
  }

  /** Ids of a conversation's messages in one direction and state, oldest first. */
  async idsWith (peer: SessionId, direction: Direction, state: MessageState): Promise<string[]> {
    const out: string[] = []
    for await (const value of this.store.list(['msg', peer])) {
      const m = decode(value)
      if (m.direction === direction && m.state === state && m.deleted !== true) out.push(m.id)
    }
    return out
  }

  async conversation (peer: SessionId, options: { limit?: number, before?: number } = {}): Promise<Message[]> {
    const limit = Math.min(options.limit ?? 100, 500)
    const out: Message[] = []
    for await (const value of this.store.list(['msg', peer], { reverse: true })) {
      const m = decode(value)
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
      const m = decode(value)
      if (m.deleted !== true && m.text.toLowerCase().includes(needle)) out.push(m)
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
      const m = await getJson<Message>(this.store, ['msg', ref.peer, ref.seq])
      if (m !== undefined && m.deleted !== true) out.push(current(m))
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

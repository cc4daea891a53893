/**
 * The history of every conversation, and the arrival order of incoming messages (the
 * inbox). Writes are returned as StoreOps so the caller can commit a message in the same
 * batch as the ratchet state that decrypted it. Callers serialise writes (see Messenger).
 */
import type { SessionId } from '../identity/session-id.js'
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
  /** Why a message failed, as an error code (outgoing only). */
  error?: string
  /** Held by this many mailboxes until storedUntil (outgoing, state "stored"). */
  mailboxes?: number
  storedUntil?: number
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
    return await getJson<Message>(this.store, ['msg', peer, ref.n])
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

  /** Moves a message's state forward; returns the updated message, or undefined if unchanged. */
  async advanceState (peer: SessionId, id: string, state: MessageState, direction?: Direction, extra: Partial<Pick<Message, 'mailboxes' | 'storedUntil'>> = {}): Promise<Message | undefined> {
    const message = await this.find(peer, id)
    if (message === undefined || RANK[state] <= RANK[message.state]) return undefined
    if (direction !== undefined && message.direction !== direction) return undefined
    const next = { ...message, ...extra, state }
    await this.store.put(['msg', peer, message.seq], jsonValue(next))
    return next
  }

  async conversation (peer: SessionId, options: { limit?: number, before?: number } = {}): Promise<Message[]> {
    const limit = Math.min(options.limit ?? 100, 500)
    const out: Message[] = []
    for await (const value of this.store.list(['msg', peer], { reverse: true })) {
      const m = JSON.parse(new TextDecoder().decode(value)) as Message
      if (options.before !== undefined && m.seq >= options.before) continue
      out.push(m)
      if (out.length >= limit) break
    }
    return out.reverse()
  }

  /** Incoming messages after an inbox position, in arrival order. */
  async inbox (after: number, limit = 100): Promise<Message[]> {
    const out: Message[] = []
    const last = await this.lastInboxSeq()
    for (let n = after + 1; n <= last && out.length < limit; n++) {
      const ref = await getJson<{ peer: SessionId, seq: number }>(this.store, ['inbox', n])
      if (ref === undefined) continue
      const m = await getJson<Message>(this.store, ['msg', ref.peer, ref.seq])
      if (m !== undefined) out.push(m)
    }
    return out
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

/**
 * Where attachments live on disk: sealed chunks and manifests under their ids, and one
 * record per attachment (its key, name, state, how far a download got), all in the
 * account's SecureStore, so they are sealed again with the data key like every other record
 * (no plaintext, and no raw file, in the data folder).
 */
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'

export type AttachmentState = 'pending' | 'downloading' | 'ready' | 'failed'

export interface AttachmentRecord {
  /** The manifest id, hex: the same on both sides. */
  id: string
  /** The file key, base64. */
  key: string
  name: string
  size: number
  mime: string
  thumbnail?: string
  direction: 'in' | 'out'
  /** The contact it came from (in) or went to (out, once sent). */
  peer?: string
  messageId?: string
  state: AttachmentState
  /** Chunks written so far, in order (a download resumes from here). */
  have: number
  /** Plaintext bytes of the file received so far. */
  received: number
  createdAt: number
  lastError?: string
  /** Recipients whose mailboxes were given this file (outgoing, offline recipients). */
  mailedTo?: string[]
  /** Why a download waits: its only source is the sender's node. */
  waitingFor?: 'sender-online'
  /**
   * Incoming: the Session ID whose node the file is fetched from, when not `peer` (a group
   * message's author; `peer` is then the group id, as the message's conversation).
   */
  source?: string
  /** Outgoing: how many recipients should fetch it (1 for a contact, the other members of a group). */
  recipients?: number
  /** Outgoing: PeerIds that fetched every chunk from us (at most MAX_FETCHED_BY). */
  fetchedBy?: string[]
}

export class BlobStore {
  constructor (private readonly store: SecureStore) {}

  async chunk (id: string): Promise<Uint8Array | undefined> {
    return await this.store.get(['blob', id])
  }

  chunkOp (id: string, sealed: Uint8Array): StoreOp {
    return { type: 'put', key: ['blob', id], value: sealed }
  }

  chunkDelOp (id: string): StoreOp {
    return { type: 'del', key: ['blob', id] }
  }

  /** A chunk from a mailbox whose message has not claimed it yet (swept after KEEP_SENT_MS). */
  earlyOp (id: string, at: number): StoreOp {
    return { type: 'put', key: ['blob-early', id], value: jsonValue({ id, at }) }
  }

  earlyDelOp (id: string): StoreOp {
    return { type: 'del', key: ['blob-early', id] }
  }

  async * early (): AsyncIterable<{ id: string, at: number }> {
    for await (const value of this.store.list(['blob-early'])) yield JSON.parse(new TextDecoder().decode(value)) as { id: string, at: number }
  }

  async record (id: string): Promise<AttachmentRecord | undefined> {
    return await getJson<AttachmentRecord>(this.store, ['att', id])
  }

  recordOp (r: AttachmentRecord): StoreOp {
    return { type: 'put', key: ['att', r.id], value: jsonValue(r) }
  }

  recordDelOp (id: string): StoreOp {
    return { type: 'del', key: ['att', id] }
  }

  async * records (): AsyncIterable<AttachmentRecord> {
    for await (const value of this.store.list(['att'])) yield JSON.parse(new TextDecoder().decode(value)) as AttachmentRecord
  }

  async batch (ops: StoreOp[]): Promise<void> {
    await this.store.batch(ops)
  }
}

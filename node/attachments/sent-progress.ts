/**
 * The sender's side of a transfer: how far each recipient got with a file we sent, as our
 * /sotto/blob/1 server sees it. A chunk served to a peer is counted against the sent file it
 * belongs to (ids of our own chunks, indexed from their manifests); a peer's progress is the
 * highest chunk index it fetched, since a download asks in order from where it stands (a
 * count of served chunks would miss what the peer fetched before our node restarted). A peer
 * that fetched the last chunk has the file. Peers are told apart by PeerId only: nothing here
 * maps a PeerId to a contact, so a group shows "sent to N of M" by distinct PeerIds.
 *
 * Knows no keys beyond opening our own manifests, and what it reports carries none.
 */
import type { AttachmentRecord, BlobStore } from './blob-store.js'
import { CHUNK_SIZE, MAX_FETCHED_BY, PROGRESS_EVERY_MS } from './constants.js'
import { openManifest } from './manifest.js'

/** Where a sent file stands: on our node only, being fetched, or fetched by every recipient. */
export type SentState = 'ready' | 'uploading' | 'delivered'

export interface SentView {
  id: string
  /** The conversation it was sent in (a contact's Session ID or a group id), once known. */
  peer?: string
  messageId?: string
  state: SentState
  /** Bytes of the file the furthest recipient has fetched. */
  sent: number
  size: number
  /** Recipients (distinct PeerIds) that fetched every chunk, and how many should. */
  delivered: number
  recipients: number
}

export interface SentProgressInit {
  blobs: BlobStore
  now: () => number
  /** A sent file moved (at most every PROGRESS_EVERY_MS, and at every change of state or count). */
  onChange: (v: SentView) => void
}

interface SentFile {
  size: number
  /** Chunks in the manifest (padded count); unknown until the manifest was read. */
  count?: number
  peer?: string
  messageId?: string
  recipients: number
  fetchedBy: Set<string>
  /** Highest chunk index each peer still fetching was served. */
  fetching: Map<string, number>
  lastEmit: number
  lastState?: SentState
  lastDelivered?: number
}

export class SentProgress {
  private readonly files = new Map<string, SentFile>()
  /** Chunk id -> the sent file it belongs to and its index there. */
  private readonly chunks = new Map<string, { file: string, index: number }>()
  private loaded: Promise<void> | undefined

  constructor (private readonly init: SentProgressInit) {}

  /** A sent file as stored (at start): its recipients and who already has it. */
  restore (r: AttachmentRecord): void {
    if (r.direction !== 'out') return
    this.files.set(r.id, {
      size: r.size, recipients: r.recipients ?? 1, fetchedBy: new Set(r.fetchedBy ?? []), fetching: new Map(), lastEmit: 0,
      ...(r.peer === undefined ? {} : { peer: r.peer }), ...(r.messageId === undefined ? {} : { messageId: r.messageId })
    })
  }

  /** A file just uploaded, with its chunk ids in order. */
  uploaded (id: string, size: number, chunkIds: string[]): void {
    const f: SentFile = this.files.get(id) ?? { size, recipients: 1, fetchedBy: new Set<string>(), fetching: new Map(), lastEmit: 0 }
    f.count = chunkIds.length
    this.files.set(id, f)
    chunkIds.forEach((c, index) => { this.chunks.set(c, { file: id, index }) })
  }

  /** A message carries the file: to whom, and how many recipients should fetch it. */
  sentIn (id: string, peer: string, messageId: string, recipients: number): void {
    const f = this.files.get(id)
    if (f === undefined) return
    f.peer = peer
    f.messageId = messageId
    f.recipients = Math.max(1, recipients)
  }

  forget (id: string): void {
    this.files.delete(id)
    for (const [c, e] of this.chunks) if (e.file === id) this.chunks.delete(c)
  }

  view (id: string): SentView | undefined {
    const f = this.files.get(id)
    return f === undefined ? undefined : this.viewOf(id, f)
  }

  /**
   * Our server sent blob `blobId` to `peer` (a PeerId). Chunks of files we did not send (ones
   * we received and serve on) are not counted. Answers once counted.
   */
  async served (peer: string, blobId: string): Promise<void> {
    if (!this.chunks.has(blobId) && !this.files.has(blobId)) await this.load()
    const at = this.chunks.get(blobId)
    if (at === undefined) return
    const f = this.files.get(at.file)
    if (f === undefined || f.count === undefined || f.fetchedBy.has(peer)) return
    f.fetching.set(peer, Math.max(f.fetching.get(peer) ?? -1, at.index))
    if (at.index === f.count - 1) {
      f.fetching.delete(peer)
      if (f.fetchedBy.size < MAX_FETCHED_BY) f.fetchedBy.add(peer)
      await this.persist(at.file, f)
    }
    this.report(at.file, f)
  }

  private viewOf (id: string, f: SentFile): SentView {
    const furthest = Math.max(-1, ...f.fetching.values())
    const sent = f.fetchedBy.size > 0 ? f.size : Math.min(f.size, (furthest + 1) * CHUNK_SIZE)
    const state: SentState = f.fetchedBy.size >= f.recipients ? 'delivered' : f.fetchedBy.size > 0 || furthest >= 0 ? 'uploading' : 'ready'
    return {
      id, state, sent, size: f.size, delivered: Math.min(f.fetchedBy.size, f.recipients), recipients: f.recipients,
      ...(f.peer === undefined ? {} : { peer: f.peer }), ...(f.messageId === undefined ? {} : { messageId: f.messageId })
    }
  }

  private report (id: string, f: SentFile): void {
    const v = this.viewOf(id, f)
    const t = this.init.now()
    const changed = v.state !== f.lastState || v.delivered !== f.lastDelivered
    if (!changed && t - f.lastEmit < PROGRESS_EVERY_MS) return
    f.lastEmit = t
    f.lastState = v.state
    f.lastDelivered = v.delivered
    this.init.onChange(v)
  }

  /** Who has the file is kept with its record, so the bubble says so after a restart too. */
  private async persist (id: string, f: SentFile): Promise<void> {
    const r = await this.init.blobs.record(id)
    if (r === undefined || r.direction !== 'out') return
    await this.init.blobs.batch([this.init.blobs.recordOp({ ...r, fetchedBy: [...f.fetchedBy] })]).catch(() => {})
  }

  /** The chunk ids of every file we sent, read once from their manifests (on the first serve). */
  private async load (): Promise<void> {
    this.loaded ??= (async () => {
      for await (const r of this.init.blobs.records()) {
        if (r.direction !== 'out' || this.files.get(r.id)?.count !== undefined) continue
        const sealed = await this.init.blobs.chunk(r.id)
        if (sealed === undefined) continue
        try {
          const m = openManifest(Buffer.from(r.key, 'base64'), Buffer.from(r.id, 'hex'), sealed)
          if (!this.files.has(r.id)) this.restore(r)
          const f = this.files.get(r.id)
          if (f !== undefined) f.count = m.chunks.length
          m.chunks.forEach((c, index) => { this.chunks.set(Buffer.from(c).toString('hex'), { file: r.id, index }) })
        } catch { /* a damaged manifest: its file is not counted */ }
      }
    })()
    await this.loaded
  }
}

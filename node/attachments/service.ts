/**
 * Attachments of one open account: files stored from the API (sealed as they stream in),
 * the references a message carries, downloads of what contacts sent (started when the
 * message arrives, retried while the sender is offline, resumed after a restart), serving
 * our chunks on /sotto/blob/1, and forgetting what we sent after KEEP_SENT_MS.
 */
import type { Libp2p } from '@libp2p/interface'
import type { ComponentLogger } from '../log.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { registerBlobServer, type BlobSource } from './blob-protocol.js'
import { BlobStore, type AttachmentRecord, type AttachmentState } from './blob-store.js'
import { ChunkSealer, newFileKey, subkey } from './chunker.js'
import { BLOB_ENVELOPE_VERSION, BLOB_PROTOCOL, CHUNKS_PER_BATCH, KEEP_SENT_MS, MAX_EARLY_CHUNKS, MAX_FILE_BYTES, MAX_OFFLINE_FILE_BYTES, PROGRESS_EVERY_MS, RETRY_EVERY_MS, SEALED_CHUNK_BYTES } from './constants.js'
import { AttachmentError } from './errors.js'
import { release } from './release.js'
import { MAX_SEALED_MANIFEST, openManifest, sealManifest, sha256 } from './manifest.js'
import { download, readFile } from './transfers.js'
import { SentProgress, type SentState } from './sent-progress.js'
import type { AttachmentRef } from './refs.js'

/** What a message carries for one file (payload.ts parses it). */
export type { AttachmentRef } from './refs.js'

/** What the API shows of one file. */
export interface AttachmentView {
  id: string, name: string, size: number, mime: string, state: AttachmentState | SentState, received?: number, thumbnail?: string, waitingFor?: 'sender-online'
  /** A file we sent (sent-progress.ts): bytes the furthest recipient fetched, recipients that have it all, of how many. */
  sent?: number, delivered?: number, recipients?: number
}

/**
 * A transfer moved. Receiving: `state` pending/downloading/ready/failed with `received`.
 * Sending: `state` ready/uploading/delivered with `sent`, `delivered` and `recipients`.
 * Never a key.
 */
export interface AttachmentEvent { id: string, peer: string, messageId: string, state: AttachmentState | SentState, received: number, size: number, sent?: number, delivered?: number, recipients?: number }

export interface AttachmentServiceInit {
  store: SecureStore
  libp2p: Libp2p
  /** Where a contact's node is now (its record in the DHT), or undefined. */
  sourceOf: (sessionId: string) => Promise<BlobSource | undefined>
  logger: ComponentLogger
  now: () => number
  onEvent?: (e: AttachmentEvent) => void
  retryEveryMs?: number
}

/** Kicks by new connections are at least this far apart (each walks the attachment records). */
const MIN_KICK_GAP_MS = 2_000

export class AttachmentService {
  readonly blobs: BlobStore
  /** States of known attachments, for the API's message views (which are synchronous). */
  private readonly states = new Map<string, { state: AttachmentState, received: number, waitingFor?: 'sender-online' }>()
  private readonly running = new Map<string, AbortController>()
  /** Downloads to run again once the current run ends (more chunks came from a mailbox). */
  private readonly again = new Set<string>()
  /** Waiting downloads' next quick retry, and how many they had (backoff). */
  private readonly retries = new Map<string, { timer: NodeJS.Timeout, attempts: number }>()
  /** Ids of chunks from mailboxes not yet claimed by a download. */
  private readonly earlyIds = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** Extra sources a test or a later version may add (another holder of the same chunks). */
  readonly extraSources: BlobSource[] = []
  /** How far recipients got with the files we sent. */
  private readonly sentProgress: SentProgress

  constructor (private readonly init: AttachmentServiceInit) {
    this.blobs = new BlobStore(init.store)
    this.sentProgress = new SentProgress({
      blobs: this.blobs,
      now: init.now,
      onChange: (v) => {
        if (v.peer === undefined || v.messageId === undefined) return
        this.init.onEvent?.({ id: v.id, peer: v.peer, messageId: v.messageId, state: v.state, received: 0, size: v.size, sent: v.sent, delivered: v.delivered, recipients: v.recipients })
      }
    })
  }

  async start (): Promise<void> {
    await registerBlobServer(this.init.libp2p, {
      get: async (id) => await this.blobs.chunk(id),
      logger: this.init.logger,
      onServed: (peer, id) => { void this.sentProgress.served(peer, id).catch(() => {}) }
    })
    const old: AttachmentRecord[] = []
    for await (const r of this.blobs.records()) {
      this.states.set(r.id, { state: r.state, received: r.received, ...(r.waitingFor === undefined ? {} : { waitingFor: r.waitingFor }) })
      this.sentProgress.restore(r)
      if (r.direction === 'out' && this.init.now() - r.createdAt > KEEP_SENT_MS) old.push(r)
    }
    for (const r of old) await this.forget(r)
    for await (const e of this.blobs.early()) {
      if (this.init.now() - e.at > KEEP_SENT_MS) await this.blobs.batch([this.blobs.earlyDelOp(e.id), this.blobs.chunkDelOp(e.id)])
      else this.earlyIds.add(e.id)
    }
    this.timer = setInterval(() => { this.resumeAll() }, this.init.retryEveryMs ?? RETRY_EVERY_MS)
    this.timer.unref()
    this.resumeAll()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.kickTimer)
    for (const r of this.retries.values()) clearTimeout(r.timer)
    this.retries.clear()
    for (const c of this.running.values()) c.abort()
    this.running.clear()
    await this.init.libp2p.unhandle(BLOB_PROTOCOL).catch(() => {})
  }

  /**
   * Stores a file as it streams in: each 64 KiB is sealed and written before the next is
   * read, so memory holds one chunk. Over MAX_FILE_BYTES -> ERR_ATTACHMENT_TOO_LARGE (and
   * what was written is deleted).
   */
  async upload (source: AsyncIterable<Uint8Array>, meta: { name: string, mime: string, thumbnail?: string }): Promise<AttachmentRecord> {
    const key = newFileKey()
    const sealer = new ChunkSealer(subkey(key, 'chunk'))
    const ids: Uint8Array[] = []
    let pending: StoreOp[] = []
    const flush = async (): Promise<void> => {
      if (pending.length > 0) await this.blobs.batch(pending)
      // The store sealed its own copies; these sealed chunks were made here and nothing else holds them.
      for (const op of pending) if (op.type === 'put') release(op.value)
      pending = []
    }
    const write = async (chunks: Iterable<Uint8Array>): Promise<void> => {
      for (const sealed of chunks) {
        const id = sha256(sealed)
        ids.push(id)
        pending.push(this.blobs.chunkOp(Buffer.from(id).toString('hex'), sealed))
        if (pending.length >= CHUNKS_PER_BATCH) await flush()
      }
    }
    try {
      for await (const piece of source) {
        if (sealer.size + piece.length > MAX_FILE_BYTES) throw new AttachmentError('ERR_ATTACHMENT_TOO_LARGE', 'a file may have at most 100 MiB')
        await write(sealer.push(piece))
      }
      await write(sealer.finish())
      await flush()
    } catch (err) {
      await this.blobs.batch(ids.map((id) => this.blobs.chunkDelOp(Buffer.from(id).toString('hex'))))
      throw err
    }
    const manifest = sealManifest(key, { size: sealer.size, chunks: ids })
    const id = Buffer.from(manifest.id).toString('hex')
    const record: AttachmentRecord = {
      id, key: Buffer.from(key).toString('base64'), name: meta.name, size: sealer.size, mime: meta.mime,
      ...(meta.thumbnail === undefined ? {} : { thumbnail: meta.thumbnail }),
      direction: 'out', state: 'ready', have: ids.length, received: 0, createdAt: this.init.now()
    }
    await this.blobs.batch([this.blobs.chunkOp(id, manifest.sealed), this.blobs.recordOp(record)])
    this.states.set(id, { state: 'ready', received: 0 })
    this.sentProgress.uploaded(id, record.size, ids.map((c) => Buffer.from(c).toString('hex')))
    return record
  }

  /** The reference a message carries for one of our uploads. */
  async ref (id: string): Promise<AttachmentRef> {
    const r = await this.blobs.record(id)
    if (r === undefined || r.direction !== 'out') throw new AttachmentError('ERR_UNKNOWN_ATTACHMENT', 'no such attachment')
    return { manifestId: r.id, key: r.key, name: r.name, size: r.size, mime: r.mime, ...(r.thumbnail === undefined ? {} : { thumbnail: r.thumbnail }) }
  }

  /**
   * A message of ours carries these files, to `peer` (a contact, or a group: `recipients` its
   * other members): the sender's progress events name that message.
   */
  async sent (peer: string, messageId: string, ids: string[], recipients = 1): Promise<void> {
    for (const id of ids) this.sentProgress.sentIn(id, peer, messageId, recipients)
    for (const id of ids) {
      const r = await this.blobs.record(id)
      if (r === undefined || r.direction !== 'out') continue
      await this.blobs.batch([this.blobs.recordOp({ ...r, peer, messageId, recipients: Math.max(1, recipients) })])
    }
  }

  /**
   * Files someone sent: recorded, then fetched from the sender's node. `source`: the Session
   * ID whose node has them, when not `peer` (in a group, `peer` is the group id and the
   * source the message's author); default `peer`.
   */
  async incoming (peer: string, messageId: string, refs: AttachmentRef[], options: { source?: string } = {}): Promise<void> {
    for (const ref of refs) {
      if (await this.blobs.record(ref.manifestId) !== undefined) continue
      const record: AttachmentRecord = {
        id: ref.manifestId, key: ref.key, name: ref.name, size: ref.size, mime: ref.mime,
        ...(ref.thumbnail === undefined ? {} : { thumbnail: ref.thumbnail }),
        direction: 'in', peer, messageId, state: 'pending', have: 0, received: 0, createdAt: this.init.now(),
        ...(options.source === undefined || options.source === peer ? {} : { source: options.source })
      }
      await this.blobs.batch([this.blobs.recordOp(record)])
      this.states.set(record.id, { state: 'pending', received: 0 })
      this.startDownload(record)
    }
  }

  /**
   * A chunk or manifest from our mailboxes (first byte BLOB_ENVELOPE_VERSION). Kept under its
   * hash, then checked like any chunk by the download that claims it; one whose message has
   * not come yet waits (at most MAX_EARLY_CHUNKS). Verdicts as the collector knows them.
   */
  async receiveEnvelope (envelope: Uint8Array): Promise<'accepted' | 'duplicate' | 'refused' | 'rejected'> {
    const body = envelope.subarray(1)
    if (envelope[0] !== BLOB_ENVELOPE_VERSION || (body.length !== SEALED_CHUNK_BYTES && body.length > MAX_SEALED_MANIFEST) || body.length === 0) return 'rejected'
    const id = Buffer.from(sha256(body)).toString('hex')
    if (await this.blobs.chunk(id) !== undefined) return 'duplicate'
    // Full: left in the mailbox for a later run, when downloads have claimed what they wanted.
    if (this.earlyIds.size >= MAX_EARLY_CHUNKS) return 'refused'
    this.earlyIds.add(id)
    await this.blobs.batch([this.blobs.chunkOp(id, Uint8Array.from(body)), this.blobs.earlyOp(id, this.init.now())])
    for await (const r of this.blobs.records()) {
      if (r.direction === 'in' && r.state !== 'ready') this.startDownload(r, true)
    }
    return 'accepted'
  }

  /**
   * Puts a sent file's manifest and chunks in an offline recipient's mailboxes (files up to
   * MAX_OFFLINE_FILE_BYTES, once per recipient). `put` places one envelope and says on how
   * many mailboxes.
   */
  async mailTo (peer: string, id: string, put: (envelope: Uint8Array) => Promise<number>): Promise<boolean> {
    const r = await this.blobs.record(id)
    if (r === undefined || r.direction !== 'out' || r.size > MAX_OFFLINE_FILE_BYTES || (r.mailedTo ?? []).includes(peer)) return false
    const sealedManifest = await this.blobs.chunk(id)
    if (sealedManifest === undefined) return false
    const manifest = openManifest(Buffer.from(r.key, 'base64'), Buffer.from(id, 'hex'), sealedManifest)
    const envelope = (bytes: Uint8Array): Uint8Array => Buffer.concat([Uint8Array.of(BLOB_ENVELOPE_VERSION), bytes])
    if (await put(envelope(sealedManifest)) === 0) return false
    for (const c of manifest.chunks) {
      const sealed = await this.blobs.chunk(Buffer.from(c).toString('hex'))
      if (sealed === undefined || await put(envelope(sealed)) === 0) return false
    }
    const latest = (await this.blobs.record(id)) ?? r
    await this.blobs.batch([this.blobs.recordOp({ ...latest, mailedTo: [...(latest.mailedTo ?? []), peer] })])
    return true
  }

  view (ref: { manifestId: string, name: string, size: number, mime: string, thumbnail?: string }): AttachmentView {
    const s = this.states.get(ref.manifestId) ?? { state: 'pending' as const, received: 0 }
    const out = this.sentProgress.view(ref.manifestId)
    return {
      id: ref.manifestId, name: ref.name, size: ref.size, mime: ref.mime, state: out?.state ?? s.state, received: s.received,
      ...(ref.thumbnail === undefined ? {} : { thumbnail: ref.thumbnail }),
      ...(s.waitingFor === undefined ? {} : { waitingFor: s.waitingFor }),
      ...(out === undefined ? {} : { sent: out.sent, delivered: out.delivered, recipients: out.recipients })
    }
  }

  async record (id: string): Promise<AttachmentRecord> {
    const r = /^[0-9a-f]{64}$/.test(id) ? await this.blobs.record(id) : undefined
    if (r === undefined) throw new AttachmentError('ERR_UNKNOWN_ATTACHMENT', 'no such attachment')
    return r
  }

  /** The decrypted file, for the API (ERR_ATTACHMENT_NOT_READY until complete). */
  async open (id: string): Promise<{ record: AttachmentRecord, data: AsyncGenerator<Uint8Array> }> {
    const record = await this.record(id)
    if (record.state !== 'ready') throw new AttachmentError('ERR_ATTACHMENT_NOT_READY', 'this file has not arrived yet')
    return { record, data: readFile(this.blobs, record) }
  }

  /** Starts a failed or waiting download again at once. */
  async retry (id: string): Promise<AttachmentRecord> {
    const record = await this.record(id)
    if (record.direction === 'in' && record.state !== 'ready') this.startDownload(record)
    return record
  }

  /**
   * A new connection may be the sender coming back: waiting downloads try again now rather
   * than at the next timer tick, at most once per MIN_KICK_GAP_MS.
   */
  kick (): void {
    if (this.kickTimer !== undefined || this.stopped) return
    const wait = Math.max(0, this.lastKick + MIN_KICK_GAP_MS - this.init.now())
    // A kick inside the gap is not dropped but runs at its end: the connection that matters
    // (the sender's) often comes a moment after the first ones.
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined
      this.lastKick = this.init.now()
      this.resumeAll()
    }, wait)
    this.kickTimer.unref()
  }

  private lastKick = 0
  private kickTimer: NodeJS.Timeout | undefined

  private resumeAll (): void {
    void (async () => {
      for await (const r of this.blobs.records()) {
        if (this.stopped) return
        if (r.direction === 'in' && (r.state === 'pending' || r.state === 'downloading')) this.startDownload(r)
      }
    })().catch(() => {})
  }

  /** `localOnly`: use what the store holds (chunks from mailboxes), ask no source. */
  private startDownload (record: AttachmentRecord, localOnly = false): void {
    if (this.stopped) return
    if (this.running.has(record.id)) { if (localOnly) this.again.add(record.id); return }
    const control = new AbortController()
    this.running.set(record.id, control)
    void this.run(record, control.signal, localOnly).finally(() => {
      this.running.delete(record.id)
      if (this.again.delete(record.id)) this.startDownload(record, true)
    })
  }

  private async run (start: AttachmentRecord, signal: AbortSignal, localOnly: boolean): Promise<void> {
    const current = (await this.blobs.record(start.id)) ?? start
    if (current.state === 'ready') return
    const from = current.source ?? current.peer
    const sender = localOnly || from === undefined ? undefined : await this.init.sourceOf(from).catch(() => undefined)
    const sources = localOnly ? [] : [...(sender === undefined ? [] : [sender]), ...this.extraSources]
    let lastEmit = 0
    const publish = (r: AttachmentRecord, force = false): void => {
      this.states.set(r.id, { state: r.state, received: r.received, ...(r.waitingFor === undefined ? {} : { waitingFor: r.waitingFor }) })
      const t = this.init.now()
      if (!force && t - lastEmit < PROGRESS_EVERY_MS) return
      lastEmit = t
      this.init.onEvent?.({ id: r.id, peer: r.peer ?? '', messageId: r.messageId ?? '', state: r.state, received: r.received, size: r.size })
    }
    try {
      publish({ ...current, state: 'downloading' }, true)
      const done = await download({ libp2p: this.init.libp2p, blobs: this.blobs, sources, logger: this.init.logger, signal, onProgress: (r) => { publish(r) }, onClaimed: (id) => { this.earlyIds.delete(id) }, isEarly: (id) => this.earlyIds.has(id) }, current)
      this.earlyIds.delete(done.id)
      clearTimeout(this.retries.get(done.id)?.timer)
      this.retries.delete(done.id)
      publish(done, true)
    } catch (err) {
      if (signal.aborted || this.stopped) return
      const code = (err as AttachmentError).code ?? 'ERR_INTERNAL'
      // Unreachable sender: wait for it (retried on a timer); a file that cannot be right: failed.
      const waiting = code === 'ERR_NO_SOURCE' || code === 'ERR_RATE_LIMITED' || code === 'ERR_FRAME_TIMEOUT' || code === 'ERR_FRAME_TRUNCATED'
      const latest = (await this.blobs.record(current.id)) ?? current
      const next: AttachmentRecord = { ...latest, state: waiting ? 'pending' : 'failed', lastError: code, ...(waiting ? { waitingFor: 'sender-online' as const } : {}) }
      await this.blobs.batch([this.blobs.recordOp(next)]).catch(() => {})
      publish(next, true)
      if (waiting && !localOnly) this.retrySoon(next)
    }
  }

  /**
   * A sender not found yet (a node just started has an empty routing table, and its
   * connections, which kick downloads, came before the DHT could answer) is looked for again
   * after 1, 2, 4 … s, up to the regular RETRY_EVERY_MS.
   */
  private retrySoon (record: AttachmentRecord): void {
    if (this.stopped) return
    const attempts = (this.retries.get(record.id)?.attempts ?? 0) + 1
    const delay = Math.min(this.init.retryEveryMs ?? RETRY_EVERY_MS, 1000 * 2 ** (attempts - 1))
    clearTimeout(this.retries.get(record.id)?.timer)
    const timer = setTimeout(() => { this.startDownload(record) }, delay)
    timer.unref()
    this.retries.set(record.id, { timer, attempts })
  }

  /**
   * Everything of these files in the store, as deletes for the caller's batch (the message
   * that carried them disappeared, docs/PROTOCOL.md §12): record, manifest, and the chunks the
   * manifest names. `after`, once committed, stops their downloads and forgets their state.
   */
  async expireOps (ids: string[]): Promise<{ ops: StoreOp[], after: () => void }> {
    const ops: StoreOp[] = []
    for (const id of new Set(ids)) {
      ops.push(this.blobs.recordDelOp(id), this.blobs.chunkDelOp(id), this.blobs.earlyDelOp(id))
      const r = await this.blobs.record(id)
      const sealed = await this.blobs.chunk(id)
      if (r === undefined || sealed === undefined) continue
      try {
        const m = openManifest(Buffer.from(r.key, 'base64'), Buffer.from(id, 'hex'), sealed)
        for (const c of m.chunks) ops.push(this.blobs.chunkDelOp(Buffer.from(c).toString('hex')))
      } catch { /* a damaged manifest: record and manifest go anyway */ }
    }
    return {
      ops,
      after: () => {
        for (const id of ids) {
          this.running.get(id)?.abort()
          clearTimeout(this.retries.get(id)?.timer)
          this.retries.delete(id)
          this.states.delete(id)
        }
      }
    }
  }

  /** Deletes a sent file's chunks and record (its time is up). */
  private async forget (r: AttachmentRecord): Promise<void> {
    const sealed = await this.blobs.chunk(r.id)
    const ops = [this.blobs.recordDelOp(r.id), this.blobs.chunkDelOp(r.id)]
    if (sealed !== undefined) {
      try {
        const m = openManifest(Buffer.from(r.key, 'base64'), Buffer.from(r.id, 'hex'), sealed)
        for (const c of m.chunks) ops.push(this.blobs.chunkDelOp(Buffer.from(c).toString('hex')))
      } catch { /* a damaged manifest: the record goes anyway */ }
    }
    await this.blobs.batch(ops)
    this.states.delete(r.id)
    this.sentProgress.forget(r.id)
  }
}

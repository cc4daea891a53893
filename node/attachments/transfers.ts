/**
 * Downloading one file: the manifest, then every chunk from `have` on, from the first source
 * that answers. Each chunk is checked (SHA-256 equal to its id, then AEAD under its counter
 * and last-chunk flag) before it is written, together with how far the download got, in one
 * batch: a restart resumes at the first chunk not written. A source that sends a bad chunk
 * or lacks one is dropped for this download and the chunk is asked of the next source.
 */
import { createSecretKey } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import type { ComponentLogger } from '../log.js'
import { fetchBlobs, type BlobSource } from './blob-protocol.js'
import type { AttachmentRecord, BlobStore } from './blob-store.js'
import { openChunk, subkey } from './chunker.js'
import type { StoreOp } from '../store/types.js'
import { CHUNK_SIZE, CHUNKS_PER_BATCH } from './constants.js'
import { AttachmentError } from './errors.js'
import { openManifest, sha256, type Manifest } from './manifest.js'
import { release } from './release.js'

export interface DownloadInit {
  libp2p: Libp2p
  blobs: BlobStore
  sources: BlobSource[]
  logger: ComponentLogger
  signal?: AbortSignal
  /** Called after every written chunk with the record as stored. */
  onProgress?: (r: AttachmentRecord) => void
  /** Called with each chunk id written or taken from the store (no longer an early chunk). */
  onClaimed?: (id: string) => void
  /**
   * Whether a chunk id has an early-chunk record (from a mailbox) to delete once claimed;
   * without it every claimed chunk's record is deleted (a delete per chunk, mostly of nothing).
   */
  isEarly?: (id: string) => boolean
}

function hexEquals (bytes: Uint8Array, hex: string): boolean {
  return Buffer.from(bytes).toString('hex') === hex
}

/** The manifest, from the store or (verified, then stored) from the first source that has it. */
export async function loadManifest (init: DownloadInit, record: AttachmentRecord): Promise<Manifest> {
  const key = Buffer.from(record.key, 'base64')
  const id = Buffer.from(record.id, 'hex')
  const local = await init.blobs.chunk(record.id)
  if (local !== undefined) return openManifest(key, id, local)
  let last: unknown = new AttachmentError('ERR_NO_SOURCE', 'no source for this file')
  for (const source of init.sources) {
    try {
      for await (const { bytes } of fetchBlobs(init.libp2p, source, [record.id], { signal: init.signal })) {
        if (bytes === undefined) throw new AttachmentError('ERR_NO_SOURCE', 'the source does not have this file')
        const manifest = openManifest(key, id, bytes)
        await init.blobs.batch([init.blobs.chunkOp(record.id, bytes)])
        return manifest
      }
    } catch (err) {
      if (init.signal?.aborted === true) throw err
      last = err
    }
  }
  throw last
}

/**
 * Runs the download to the end (state "ready") or throws the last source's error. Chunks
 * already in the store (from mailboxes, or an earlier run) are used first, checked the same way.
 */
export async function download (init: DownloadInit, start: AttachmentRecord): Promise<AttachmentRecord> {
  const manifest = await loadManifest(init, start)
  // A KeyObject once, rather than a raw key node:crypto checks and imports at every chunk.
  const chunkKey = createSecretKey(subkey(Buffer.from(start.key, 'base64'), 'chunk'))
  const ids = manifest.chunks.map((c) => Buffer.from(c).toString('hex'))
  const count = ids.length
  let record: AttachmentRecord = { ...start, state: 'downloading' }
  delete record.waitingFor

  /** Checks a chunk for position `index` (hash, then AEAD): throws AttachmentError if bad. */
  const check = (index: number, bytes: Uint8Array): void => {
    if (!hexEquals(sha256(bytes), ids[index])) throw new AttachmentError('ERR_CHUNK_HASH', 'a chunk does not match its id')
    // Opened only to check it: what is kept is the sealed chunk, never the plaintext, whose
    // memory goes back at once.
    release(openChunk(chunkKey, index, index === count - 1, bytes))
  }
  // Checked chunks wait here until a batch is full; the record moves with the batch, so
  // what it says was written always was. One batch is written while the next one fills
  // (reading from the source goes on meanwhile); `settle` waits for it.
  let pending: StoreOp[] = []
  let next = start.have
  let writing: Promise<void> | undefined
  /** The record as last written (`record` may be ahead of it while a batch is written). */
  let landed = record
  const settle = async (): Promise<void> => {
    const w = writing
    writing = undefined
    try {
      await w
    } catch (err) {
      // Not written: the download goes on from what was, and asks again for the rest.
      record = landed
      next = landed.have
      pending = []
      throw err
    }
  }
  const startFlush = async (): Promise<void> => {
    if (next === record.have) return
    await settle()
    const written: AttachmentRecord = { ...record, have: next, received: Math.min(manifest.size, next * CHUNK_SIZE) }
    record = written
    const ops = [...pending, init.blobs.recordOp(written)]
    pending = []
    writing = init.blobs.batch(ops).then(() => {
      landed = written
      init.onProgress?.(written)
    })
    // Seen by settle(); not an unhandled rejection meanwhile.
    writing.catch(() => {})
  }
  const flush = async (): Promise<void> => {
    await startFlush()
    await settle()
  }
  /** After a failure: what was checked is written (if that fails too, settle() went back). */
  const keepWritten = async (): Promise<void> => {
    await flush().catch(() => {})
  }
  const advance = async (bytes: Uint8Array | undefined): Promise<void> => {
    const index = next++
    if (bytes !== undefined) pending.push(init.blobs.chunkOp(ids[index], bytes))
    if (init.isEarly?.(ids[index]) ?? true) pending.push(init.blobs.earlyDelOp(ids[index]))
    init.onClaimed?.(ids[index])
    if (next === count) await flush()
    else if (next - record.have >= CHUNKS_PER_BATCH) await startFlush()
  }
  const takeLocal = async (): Promise<void> => {
    while (next < count) {
      const local = await init.blobs.chunk(ids[next])
      if (local === undefined) break
      try {
        check(next, local)
      } catch {
        // Not what the manifest names at this position: fetched again below.
        break
      }
      await advance(undefined)
    }
    await flush()
  }

  await takeLocal()
  let last: unknown = new AttachmentError('ERR_NO_SOURCE', 'no source for this file')
  for (const source of init.sources) {
    if (next >= count) break
    try {
      for await (const { id, bytes } of fetchBlobs(init.libp2p, source, ids.slice(next), { signal: init.signal })) {
        init.signal?.throwIfAborted()
        if (id !== ids[next]) throw new AttachmentError('ERR_CHUNK_HASH', 'chunks out of order')
        if (bytes === undefined) throw new AttachmentError('ERR_NO_SOURCE', 'the source lacks a chunk')
        check(next, bytes)
        await advance(bytes)
      }
    } catch (err) {
      // What was checked before the failure is kept (also when stopped).
      await keepWritten()
      if (init.signal?.aborted === true) throw err
      init.logger.info('a source failed during a download', { code: (err as AttachmentError).code ?? 'ERR_STREAM' })
      last = err
    }
  }
  await keepWritten()
  if (record.have < count) {
    // Nothing left to try: what was written stays, and the next run resumes from it.
    if (init.sources.length === 0) throw new AttachmentError('ERR_NO_SOURCE', 'waiting for the rest of the file')
    throw last
  }
  record = { ...record, state: 'ready', received: manifest.size }
  delete record.lastError
  await init.blobs.batch([init.blobs.recordOp(record), init.blobs.earlyDelOp(record.id)])
  return record
}

/**
 * The plaintext of a complete file, chunk by chunk, each opened again (the store could have
 * been swapped under us) and the padding left out. One chunk in memory at a time.
 */
export async function * readFile (blobs: BlobStore, record: AttachmentRecord): AsyncGenerator<Uint8Array> {
  const sealedManifest = await blobs.chunk(record.id)
  if (sealedManifest === undefined) throw new AttachmentError('ERR_ATTACHMENT_NOT_READY', 'this file has not arrived')
  const manifest = openManifest(Buffer.from(record.key, 'base64'), Buffer.from(record.id, 'hex'), sealedManifest)
  const chunkKey = createSecretKey(subkey(Buffer.from(record.key, 'base64'), 'chunk'))
  const count = manifest.chunks.length
  let left = manifest.size
  for (let i = 0; i < count && left > 0; i++) {
    const id = Buffer.from(manifest.chunks[i]).toString('hex')
    const sealed = await blobs.chunk(id)
    if (sealed === undefined) throw new AttachmentError('ERR_ATTACHMENT_NOT_READY', 'a chunk of this file is missing')
    const plain = openChunk(chunkKey, i, i === count - 1, sealed)
    const n = Math.min(left, CHUNK_SIZE)
    left -= n
    yield plain.subarray(0, n)
  }
}

/**
 * `/sotto/blob/1`: sealed chunks (and manifests) fetched by id, many per stream.
 *   request:  version(1) | 0x01 | n u8 (1..MAX_IDS_PER_REQUEST) | n ids (32 bytes each)
 *   response: per id, in order: version(1) | 0x02 | sealed bytes   (found)
 *                            or version(1) | 0x04                  (not here)
 *          or, instead of the lot: version(1) | 0x03 | u32 retry-after ms (rate limited)
 * A client may send the next request before the last one's answers are read (a window of
 * REQUESTS_IN_FLIGHT), which keeps the link busy. The same frame limits and timeouts as the
 * other protocols apply (frames.ts): a peer's oversize or slow frame resets its stream only.
 * Knowing a chunk id is the capability to fetch it: ids are hashes of ciphertext, learnt only
 * from a manifest, which only holders of the file key can open; what a chunk holds needs the
 * key too. Each remote peer has a token bucket in chunks per second.
 */
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import type { ComponentLogger } from '../log.js'
import { FRAME_TIMEOUT_MS } from '../net/constants.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from '../net/frames.js'
import { TokenBuckets } from '../net/token-bucket.js'
import { BLOB_BURST, BLOB_PROTOCOL, BLOB_RATE_PER_SECOND, MAX_BLOB_FRAME, MAX_BLOB_REQUEST_FRAME, MAX_BLOB_RATE_PEERS, MAX_IDS_PER_REQUEST, MAX_INBOUND_BLOB_STREAMS, MAX_OUTBOUND_BLOB_STREAMS, REQUESTS_IN_FLIGHT } from './constants.js'
import { AttachmentError } from './errors.js'

const TYPE_REQUEST = 0x01
const TYPE_BLOB = 0x02
const TYPE_RATE_LIMITED = 0x03
const TYPE_MISSING = 0x04
const ID_BYTES = 32

export interface BlobServerInit {
  /** The sealed bytes stored under a hex id, or undefined. */
  get: (id: string) => Promise<Uint8Array | undefined>
  logger: ComponentLogger
  frameTimeoutMs?: number
  now?: () => number
  rate?: { perSecond: number, burst: number }
  /** Called after a blob was written to a peer (its PeerId), for the sender's progress. */
  onServed?: (peer: string, id: string) => void
}

export async function registerBlobServer (libp2p: Libp2p, init: BlobServerInit): Promise<void> {
  const timeout = init.frameTimeoutMs ?? FRAME_TIMEOUT_MS
  const buckets = new TokenBuckets(init.now ?? Date.now, init.rate?.perSecond ?? BLOB_RATE_PER_SECOND, init.rate?.burst ?? BLOB_BURST, MAX_BLOB_RATE_PEERS)
  await libp2p.handle(BLOB_PROTOCOL, (stream: Stream, connection: Connection) => {
    void serve(stream, connection.remotePeer.toString()).catch((err: unknown) => {
      init.logger.debug('blob stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
      stream.abort(err instanceof Error ? err : new Error('blob stream failed'))
    })
  }, { maxInboundStreams: MAX_INBOUND_BLOB_STREAMS, maxOutboundStreams: MAX_OUTBOUND_BLOB_STREAMS })

  async function serve (stream: Stream, peer: string): Promise<void> {
    const reader = new FrameReader(stream, MAX_BLOB_REQUEST_FRAME, timeout)
    for (;;) {
      const frame = await reader.read()
      if (frame === undefined) break
      const ids = parseRequest(checkVersion(frame))
      let wait = 0
      for (let i = 0; i < ids.length && wait === 0; i++) wait = buckets.wait(peer)
      if (wait > 0) {
        const out = new Uint8Array(6)
        out[0] = FRAME_VERSION
        out[1] = TYPE_RATE_LIMITED
        new DataView(out.buffer).setUint32(2, Math.min(wait, 0xffff_ffff))
        await writeFrame(stream, out)
        continue
      }
      // Every read of the request is started at once (at most MAX_IDS_PER_REQUEST chunks,
      // 1 MiB, in memory), so the store works while the answers before are being written.
      const reads = ids.map(async (id) => await init.get(id))
      // A failed read still fails the stream below, in order; the others are not left unhandled.
      for (const r of reads) r.catch(() => {})
      for (let i = 0; i < ids.length; i++) {
        const blob = await reads[i]
        if (blob === undefined) { await writeFrame(stream, Uint8Array.of(FRAME_VERSION, TYPE_MISSING)); continue }
        await writeBlobFrame(stream, blob)
        init.onServed?.(peer, ids[i])
      }
    }
    void stream.close().catch(() => {})
  }
}

/**
 * One found answer, `length u32 | version | TYPE_BLOB | sealed bytes`, as frames.ts writes it
 * but without copying the chunk into a new frame: header and chunk go as one list.
 */
async function writeBlobFrame (stream: Stream, blob: Uint8Array): Promise<void> {
  const header = new Uint8Array(6)
  new DataView(header.buffer).setUint32(0, 2 + blob.length)
  header[4] = FRAME_VERSION
  header[5] = TYPE_BLOB
  if (!stream.send(new Uint8ArrayList(header, blob))) await stream.onDrain()
}

function parseRequest (body: Uint8Array): string[] {
  const n = body[1]
  if (body[0] !== TYPE_REQUEST || n === undefined || n < 1 || n > MAX_IDS_PER_REQUEST || body.length !== 2 + n * ID_BYTES) {
    throw new FrameError('ERR_FRAME_TYPE', 'expected a blob request')
  }
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push(Buffer.from(body.subarray(2 + i * ID_BYTES, 2 + (i + 1) * ID_BYTES)).toString('hex'))
  return ids
}

export interface BlobSource { peerId: PeerId, addrs: Multiaddr[] }

/**
 * Fetches blobs by id from one source, in order, yielding each one's bytes (undefined when
 * the source does not have it). Throws AttachmentError ERR_NO_SOURCE when the source cannot
 * be reached, ERR_RATE_LIMITED when it asks us to wait, FrameError on a broken stream.
 */
export async function * fetchBlobs (libp2p: Libp2p, source: BlobSource, ids: string[], options: { signal?: AbortSignal, frameTimeoutMs?: number } = {}): AsyncGenerator<{ id: string, bytes: Uint8Array | undefined }> {
  let stream: Stream
  try {
    if (source.addrs.length > 0 && libp2p.getConnections(source.peerId).length === 0) await libp2p.peerStore.merge(source.peerId, { multiaddrs: source.addrs })
    stream = await libp2p.dialProtocol(source.peerId, BLOB_PROTOCOL, { signal: options.signal ?? AbortSignal.timeout(FRAME_TIMEOUT_MS) })
  } catch (err) {
    throw new AttachmentError('ERR_NO_SOURCE', 'the source cannot be reached', { cause: err })
  }
  const batches: string[][] = []
  for (let i = 0; i < ids.length; i += MAX_IDS_PER_REQUEST) batches.push(ids.slice(i, i + MAX_IDS_PER_REQUEST))
  const reader = new FrameReader(stream, MAX_BLOB_FRAME, options.frameTimeoutMs ?? FRAME_TIMEOUT_MS)
  let sent = 0
  const sendNext = async (): Promise<void> => {
    const batch = batches[sent++]
    const body = new Uint8Array(3 + batch.length * ID_BYTES)
    body[0] = FRAME_VERSION
    body[1] = TYPE_REQUEST
    body[2] = batch.length
    batch.forEach((id, i) => { body.set(Buffer.from(id, 'hex'), 3 + i * ID_BYTES) })
    await writeFrame(stream, body)
  }
  let done = false
  try {
    while (sent < Math.min(REQUESTS_IN_FLIGHT, batches.length)) await sendNext()
    for (let b = 0; b < batches.length; b++) {
      for (let i = 0; i < batches[b].length; i++) {
        const frame = await reader.read()
        if (frame === undefined) throw new FrameError('ERR_FRAME_TRUNCATED', 'the source ended the stream early')
        const body = checkVersion(frame)
        if (body[0] === TYPE_RATE_LIMITED && i === 0 && body.length === 5) {
          const retry = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1)
          throw Object.assign(new AttachmentError('ERR_RATE_LIMITED', 'the source asks us to slow down'), { retryAfterMs: retry })
        }
        if (body[0] === TYPE_MISSING && body.length === 1) yield { id: batches[b][i], bytes: undefined }
        else if (body[0] === TYPE_BLOB && body.length > 1) yield { id: batches[b][i], bytes: body.subarray(1) }
        else throw new FrameError('ERR_FRAME_TYPE', 'unexpected blob answer')
        // The next request goes out as soon as this batch has started to arrive.
        if (i === 0 && sent < batches.length) await sendNext()
      }
    }
    done = true
  } finally {
    if (done) void stream.close().catch(() => {})
    else stream.abort(new Error('blob fetch ended'))
  }
}

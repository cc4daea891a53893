/**
 * /sotto/blob/1 and downloads on real libp2p nodes over loopback: a chunk tampered by one
 * source is refused and fetched from another; a frame over the limit is refused before it
 * is buffered; a download cut in the middle resumes from the chunks it recorded; a source
 * that asks too fast is rate limited.
 */
import { createHash, randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchBlobs, registerBlobServer, type BlobSource } from '../../node/attachments/blob-protocol.js'
import { BlobStore, type AttachmentRecord } from '../../node/attachments/blob-store.js'
import { BLOB_PROTOCOL, CHUNK_SIZE, MAX_BLOB_FRAME } from '../../node/attachments/constants.js'
import { AttachmentService } from '../../node/attachments/service.js'
import { download, readFile } from '../../node/attachments/transfers.js'
import { openManifest } from '../../node/attachments/manifest.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { silentLogger } from '../../node/log.js'
import { createMemoryStore } from '../../node/store/memory.js'

const log = silentLogger.forComponent('test')
let sender: SottoLibp2p
let evil: SottoLibp2p
let huge: SottoLibp2p
let receiver: SottoLibp2p
let service: AttachmentService
let file: Buffer
let uploaded: AttachmentRecord
/** Chunk ids each source was asked for. */
const asked = { evil: 0, sender: 0, senderIds: [] as string[] }

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

function source (n: SottoLibp2p): BlobSource {
  return { peerId: n.peerId, addrs: n.getMultiaddrs() }
}

async function * pieces (data: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += 10_000) yield data.subarray(i, i + 10_000)
}

function incoming (r: AttachmentRecord): AttachmentRecord {
  return { ...r, direction: 'in', state: 'pending', have: 0, received: 0 }
}

async function sha (blobs: BlobStore, r: AttachmentRecord): Promise<string> {
  const h = createHash('sha256')
  for await (const p of readFile(blobs, { ...r, state: 'ready' })) h.update(p)
  return h.digest('hex')
}

function chunkIds (r: AttachmentRecord): string[] {
  return openManifest(Buffer.from(r.key, 'base64'), Buffer.from(r.id, 'hex'), manifestBytes).chunks.map((c) => Buffer.from(c).toString('hex'))
}
let manifestBytes: Uint8Array

beforeAll(async () => {
  [sender, evil, huge, receiver] = await Promise.all([node(), node(), node(), node()])
  service = new AttachmentService({ store: createMemoryStore(), libp2p: sender, sourceOf: async () => undefined, logger: log, now: Date.now })
  await service.start()
  file = randomBytes(20 * CHUNK_SIZE + 123)
  uploaded = await service.upload(pieces(file), { name: 'f.bin', mime: 'application/octet-stream' })
  manifestBytes = (await service.blobs.chunk(uploaded.id)) as Uint8Array
  // The sender counts what it is asked for by wrapping its store's reads.
  const get = service.blobs.chunk.bind(service.blobs)
  service.blobs.chunk = async (id) => { asked.sender++; asked.senderIds.push(id); return await get(id) }
  // A source that has every chunk but flips a bit in the fifth chunk of the file, each time.
  let seen = 0
  let target: string | undefined
  await registerBlobServer(evil, {
    logger: log,
    get: async (id) => {
      asked.evil++
      const real = await get(id)
      if (real === undefined || id === uploaded.id) return real
      const copy = Buffer.from(real)
      if (target === undefined && ++seen === 5) target = id
      if (id === target) copy[10] ^= 1
      return copy
    }
  })
  // A source that announces a frame far over the limit.
  await huge.handle(BLOB_PROTOCOL, (stream: Stream) => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(64 * 1024 * 1024)
    stream.send(header)
  })
})

afterAll(async () => {
  await service.stop()
  await Promise.all([sender, evil, huge, receiver].map(async (n) => await n.stop()))
})

describe('downloads over /sotto/blob/1', () => {
  it('F1: a chunk tampered by one source is refused and fetched from the next; the file arrives intact', async () => {
    const blobs = new BlobStore(createMemoryStore())
    asked.evil = 0
    asked.sender = 0
    const done = await download({ libp2p: receiver, blobs, sources: [source(evil), source(sender)], logger: log }, incoming(uploaded))
    expect(done.state).toBe('ready')
    expect(done.received).toBe(file.length)
    // Four good chunks from the tampering source; the fifth (refused) and the rest from the sender.
    const ids = chunkIds(uploaded)
    expect(asked.senderIds).toContain(ids[4])
    expect(await sha(blobs, done)).toBe(createHash('sha256').update(file).digest('hex'))
  })

  it('with only the tampering source the download fails with ERR_CHUNK_HASH and nothing bad is written', async () => {
    const blobs = new BlobStore(createMemoryStore())
    await expect(download({ libp2p: receiver, blobs, sources: [source(evil)], logger: log }, incoming(uploaded))).rejects.toMatchObject({ code: 'ERR_CHUNK_HASH' })
  })

  it('F2: a frame over the limit is refused from its length header, before it is buffered', async () => {
    const gen = fetchBlobs(receiver, source(huge), [uploaded.id])
    await expect(gen.next()).rejects.toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' })
    expect(64 * 1024 * 1024).toBeGreaterThan(MAX_BLOB_FRAME)
  })

  it('a download cut in the middle resumes at the first chunk it did not record', async () => {
    const blobs = new BlobStore(createMemoryStore())
    const control = new AbortController()
    let cutAt: AttachmentRecord | undefined
    await expect(download({
      libp2p: receiver, blobs, sources: [source(sender)], logger: log, signal: control.signal,
      onProgress: (r) => { if (r.have === 8) { cutAt = r; control.abort() } }
    }, incoming(uploaded))).rejects.toBeDefined()
    expect(cutAt?.have).toBe(8)
    const recorded = await blobs.record(uploaded.id)
    // The next batch fills while one is written: what was checked before the cut is kept too.
    expect(recorded?.have).toBeGreaterThanOrEqual(8)
    expect(recorded?.have).toBeLessThan(chunkIds(uploaded).length)
    // What the resumed download writes: only what was missing (the manifest is kept too).
    const written: string[] = []
    const batch = blobs.batch.bind(blobs)
    blobs.batch = async (ops) => { for (const op of ops) if (op.key[0] === 'blob') written.push(String(op.key[1])); await batch(ops) }
    const done = await download({ libp2p: receiver, blobs, sources: [source(sender)], logger: log }, recorded as AttachmentRecord)
    expect(written).toEqual(chunkIds(uploaded).slice((recorded as AttachmentRecord).have))
    expect(await sha(blobs, done)).toBe(createHash('sha256').update(file).digest('hex'))
  })

  it('a store write that fails mid-download: what landed is kept, the rest is asked again, the file arrives intact', async () => {
    const blobs = new BlobStore(createMemoryStore())
    const batch = blobs.batch.bind(blobs)
    const landed: number[] = []
    let writes = 0
    // The third write of the record (the file's last batch) fails, a full disk say; every other one lands.
    blobs.batch = async (ops) => {
      const have = ops.map((op) => op.key[0] === 'att' && op.type === 'put' ? (JSON.parse(Buffer.from(op.value).toString()) as AttachmentRecord).have : undefined).find((h) => h !== undefined)
      if (have !== undefined && have > 0 && ++writes === 3) throw Object.assign(new Error('disk full'), { code: 'ERR_TEST_WRITE' })
      await batch(ops)
      if (have !== undefined) landed.push(have)
    }
    // The same source twice: the second run starts from what the store holds.
    const done = await download({ libp2p: receiver, blobs, sources: [source(sender), source(sender)], logger: log }, incoming(uploaded))
    expect(done.state).toBe('ready')
    // 8, 16, then the last batch failed; the second run wrote 16 to the end, then "ready".
    const count = chunkIds(uploaded).length
    expect(landed).toEqual([8, 16, count, count])
    expect(await sha(blobs, done)).toBe(createHash('sha256').update(file).digest('hex'))
  })

  it('a source with nothing, or none at all: ERR_NO_SOURCE', async () => {
    const blobs = new BlobStore(createMemoryStore())
    const unknown = { ...incoming(uploaded), id: randomBytes(32).toString('hex') }
    await expect(download({ libp2p: receiver, blobs, sources: [source(sender)], logger: log }, unknown)).rejects.toMatchObject({ code: 'ERR_NO_SOURCE' })
    await expect(download({ libp2p: receiver, blobs, sources: [], logger: log }, unknown)).rejects.toMatchObject({ code: 'ERR_NO_SOURCE' })
  })
})

/**
 * The sender's side of a transfer (node/attachments/sent-progress.ts), with a memory store and
 * a clock passed in: per requesting PeerId the highest chunk served is how far it got; the last
 * chunk makes it a recipient that has the file; `delivered` once every recipient has it; events
 * at most every 250 ms but always at a change of state or count; what it knows survives a
 * restart; chunks of files we did not send are not counted.
 */
import { describe, expect, it } from 'vitest'
import { BlobStore } from '../../node/attachments/blob-store.js'
import { CHUNK_SIZE } from '../../node/attachments/constants.js'
import { AttachmentService } from '../../node/attachments/service.js'
import { SentProgress, type SentView } from '../../node/attachments/sent-progress.js'
import { openManifest } from '../../node/attachments/manifest.js'
import { silentLogger } from '../../node/log.js'
import { createMemoryStore } from '../../node/store/memory.js'
import type { SecureStore } from '../../node/store/types.js'

async function * bytes (n: number): AsyncGenerator<Uint8Array> {
  yield new Uint8Array(n).fill(7)
}

/** A file uploaded through the service (which indexes nothing here), and its chunk ids. */
async function uploaded (store: SecureStore, size: number): Promise<{ id: string, chunks: string[], size: number }> {
  const service = new AttachmentService({ store, libp2p: {} as any, sourceOf: async () => undefined, logger: silentLogger.forComponent('t'), now: () => 0 })
  const r = await service.upload(bytes(size), { name: 'f.bin', mime: 'application/octet-stream' })
  const m = openManifest(Buffer.from(r.key, 'base64'), Buffer.from(r.id, 'hex'), (await service.blobs.chunk(r.id)) as Uint8Array)
  return { id: r.id, chunks: m.chunks.map((c) => Buffer.from(c).toString('hex')), size }
}

function progress (store: SecureStore, clock: { t: number }): { p: SentProgress, events: SentView[] } {
  const events: SentView[] = []
  const p = new SentProgress({ blobs: new BlobStore(store), now: () => clock.t, onChange: (v) => { events.push(v) } })
  return { p, events }
}

describe('the sender\'s progress', () => {
  it('a recipient\'s progress is the highest chunk served to it; the last chunk delivers; events throttled but never a change missed', async () => {
    const store = createMemoryStore()
    const file = await uploaded(store, 5 * CHUNK_SIZE + 100)
    const clock = { t: 1000 }
    const { p, events } = progress(store, clock)
    p.uploaded(file.id, file.size, file.chunks)
    p.sentIn(file.id, 'peer-conversation', 'message-1', 1)
    expect(p.view(file.id)).toMatchObject({ state: 'ready', sent: 0, delivered: 0, recipients: 1 })
    await p.served('peerA', file.id) // the manifest: not a chunk
    expect(events).toEqual([])
    await p.served('peerA', file.chunks[0])
    await p.served('peerA', file.chunks[1])
    clock.t += 100
    await p.served('peerA', file.chunks[2])
    // The first chunk changed the state (an event); the next two came within 250 ms (none).
    expect(events.map((e) => [e.state, e.sent])).toEqual([['uploading', CHUNK_SIZE]])
    clock.t += 300
    await p.served('peerA', file.chunks[3])
    expect(events.at(-1)).toMatchObject({ state: 'uploading', sent: 4 * CHUNK_SIZE, peer: 'peer-conversation', messageId: 'message-1' })
    // The last chunk, within 250 ms of the last event: a change of state is never held back.
    for (const c of file.chunks.slice(4)) await p.served('peerA', c)
    expect(events.at(-1)).toMatchObject({ state: 'delivered', sent: file.size, delivered: 1, recipients: 1 })
    // No event carries anything but ids, counts and sizes.
    for (const e of events) expect(Object.keys(e).sort()).toEqual(['delivered', 'id', 'messageId', 'peer', 'recipients', 'sent', 'size', 'state'])
  })

  it('a group: "1 of 2" until the second member has it all; a member resuming after our restart counts from where it stands', async () => {
    const store = createMemoryStore()
    const file = await uploaded(store, 3 * CHUNK_SIZE)
    const clock = { t: 0 }
    const first = progress(store, clock)
    first.p.uploaded(file.id, file.size, file.chunks)
    first.p.sentIn(file.id, 'group', 'm', 2)
    const blobs = new BlobStore(store)
    const r = await blobs.record(file.id)
    await blobs.batch([blobs.recordOp({ ...r!, peer: 'group', messageId: 'm', recipients: 2 })])
    for (const c of file.chunks) await first.p.served('bob', c)
    await first.p.served('carol', file.chunks[0])
    expect(first.p.view(file.id)).toMatchObject({ state: 'uploading', delivered: 1, recipients: 2, sent: file.size })
    // A restart: the record says Bob has it; Carol goes on from her second chunk.
    const again = progress(store, clock)
    for await (const rec of blobs.records()) again.p.restore(rec)
    expect(again.p.view(file.id)).toMatchObject({ state: 'uploading', delivered: 1, recipients: 2 })
    for (const c of file.chunks.slice(1)) await again.p.served('carol', c)
    expect(again.p.view(file.id)).toMatchObject({ state: 'delivered', delivered: 2, recipients: 2, sent: file.size })
    expect(again.events.at(-1)).toMatchObject({ state: 'delivered', delivered: 2, peer: 'group', messageId: 'm' })
    expect((await blobs.record(file.id))?.fetchedBy?.sort()).toEqual(['bob', 'carol'])
  })

  it('chunks of a file we received (and serve on) are not counted', async () => {
    const store = createMemoryStore()
    const file = await uploaded(store, 2 * CHUNK_SIZE)
    const blobs = new BlobStore(store)
    const r = await blobs.record(file.id)
    await blobs.batch([blobs.recordOp({ ...r!, direction: 'in', peer: 'someone', messageId: 'm' })])
    const { p, events } = progress(store, { t: 0 })
    for (const c of file.chunks) await p.served('dave', c)
    expect(events).toEqual([])
    expect(p.view(file.id)).toBeUndefined()
  })
})

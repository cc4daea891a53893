/**
 * The checklist's transport items on /sotto/mailbox/1 (and the batch put of /2), on real
 * libp2p nodes over loopback TCP: garbage, malformed or oversize batches, oversize frames,
 * slow senders, slow readers, half-open streams, unknown versions and stream floods cost the
 * offender its stream and nothing else.
 *
 * Each refusal is checked from both sides where both can see it: the offending stream is
 * reset (the client sees a remote reset, not a reply and not its own timeout), and the
 * server logged the reason, the FrameError code, for that reset.
 */
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import { silentLogger } from '../../node/log.js'
import { MAILBOX_PROTOCOL, MAILBOX_PROTOCOL_V2 } from '../../node/net/constants.js'
import { checkVersion, encodeFrame, FrameReader, FRAME_VERSION } from '../../node/net/frames.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import {
  MAX_ENVELOPE_BYTES, MAX_INBOUND_MAILBOX_STREAMS, MAX_MAILBOX_REQUEST_FRAME, MAX_PUT_BATCH, MAX_PUT_BATCH_FRAME, MAX_SUBSCRIBERS_PER_PEER, MAX_SUBSCRIPTION_BACKLOG_BYTES
} from '../../node/net/mailbox/constants.js'
import { mailboxKeyFor, signOwnerProof, type MailboxOp } from '../../node/net/mailbox/proof.js'
import { encodeFetchTail, encodeProof, fetchPage, putEnvelope, putEnvelopes, registerMailbox, type ProofSigner, type PutItem } from '../../node/net/mailbox/protocol.js'
import { decodePutBatchReply, encodePutBatch } from '../../node/net/mailbox/wire.js'
import { MailboxStore } from '../../node/net/mailbox/store.js'
import { tempDir } from '../helpers/cli.js'
import { codeOf, outcome as probeOutcome, plainNode as plainPeer, ResetLog, type Outcome } from '../helpers/stream-probe.js'

const FRAME_TIMEOUT_MS = 1000
let server: SottoLibp2p
let serverStore: MailboxStore
let attacker: SottoLibp2p
let honest: SottoLibp2p
const running: Libp2p[] = []
const dirs: Array<{ remove: () => Promise<void> }> = []

/** Everything the servers logged when they reset a mailbox stream: the FrameError code, in order. */
const resets = new ResetLog('mailbox stream reset')
const resetCodes = resets.codes
const logger = resets.logger
const until = async (condition: () => boolean): Promise<void> => { await resets.until(condition) }
const resetCode = async (index: number): Promise<string> => await resets.code(index)


async function node (): Promise<SottoLibp2p> {
  const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  running.push(n)
  return n
}

/** A peer that does not run Sotto's code, stopped after the tests. */
async function plainNode (): Promise<Libp2p> {
  const n = await plainPeer()
  running.push(n)
  return n
}

/**
 * A peer whose streams never grow their receive window past yamux's initial 256 KiB: once it
 * pauses a stream, the server can send it no more than what is left of that window. Stock
 * yamux on loopback grows the window to megabytes within a few frames, which would hide
 * a reader that takes nothing.
 */
async function stingyNode (): Promise<Libp2p> {
  const n = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 256 * 1024 } })] })
  running.push(n)
  return n
}

async function mailboxServer (frameTimeoutMs: number): Promise<{ libp2p: SottoLibp2p, store: MailboxStore }> {
  const d = await tempDir('sotto-mlimits-')
  dirs.push(d)
  const libp2p = await node()
  const store = await MailboxStore.open(join(d.path, 'mailbox'), { totalQuotaBytes: 1e9, now: Date.now })
  await registerMailbox(libp2p, { store, logger: logger.forComponent('t'), now: Date.now, frameTimeoutMs, putRate: { perSecond: 10_000, burst: 10_000 } })
  return { libp2p, store }
}

beforeAll(async () => {
  const s = await mailboxServer(FRAME_TIMEOUT_MS)
  server = s.libp2p
  serverStore = s.store
  attacker = await node()
  honest = await node()
  for (const n of [attacker, honest]) await n.dial(server.getMultiaddrs()[0])
})

afterAll(async () => {
  await Promise.all(running.map(async (n) => await n.stop()))
  for (const d of dirs) await d.remove()
})

async function rawStream (to: Libp2p = server, from: Libp2p = attacker): Promise<Stream> {
  return await from.dialProtocol(to.getMultiaddrs()[0], MAILBOX_PROTOCOL)
}


/** What the server did with this stream (mailbox replies can be large, and its timeout is longer). */
async function outcome (stream: Stream, ms = 10_000, reader?: FrameReader): Promise<Outcome> {
  return await probeOutcome(stream, ms, reader)
}

const box = (n: number): Uint8Array => new Uint8Array(32).fill(n)
function putFrame (mailbox: Uint8Array, envelope: Uint8Array, version = FRAME_VERSION): Uint8Array {
  const ttl = new Uint8Array(4)
  new DataView(ttl.buffer).setUint32(0, 60)
  return encodeFrame(Uint8Array.of(version, 0x01, ...mailbox, ...ttl, ...envelope))
}

async function honestPutWorks (to: Libp2p = server): Promise<boolean> {
  await honest.dial(to.getMultiaddrs()[0])
  return (await putEnvelope(honest, to.peerId, box(0xaa), new Uint8Array(crypto.getRandomValues(new Uint8Array(64))), 60_000)).ok
}


const signer = (who: IdentityKeys): ProofSigner => (op, mailboxPeer, nonce) =>
  signOwnerProof({ op, signingSeed: who.signingSeed, signingPublicKey: who.signingPublicKey, dhPublicKey: who.dhPublicKey, mailboxPeer, nonce, now: Date.now() })

/**
 * The owner side of the protocol by hand: asks a challenge, then sends `op` with a valid
 * proof and `tail`; returns the stream and its reader for the test to misuse.
 */
async function ownerStream (to: Libp2p, from: Libp2p, who: IdentityKeys, op: MailboxOp & ('fetch' | 'subscribe'), tail: Uint8Array, pause = false): Promise<{ stream: Stream, reader: FrameReader }> {
  const stream = await rawStream(to, from)
  const reader = new FrameReader(stream, 2 * 1024 * 1024, 10_000)
  stream.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x02)))
  const challenge = checkVersion(await reader.read() as Uint8Array)
  const proof = signer(who)(op, to.peerId.toMultihash().bytes, challenge.slice(1))
  if (pause) stream.pause()
  stream.send(encodeFrame(Uint8Array.of(FRAME_VERSION, op === 'fetch' ? 0x03 : 0x05, ...encodeProof(proof), ...tail)))
  return { stream, reader }
}

/** The inbound mailbox streams `server` holds open from `peer`. */
function serverStreams (on: Libp2p, peer: PeerId): Stream[] {
  return on.getConnections(peer).flatMap((c) => c.streams).filter((s) => s.protocol === MAILBOX_PROTOCOL && s.direction === 'inbound' && s.status === 'open')
}

describe('transport limits on /sotto/mailbox/1', () => {
  it('T1: garbage bytes reset that stream; a garbage request type too; the node and other peers carry on', async () => {
    const before = resetCodes.length
    const s = await rawStream()
    s.send(new Uint8Array(64).fill(0x41))
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    // "AAAA" read as a length is 1 GiB: refused as too large, nothing else tried.
    expect(await resetCode(before)).toBe('ERR_FRAME_TOO_LARGE')
    const t = await rawStream()
    t.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x7f, 1, 2, 3)))
    expect(await outcome(t)).toEqual({ kind: 'reset' })
    expect(await resetCode(before + 1)).toBe('ERR_FRAME_TYPE')
    // A put too short to hold a mailbox key is answered BAD_REQUEST (status 6), as a value.
    const u = await rawStream()
    u.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, 1, 2, 3)))
    const reply = await outcome(u)
    expect(reply.kind).toBe('reply')
    expect(reply.kind === 'reply' ? reply.frame.subarray(0, 3) : undefined).toEqual(Uint8Array.of(FRAME_VERSION, 0x81, 6))
    expect(await honestPutWorks()).toBe(true)
    // The attacker's own connection is still usable for a proper put.
    expect((await putEnvelope(attacker, server.peerId, box(1), Uint8Array.of(9), 60_000)).ok).toBe(true)
  })

  it('T2: an oversize length prefix is refused before anything of that size is allocated', async () => {
    const before = resetCodes.length
    const memBefore = process.memoryUsage().arrayBuffers
    const s = await rawStream()
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 0xfffffff0)
    s.send(header)
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_FRAME_TOO_LARGE')
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(64 * 1024 * 1024)
    // One byte over the limit, sent whole: refused too.
    const s2 = await rawStream()
    s2.send(encodeFrame(new Uint8Array(MAX_MAILBOX_REQUEST_FRAME + 1).fill(1)))
    expect(await outcome(s2)).toEqual({ kind: 'reset' })
    expect(await resetCode(before + 1)).toBe('ERR_FRAME_TOO_LARGE')
    // A frame of exactly the limit is read: a put of an envelope above MAX_ENVELOPE_BYTES, answered TOO_LARGE (2).
    const s3 = await rawStream()
    const frame = putFrame(box(2), new Uint8Array(MAX_MAILBOX_REQUEST_FRAME - 38).fill(3))
    expect(frame.length).toBe(4 + MAX_MAILBOX_REQUEST_FRAME)
    expect(MAX_MAILBOX_REQUEST_FRAME - 38).toBeGreaterThan(MAX_ENVELOPE_BYTES)
    s3.send(frame)
    const r = await outcome(s3)
    expect(r.kind === 'reply' ? r.frame[2] : r).toBe(2)
    expect(await honestPutWorks()).toBe(true)
  })

  it('T4: a stream sending one byte at a time is reset by the frame timeout, in the first frame and in the proof', async () => {
    const before = resetCodes.length
    const s = await rawStream()
    const frame = putFrame(box(3), Uint8Array.of(7, 7, 7))
    let ended = false
    const result = outcome(s, 30_000).finally(() => { ended = true })
    // One byte every 300 ms: the whole frame would take 12 s (timeout: 1 s).
    let sent = 0
    for (; sent < frame.length && !ended; sent++) {
      try { s.send(frame.subarray(sent, sent + 1)) } catch { break }
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    expect(await result).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_FRAME_TIMEOUT')
    expect(sent).toBeLessThan(frame.length)

    // The challenge is answered at once; then the proof trickles in and the stream is reset.
    const p = await rawStream()
    const reader = new FrameReader(p, 1024, 10_000)
    p.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x02)))
    expect(Uint8Array.from((await reader.read())?.subarray(0, 2) ?? [])).toEqual(Uint8Array.of(FRAME_VERSION, 0x82))
    const proofFrame = encodeFrame(new Uint8Array(200).fill(1))
    let done = false
    const second = outcome(p, 30_000, reader).finally(() => { done = true })
    for (let i = 0; i < proofFrame.length && !done; i++) {
      try { p.send(proofFrame.subarray(i, i + 1)) } catch { break }
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    expect(await second).toEqual({ kind: 'reset' })
    expect(await resetCode(before + 1)).toBe('ERR_FRAME_TIMEOUT')
    expect(await honestPutWorks()).toBe(true)
  })

  it('T4: an owner that never reads its fetch reply (its stream paused) is reset by the reply timeout, not held', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(71))
    const own = mailboxKeyFor(owner.dhPublicKey)
    // A mailbox holding more than one yamux window (256 KiB) of envelopes.
    for (let i = 0; i < 12; i++) {
      const e = new Uint8Array(MAX_ENVELOPE_BYTES - 1024)
      e[0] = i
      expect((await putEnvelope(honest, server.peerId, own, e, 60_000)).ok).toBe(true)
    }
    const before = resetCodes.length
    const reader = await stingyNode()
    await reader.dial(server.getMultiaddrs()[0])
    // Take nothing: no window updates, the server's send window runs out mid-reply.
    const { stream } = await ownerStream(server, reader, owner, 'fetch', encodeFetchTail(undefined), true)
    const closed = new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }))
    expect(await resetCode(before)).toBe('ERR_REPLY_TIMEOUT')
    await closed
    expect(stream.status).toBe('reset')
    expect(serverStreams(server, reader.peerId)).toEqual([])
    expect(await honestPutWorks()).toBe(true)
  })

  it('T5: a frame with an unknown version is refused with a typed error and a reset; so is a fetch without its format; version 1 is answered', async () => {
    expect(codeOf(() => checkVersion(Uint8Array.of(9, 1, 2)))).toBe('ERR_UNKNOWN_VERSION')
    const before = resetCodes.length
    const s = await rawStream()
    s.send(putFrame(box(4), Uint8Array.of(0x55), 9))
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_UNKNOWN_VERSION')

    // A fetch as format 1 sent it (proof, no format byte, no cursor): a typed refusal, not one silent batch.
    const owner = deriveIdentity(new Uint8Array(16).fill(72))
    const { stream, reader } = await ownerStream(server, attacker, owner, 'fetch', new Uint8Array(0))
    expect(await outcome(stream, 10_000, reader)).toEqual({ kind: 'reset' })
    expect(await resetCode(before + 1)).toBe('ERR_UNKNOWN_VERSION')

    // The same put with version 1: answered ok (status 0).
    const ok = await rawStream()
    ok.send(putFrame(box(4), Uint8Array.of(0x55)))
    const r = await outcome(ok)
    expect(r.kind === 'reply' ? r.frame.subarray(0, 3) : r).toEqual(Uint8Array.of(FRAME_VERSION, 0x81, 0))
    expect(resetCodes.length).toBe(before + 2)
  })

  it('T5: a client fetching from a mailbox that answers in format 1 gets the typed value VERSION', async () => {
    const old = await node()
    // Format 1: a challenge, then [v|0x83|count u16|entries] whatever the request carried.
    await old.handle(MAILBOX_PROTOCOL, (stream: Stream) => {
      void (async () => {
        const reader = new FrameReader(stream, 4096, 10_000)
        await reader.read()
        stream.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x82, ...new Uint8Array(16))))
        await reader.read()
        stream.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x83, 0, 0)))
        await stream.close()
      })().catch((err: Error) => { stream.abort(err) })
    })
    const owner = deriveIdentity(new Uint8Array(16).fill(73))
    await attacker.dial(old.getMultiaddrs()[0])
    expect(await fetchPage(attacker, old.peerId, signer(owner))).toEqual({ ok: false, error: 'VERSION' })
  })

  it('T6: a half-open stream (opened, never written) is reset by the frame timeout; so is one that stops after the challenge', async () => {
    const before = resetCodes.length
    const s = await rawStream()
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_FRAME_TIMEOUT')
    const p = await rawStream()
    const reader = new FrameReader(p, 1024, 10_000)
    p.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x02)))
    expect(Uint8Array.from((await reader.read())?.subarray(0, 2) ?? [])).toEqual(Uint8Array.of(FRAME_VERSION, 0x82))
    expect(await outcome(p, 10_000, reader)).toEqual({ kind: 'reset' })
    expect(await resetCode(before + 1)).toBe('ERR_FRAME_TIMEOUT')
    expect((await putEnvelope(attacker, server.peerId, box(5), Uint8Array.of(5), 60_000)).ok).toBe(true)
  })

  it('T3: one connection gets MAX_INBOUND_MAILBOX_STREAMS streams held at a time; a flood beyond is refused; other peers are unaffected', async () => {
    // Its own server, whose streams wait long enough to be held through the whole flood.
    const held = await mailboxServer(60_000)
    // The flooder runs plain libp2p, so no limit on its own side refuses anything first.
    const flooder = await plainNode()
    const connection = await flooder.dial(held.libp2p.getMultiaddrs()[0])
    const open = async (): Promise<Outcome> => {
      let s: Stream | undefined
      try {
        s = await connection.newStream(MAILBOX_PROTOCOL, { maxOutboundStreams: 10_000 })
        const reader = new FrameReader(s, 1024, 30_000)
        s.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x02)))
        return await outcome(s, 30_000, reader)
      } catch (err) {
        const name = (err as Error).name
        return name === 'StreamResetError' || name === 'UnexpectedEOFError' || s?.status === 'reset' ? { kind: 'reset' } : { kind: 'error', name }
      }
    }
    // Up to the limit, one after the other: each gets its challenge and is then held, waiting for a proof.
    const kept: Outcome[] = []
    for (let i = 0; i < MAX_INBOUND_MAILBOX_STREAMS; i++) kept.push(await open())
    expect(kept.every((o) => o.kind === 'reply')).toBe(true)
    // Then a flood on the same connection while those are held: every one is refused.
    const flood = await Promise.all(Array.from({ length: 200 }, open))
    expect(flood.filter((o) => o.kind !== 'reset')).toEqual([])
    // Only streams were refused: the flooder's connection is the same one, still open.
    expect(flooder.getConnections(held.libp2p.peerId).map((c) => c.id)).toEqual([connection.id])
    expect(await honestPutWorks(held.libp2p)).toBe(true)
  })

  it('T3: a peer holds at most MAX_SUBSCRIBERS_PER_PEER subscriptions (its newest); another owner still subscribes and gets its pushes', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(74))
    const other = deriveIdentity(new Uint8Array(16).fill(75))
    const subs: Array<{ stream: Stream, reader: FrameReader, result: Promise<Outcome> }> = []
    const extra = 3
    for (let i = 0; i < MAX_SUBSCRIBERS_PER_PEER + extra; i++) {
      const s = await ownerStream(server, attacker, owner, 'subscribe', new Uint8Array(0))
      subs.push({ ...s, result: outcome(s.stream, 30_000, s.reader) })
    }
    // The oldest ones are reset by the server as newer ones arrive.
    for (const s of subs.slice(0, extra)) expect(await s.result).toEqual({ kind: 'reset' })
    const theirs = await ownerStream(server, honest, other, 'subscribe', new Uint8Array(0))
    const pushed = outcome(theirs.stream, 30_000, theirs.reader)
    expect((await putEnvelope(honest, server.peerId, mailboxKeyFor(other.dhPublicKey), Uint8Array.of(1, 2, 3), 60_000)).ok).toBe(true)
    const p = await pushed
    expect(p.kind === 'reply' ? p.frame.subarray(0, 2) : p).toEqual(Uint8Array.of(FRAME_VERSION, 0x85))
    // The newest subscriptions of the flooding peer still get their pushes.
    expect((await putEnvelope(honest, server.peerId, mailboxKeyFor(owner.dhPublicKey), Uint8Array.of(4, 5, 6), 60_000)).ok).toBe(true)
    for (const s of subs.slice(extra)) {
      const r = await s.result
      expect(r.kind === 'reply' ? r.frame.subarray(0, 2) : r).toEqual(Uint8Array.of(FRAME_VERSION, 0x85))
    }
    for (const s of [...subs, theirs]) s.stream.abort(new Error('done'))
  })

  it('T3: a subscriber that takes nothing (its stream paused) is dropped once its backlog passes MAX_SUBSCRIPTION_BACKLOG_BYTES', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(76))
    const own = mailboxKeyFor(owner.dhPublicKey)
    const subscriber = await stingyNode()
    await subscriber.dial(server.getMultiaddrs()[0])
    const { stream, reader } = await ownerStream(server, subscriber, owner, 'subscribe', new Uint8Array(0))
    // Subscribed once a first push arrives; from then on the subscriber takes nothing.
    const first = outcome(stream, 10_000, reader)
    expect((await putEnvelope(honest, server.peerId, own, Uint8Array.of(1), 60_000)).ok).toBe(true)
    const f = await first
    expect(f.kind === 'reply' ? f.frame.subarray(0, 2) : f).toEqual(Uint8Array.of(FRAME_VERSION, 0x85))
    stream.pause()
    const closed = new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }))
    expect(serverStreams(server, subscriber.peerId)).toHaveLength(1)
    const size = MAX_ENVELOPE_BYTES - 1024
    for (let i = 0; i * size < 2 * MAX_SUBSCRIPTION_BACKLOG_BYTES; i++) {
      const e = new Uint8Array(size)
      new DataView(e.buffer).setUint32(0, i)
      expect((await putEnvelope(honest, server.peerId, own, e, 60_000)).ok).toBe(true)
    }
    // The server let go of the stream rather than buffer every push for a reader that takes none.
    expect(serverStreams(server, subscriber.peerId)).toEqual([])
    await closed
    expect(stream.status).toBe('reset')
  })
})

describe('batch puts on /sotto/mailbox/2', () => {
  let n = 0
  const small = (size = 100): Uint8Array => { const e = new Uint8Array(size); new DataView(e.buffer).setUint32(0, ++n); e[4] = 0xba; return e }
  const item = (mailbox: Uint8Array, envelope: Uint8Array): PutItem => ({ mailbox, envelope, ttlMs: 60_000 })

  it('T1: a malformed batch (entries that do not fill it exactly) resets only its stream; the same connection then puts a batch', async () => {
    const good = encodePutBatch([item(box(0x21), small()), item(box(0x21), small())])
    const frames = [
      good.slice(0, good.length - 1), // the last envelope one byte short
      Uint8Array.of(...good, 0), // a byte after the last entry
      Uint8Array.of(FRAME_VERSION, 0x06, 0, 0) // no envelope at all
    ]
    const held = serverStore.stats().envelopes
    for (const frame of frames) {
      const before = resetCodes.length
      const s = await attacker.dialProtocol(server.peerId, MAILBOX_PROTOCOL_V2)
      s.send(encodeFrame(frame))
      expect(await outcome(s)).toEqual({ kind: 'reset' })
      expect(await resetCode(before)).toBe('ERR_MALFORMED')
    }
    expect(serverStore.stats().envelopes).toBe(held)
    const connection = attacker.getConnections(server.peerId)[0]
    expect((await putEnvelopes(attacker, server.peerId, [item(box(0x21), small()), item(box(0x21), small())])).every((r) => r.ok)).toBe(true)
    expect(attacker.getConnections(server.peerId).map((c) => c.id)).toEqual([connection.id])
    expect(await honestPutWorks()).toBe(true)
  })

  it('T2: a batch of more than MAX_PUT_BATCH envelopes is refused whole (BATCH_TOO_LARGE), nothing stored; a length over MAX_PUT_BATCH_FRAME resets the stream before it is read', async () => {
    const held = serverStore.stats().envelopes
    const s = await attacker.dialProtocol(server.peerId, MAILBOX_PROTOCOL_V2)
    s.send(encodeFrame(encodePutBatch(Array.from({ length: MAX_PUT_BATCH + 1 }, () => item(box(0x22), small(8))))))
    const r = await outcome(s)
    expect(r.kind === 'reply' ? r.frame.subarray(0, 6) : r).toEqual(Uint8Array.of(FRAME_VERSION, 0x86, 9, 0, 0))
    expect(decodePutBatchReply(checkVersion(r.kind === 'reply' ? r.frame : Uint8Array.of(0)), 2).map((a) => a.status)).toEqual(['BATCH_TOO_LARGE', 'BATCH_TOO_LARGE'])
    expect(serverStore.stats().envelopes).toBe(held)

    const before = resetCodes.length
    const memBefore = process.memoryUsage().arrayBuffers
    const big = await attacker.dialProtocol(server.peerId, MAILBOX_PROTOCOL_V2)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, MAX_PUT_BATCH_FRAME + 1)
    big.send(header)
    expect(await outcome(big)).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_FRAME_TOO_LARGE')
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(64 * 1024 * 1024)
    // A sender's own client splits what it is given by count and bytes, so it sends neither.
    const many = await putEnvelopes(honest, server.peerId, Array.from({ length: MAX_PUT_BATCH + 5 }, (_, i) => item(box(0x23 + (i % 8)), small(MAX_ENVELOPE_BYTES / 4))))
    expect(many.map((o) => o.ok)).toEqual(Array(MAX_PUT_BATCH + 5).fill(true))
  })
})

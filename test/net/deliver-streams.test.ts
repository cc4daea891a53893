/**
 * `/sotto/deliver/2` on real libp2p nodes over loopback TCP: one stream carries a burst of
 * envelopes, each acked in order with its own verdict and only once the handler resolved;
 * a peer that serves only `/sotto/deliver/1` still gets them; a stream that fails costs the
 * envelopes on it a failure (never an ack) and the next go on a new stream; garbage resets
 * that stream only (T1). The server counts the streams it is handed per protocol, so "one
 * stream" is what the recipient saw, not what the sender believes.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { DELIVER_PROTOCOL, DELIVER_PROTOCOL_V2, MAX_DELIVER_FRAME, MAX_DELIVER_IN_FLIGHT } from '../../node/net/constants.js'
import { deliverEnvelope, registerDeliver, VERDICTS, type DeliverResult } from '../../node/net/deliver.js'
import { DeliverSender } from '../../node/net/deliver-streams.js'
import { encodeFrame, FrameReader, FRAME_VERSION } from '../../node/net/frames.js'
import { outcome, ResetLog } from '../helpers/stream-probe.js'

let server: SottoLibp2p
/** Serves only /sotto/deliver/1, as a node from before /2 does. */
let old: SottoLibp2p
/** Closes a /2 stream after 1 s with nothing in flight (long enough for two envelopes in a row on a busy machine). */
let quick: SottoLibp2p
let client: SottoLibp2p
const events = new ResetLog('deliver stream reset')
/** Streams each server was handed, by protocol. */
const opened = new Map<Libp2p, Map<string, Stream[]>>()
/** Bytes each server-side stream received, counted from the moment it was handed over. */
const bytesIn = new WeakMap<Stream, number>()
/** Envelopes that reached a handler, in order. */
const received: Uint8Array[] = []
/** While set, the envelope whose second byte is `marker` waits in the handler until `gate` resolves. */
let hold: { marker: number, gate: Promise<void>, entered: boolean } | undefined

/** The first byte of a test envelope picks the server's verdict, so a mismatched ack shows. */
const envelope = (verdict: number, n: number): Uint8Array => Uint8Array.of(verdict, n)
const expected = (e: Uint8Array): DeliverResult => {
  const v = VERDICTS[e[0]]
  if (v === 'accepted' || v === 'duplicate') return { ok: true, verdict: v }
  return { ok: false, error: v === 'locked' ? 'LOCKED' : 'REFUSED' }
}

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

/** `libp2p` as registerDeliver sees it: handlers counted, and only `protocols` registered at all. */
function counted (libp2p: SottoLibp2p, protocols: string[]): Libp2p {
  const byProtocol = new Map<string, Stream[]>()
  opened.set(libp2p, byProtocol)
  const handle = async (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> => {
    if (!protocols.includes(protocol)) return
    await libp2p.handle(protocol, (stream, connection) => {
      byProtocol.set(protocol, [...(byProtocol.get(protocol) ?? []), stream])
      bytesIn.set(stream, 0)
      stream.addEventListener('message', (evt) => { bytesIn.set(stream, (bytesIn.get(stream) ?? 0) + evt.data.byteLength) })
      events.notify()
      return handler(stream, connection)
    }, options)
  }
  return new Proxy(libp2p, { get: (target, key) => key === 'handle' ? handle : Reflect.get(target, key) }) as unknown as Libp2p
}

const streamsOf = (libp2p: SottoLibp2p, protocol: string): Stream[] => opened.get(libp2p)?.get(protocol) ?? []

beforeAll(async () => {
  [server, old, quick, client] = await Promise.all([node(), node(), node(), node()])
  const init = {
    logger: events.logger.forComponent('t'),
    // Long enough that no stream here closes for idleness while a test still uses it.
    idleMs: 60_000,
    onEnvelope: async (e: Uint8Array) => {
      received.push(Uint8Array.from(e))
      if (hold !== undefined && e[1] === hold.marker) {
        hold.entered = true
        events.notify()
        await hold.gate
      }
      events.notify()
      return VERDICTS[e[0]]
    }
  }
  await registerDeliver(counted(server, [DELIVER_PROTOCOL, DELIVER_PROTOCOL_V2]), init)
  await registerDeliver(counted(old, [DELIVER_PROTOCOL]), init)
  await registerDeliver(counted(quick, [DELIVER_PROTOCOL, DELIVER_PROTOCOL_V2]), { ...init, idleMs: 1000 })
})

afterAll(async () => { await Promise.all([server, old, quick, client].map(async (n) => await n.stop())) })

function holdEnvelope (marker: number): () => void {
  let release!: () => void
  hold = { marker, gate: new Promise<void>((resolve) => { release = resolve }), entered: false }
  return () => { release(); hold = undefined }
}

describe('/sotto/deliver/2: many envelopes per stream', () => {
  it('50 envelopes to one peer go on one stream, each acked with its own verdict, in order', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000 })
    try {
      const before = streamsOf(server, DELIVER_PROTOCOL_V2).length
      const from = received.length
      const burst = Array.from({ length: 50 }, (_, i) => envelope(i % 11 === 3 ? 3 : i % 5 === 1 ? 2 : i % 3 === 2 ? 1 : 0, i))
      const results = await Promise.all(burst.map(async (e) => await sender.deliver(server.peerId, server.getMultiaddrs(), e)))
      expect(results).toEqual(burst.map(expected))
      // All four verdicts occur, so an answer matched to the wrong envelope would show.
      expect(new Set(burst.map((e) => e[0]))).toEqual(new Set([0, 1, 2, 3]))
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(1)
      expect(streamsOf(server, DELIVER_PROTOCOL).length).toBe(0)
      // The recipient handled them in the order they were sent.
      expect(received.slice(from)).toEqual(burst)
      // A second burst while the stream is open reuses it.
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 50))).toEqual({ ok: true, verdict: 'accepted' })
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(1)
    } finally {
      sender.stop()
    }
  })

  it('an envelope is acked only after the handler resolved (an ack means stored)', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000 })
    const release = holdEnvelope(0xa1)
    try {
      let settled = false
      const held = sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 0xa1)).finally(() => { settled = true })
      await events.until(() => hold?.entered === true)
      // A full exchange with the same server over the same connection, started after the held
      // envelope reached the handler: an ack written before the handler resolved would be here first.
      expect(await deliverEnvelope(client, server.peerId, server.getMultiaddrs(), envelope(0, 0xa2))).toEqual({ ok: true, verdict: 'accepted' })
      expect(settled).toBe(false)
      release()
      expect(await held).toEqual({ ok: true, verdict: 'accepted' })
    } finally {
      release()
      sender.stop()
    }
  })

  it('a peer that serves only /sotto/deliver/1 still gets every envelope, one stream each', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000 })
    try {
      const burst = Array.from({ length: 5 }, (_, i) => envelope(i === 2 ? 2 : 0, 0x30 + i))
      const results = await Promise.all(burst.map(async (e) => await sender.deliver(old.peerId, old.getMultiaddrs(), e)))
      expect(results).toEqual(burst.map(expected))
      expect(streamsOf(old, DELIVER_PROTOCOL).length).toBe(5)
      expect(streamsOf(old, DELIVER_PROTOCOL_V2).length).toBe(0)
      expect(sender.openStreams).toBe(0)
    } finally {
      sender.stop()
    }
  })

  it('a stream that fails mid-burst: envelopes on it get a failure, never an ack; the next go on a new stream', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000 })
    const release = holdEnvelope(0xb2)
    try {
      const before = streamsOf(server, DELIVER_PROTOCOL_V2).length
      const burst = Array.from({ length: 8 }, (_, i) => envelope(0, 0xb0 + i))
      const pending = burst.map(async (e) => await sender.deliver(server.peerId, server.getMultiaddrs(), e))
      await events.until(() => hold?.entered === true)
      // The first two are acked; the third is in the handler, the ones after it are on the
      // stream unread. (A reset discards what the receiver has not read yet, acks included,
      // so the test waits for those two acks to be read before it drops the stream.)
      expect(await Promise.all(pending.slice(0, 2))).toEqual([{ ok: true, verdict: 'accepted' }, { ok: true, verdict: 'accepted' }])
      const stream = streamsOf(server, DELIVER_PROTOCOL_V2)[before]
      stream.abort(new Error('the recipient drops the stream'))
      // The third was stored, but its ack was never sent: a failure for the sender, not an ack.
      release()
      const results = await Promise.all(pending)
      expect(results.slice(2)).toEqual(Array(6).fill({ ok: false, error: 'NO_ROUTE' }))
      // The next envelope opens a new stream and is acked there.
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(1, 0xbf))).toEqual({ ok: true, verdict: 'duplicate' })
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(2)
    } finally {
      release()
      sender.stop()
    }
  })

  it('the sender closes its stream once a burst is over; the next burst opens a new one', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 20 })
    try {
      const before = streamsOf(server, DELIVER_PROTOCOL_V2).length
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 0xc0))).toEqual({ ok: true, verdict: 'accepted' })
      const stream = streamsOf(server, DELIVER_PROTOCOL_V2)[before]
      await new Promise<void>((resolve) => { if (stream.status === 'closed') resolve(); else stream.addEventListener('close', () => { resolve() }) })
      expect(sender.openStreams).toBe(0)
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 0xc1))).toEqual({ ok: true, verdict: 'accepted' })
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(2)
    } finally {
      sender.stop()
    }
  })

  it('a sender has at most maxInFlight envelopes on a stream before their acks', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000, maxInFlight: 4 })
    const release = holdEnvelope(0xe0)
    try {
      const before = streamsOf(server, DELIVER_PROTOCOL_V2).length
      const burst = Array.from({ length: 10 }, (_, i) => envelope(0, 0xe0 + i))
      const pending = burst.map(async (e) => await sender.deliver(server.peerId, server.getMultiaddrs(), e))
      await events.until(() => hold?.entered === true && streamsOf(server, DELIVER_PROTOCOL_V2).length > before)
      const stream = streamsOf(server, DELIVER_PROTOCOL_V2)[before]
      // A full exchange on the same connection after the burst was handed to the sender:
      // anything the sender put on its stream beyond the bound would have arrived by now.
      expect(await deliverEnvelope(client, server.peerId, server.getMultiaddrs(), envelope(0, 0xef))).toEqual({ ok: true, verdict: 'accepted' })
      const frame = encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, ...burst[0])).length
      expect(bytesIn.get(stream)).toBe(4 * frame)
      release()
      expect(await Promise.all(pending)).toEqual(burst.map(expected))
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(2)
    } finally {
      release()
      sender.stop()
    }
  })

  it('the recipient ends a /2 stream left idle, cleanly (an end, not a reset)', async () => {
    const raw = await client.dialProtocol(quick.getMultiaddrs()[0], DELIVER_PROTOCOL_V2)
    const reader = new FrameReader(raw, 64, 5000)
    for (const n of [0xf0, 0xf1]) {
      raw.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, 0, n)))
      expect(await outcome(raw, 5000, reader)).toEqual({ kind: 'reply', frame: Uint8Array.of(FRAME_VERSION, 0x02, 0) })
    }
    // Nothing more is sent: the recipient ends the stream cleanly (an end, not a reset).
    expect(await outcome(raw, 5000, reader)).toEqual({ kind: 'end' })
    await raw.close()
  })

  it('stop(): envelopes still on a stream get a failure, later ones are refused without a dial', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000 })
    const release = holdEnvelope(0x90)
    try {
      const before = streamsOf(server, DELIVER_PROTOCOL_V2).length
      const held = sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 0x90))
      await events.until(() => hold?.entered === true)
      sender.stop()
      expect(await held).toEqual({ ok: false, error: 'NO_ROUTE' })
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 0x91))).toEqual({ ok: false, error: 'NO_ROUTE' })
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(1)
      expect(sender.openStreams).toBe(0)
      // The recipient's handler finds the stream gone when it answers: let that finish here.
      const resets = events.codes.length
      release()
      expect(await events.code(resets)).toBe('ERR_STREAM')
    } finally {
      release()
    }
  })

  it('T3: a sender with more unanswered envelopes than the bound is reset, not buffered', async () => {
    const release = holdEnvelope(0x80)
    try {
      const resets = events.codes.length
      const raw = await client.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL_V2)
      const body = new Uint8Array(MAX_DELIVER_FRAME)
      body.set([FRAME_VERSION, 0x01, 0, 0x80])
      const big = encodeFrame(body)
      // The first waits in the handler; the recipient reads nothing more until it is answered.
      raw.send(big)
      await events.until(() => hold?.entered === true)
      body[3] = 0x81
      for (let i = 0; i < MAX_DELIVER_IN_FLIGHT + 1; i++) raw.send(encodeFrame(body))
      expect(await events.code(resets)).toBe('ERR_TOO_MANY_IN_FLIGHT')
      expect(await outcome(raw)).toEqual({ kind: 'reset' })
      expect(received.some((e) => e[1] === 0x81)).toBe(false)
    } finally {
      release()
    }
  })

  it('T1: a malformed frame on a /2 stream resets that stream only; the same peer\'s other stream carries on', async () => {
    const sender = new DeliverSender({ libp2p: client, idleMs: 60_000 })
    try {
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(0, 0xd0))).toEqual({ ok: true, verdict: 'accepted' })
      const before = streamsOf(server, DELIVER_PROTOCOL_V2).length
      for (const [garbage, code] of [
        [new Uint8Array(64).fill(0x41), 'ERR_FRAME_TOO_LARGE'],
        [encodeFrame(Uint8Array.of(FRAME_VERSION, 0x07, 1, 2)), 'ERR_FRAME_TYPE'],
        [encodeFrame(Uint8Array.of(9, 0x01, 1, 2)), 'ERR_UNKNOWN_VERSION']
      ] as const) {
        const resets = events.codes.length
        const raw = await client.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL_V2)
        const reader = new FrameReader(raw, 64, 5000)
        // A good envelope first: the stream works until the garbage.
        raw.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, 0, 0xd1)))
        expect(await outcome(raw, 5000, reader)).toEqual({ kind: 'reply', frame: Uint8Array.of(FRAME_VERSION, 0x02, 0) })
        raw.send(garbage)
        expect(await outcome(raw, 5000, reader)).toEqual({ kind: 'reset' })
        expect(await events.code(resets)).toBe(code)
        expect(events.codes.length).toBe(resets + 1)
      }
      // The sender's stream, on the same connection, is still the one it uses.
      expect(await sender.deliver(server.peerId, server.getMultiaddrs(), envelope(1, 0xd2))).toEqual({ ok: true, verdict: 'duplicate' })
      expect(streamsOf(server, DELIVER_PROTOCOL_V2).length - before).toBe(3)
      expect(client.getConnections(server.peerId).length).toBe(1)
    } finally {
      sender.stop()
    }
  })
})

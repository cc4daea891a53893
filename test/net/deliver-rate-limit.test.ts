/**
 * T3 on direct delivery, per remote peer, on real libp2p nodes over loopback TCP: a peer
 * that delivers faster than its token bucket refills gets a typed, versioned "rate limited"
 * answer, and its envelope never reaches the handler (no decryption work); another peer
 * still delivers. The bucket is charged per envelope on /sotto/deliver/1 and on /2 alike (a
 * /2 stream carrying many envelopes is no way around it), and an envelope the handler
 * refuses costs DELIVER_REFUSED_COST tokens, so junk gets a fifth of a genuine sender's rate.
 * The server's clock is a value the test moves, so refills are exact.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { DELIVER_BURST, DELIVER_PROTOCOL, DELIVER_PROTOCOL_V2, DELIVER_RATE_PER_SECOND, DELIVER_REFUSED_COST } from '../../node/net/constants.js'
import { deliverEnvelope, registerDeliver, type DeliverResult } from '../../node/net/deliver.js'
import { DeliverSender } from '../../node/net/deliver-streams.js'
import { encodeFrame, FrameReader, FRAME_VERSION } from '../../node/net/frames.js'
import { silentLogger } from '../../node/log.js'

let server: SottoLibp2p
let flooder: SottoLibp2p
let honest: SottoLibp2p
const extra: SottoLibp2p[] = []
const clock = { now: 1_000_000 }
/** Envelopes that reached the handler, by sending peer. */
const handled = new Map<string, number>()
/** Envelopes starting with this byte are refused by the handler, as junk that does not open is. */
const JUNK = 0xee
/** Streams opened to the server for /sotto/deliver/2, counted by a second handler in front. */
let v2Streams = 0

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

beforeAll(async () => {
  [server, flooder, honest] = await Promise.all([node(), node(), node()])
  const counting = new Proxy(server, {
    get: (target, key) => key !== 'handle'
      ? Reflect.get(target, key)
      : async (protocol: string, handler: (s: Stream, c: unknown) => void, options: unknown) => await target.handle(protocol, (s, c) => {
        if (protocol === DELIVER_PROTOCOL_V2) v2Streams++
        handler(s, c)
      }, options as object)
  })
  // Connected before the first burst, so the first envelopes do not all dial at once.
  await Promise.all([flooder, honest].map(async (n) => await n.dial(server.getMultiaddrs()[0])))
  await registerDeliver(counting, {
    logger: silentLogger.forComponent('t'),
    now: () => clock.now,
    onEnvelope: async (envelope, from) => {
      handled.set(from.toString(), (handled.get(from.toString()) ?? 0) + 1)
      return envelope[0] === JUNK ? 'refused' : 'accepted'
    }
  })
})

afterAll(async () => { await Promise.all([server, flooder, honest, ...extra].map(async (n) => await n.stop())) })

/** `count` one-envelope-per-stream deliveries over /sotto/deliver/1, `parallel` at a time (below the per-connection stream limit). */
async function overV1 (peer: SottoLibp2p, count: number, body = Uint8Array.of(1, 2, 3), parallel = 16): Promise<DeliverResult[]> {
  const results: DeliverResult[] = []
  for (let i = 0; i < count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - i) }, async () => await deliverEnvelope(peer, server.peerId, server.getMultiaddrs(), body, { protocols: [DELIVER_PROTOCOL] }))
    results.push(...await Promise.all(batch))
  }
  return results
}

/** `count` envelopes through one sender: pipelined on /sotto/deliver/2 streams. */
async function overV2 (sender: DeliverSender, count: number, body = Uint8Array.of(1, 2, 3)): Promise<DeliverResult[]> {
  return await Promise.all(Array.from({ length: count }, async () => await sender.deliver(server.peerId, server.getMultiaddrs(), body)))
}

function tally (results: DeliverResult[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of results) {
    const k = r.ok ? r.verdict : r.error
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}

const limited = { ok: false, error: 'RATE_LIMITED', retryAfterMs: Math.ceil(1000 / DELIVER_RATE_PER_SECOND) }

describe('direct delivery rate limit per peer', () => {
  it('T3: on /sotto/deliver/1 a flooding peer gets a typed "rate limited" answer and costs no decryption; another peer still delivers; the bucket refills with time', async () => {
    const me = flooder.peerId.toString()
    // A full bucket: a burst of DELIVER_BURST envelopes is accepted at once.
    expect(tally(await overV1(flooder, DELIVER_BURST))).toEqual({ accepted: DELIVER_BURST })
    expect(handled.get(me)).toBe(DELIVER_BURST)
    // Beyond it, at the same instant: refused with a typed answer, never handed to the handler
    // (20 at a time: below the per-connection stream limit, which is T3's other half).
    const flood = await overV1(flooder, 20)
    for (const r of flood) expect(r).toEqual(limited)
    expect(handled.get(me)).toBe(DELIVER_BURST)

    // The answer on the wire: version 1, type 0x03 "rate limited", u32 milliseconds until a token is back.
    const s = await flooder.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL)
    s.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, 0x99)))
    const answer = await new FrameReader(s, 64, 5000).read()
    expect(answer === undefined ? undefined : Array.from(answer)).toEqual([FRAME_VERSION, 0x03, 0, 0, 0, Math.ceil(1000 / DELIVER_RATE_PER_SECOND)])
    await s.close()
    expect(handled.get(me)).toBe(DELIVER_BURST)

    // Another peer is not affected.
    expect(await deliverEnvelope(honest, server.peerId, server.getMultiaddrs(), Uint8Array.of(1, 2, 3))).toEqual({ ok: true, verdict: 'accepted' })
    expect(handled.get(honest.peerId.toString())).toBe(1)

    // One second later the flooder has DELIVER_RATE_PER_SECOND tokens again, and no more.
    clock.now += 1000
    expect(tally(await overV1(flooder, DELIVER_RATE_PER_SECOND))).toEqual({ accepted: DELIVER_RATE_PER_SECOND })
    expect(await overV1(flooder, 1)).toEqual([limited])
    expect(handled.get(me)).toBe(DELIVER_BURST + DELIVER_RATE_PER_SECOND)
  })

  it('T3: on /sotto/deliver/2 the bucket is charged per envelope: one stream gets DELIVER_BURST through, then "rate limited" answers, and stays usable', async () => {
    const peer = await node()
    extra.push(peer)
    const me = peer.peerId.toString()
    const sender = new DeliverSender({ libp2p: peer, idleMs: 60_000 })
    try {
      const before = v2Streams
      expect(tally(await overV2(sender, DELIVER_BURST + 20))).toEqual({ accepted: DELIVER_BURST, RATE_LIMITED: 20 })
      expect(handled.get(me)).toBe(DELIVER_BURST)
      expect(v2Streams - before).toBe(1)

      // On the wire, one stream: each envelope beyond the bucket is answered "rate limited"
      // (not decrypted), and the stream goes on; once tokens are back, the next is accepted on it.
      const s = await peer.dialProtocol(server.peerId, DELIVER_PROTOCOL_V2)
      const reader = new FrameReader(s, 64, 5000)
      const frame = encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, 0x99))
      for (let i = 0; i < 3; i++) {
        s.send(frame)
        const answer = await reader.read()
        expect(answer === undefined ? undefined : Array.from(answer)).toEqual([FRAME_VERSION, 0x03, 0, 0, 0, 1])
      }
      expect(handled.get(me)).toBe(DELIVER_BURST)
      clock.now += 1
      s.send(frame)
      const accepted = await reader.read()
      expect(accepted === undefined ? undefined : Array.from(accepted)).toEqual([FRAME_VERSION, 0x02, 0])
      expect(handled.get(me)).toBe(DELIVER_BURST + 1)
      await s.close()
    } finally {
      sender.stop()
    }
  })

  it('T3: an envelope the handler refuses costs DELIVER_REFUSED_COST: a junk sender is cut off after a fifth of what a genuine one gets', async () => {
    const [junk, genuine] = await Promise.all([node(), node()])
    extra.push(junk, genuine)
    const junkSender = new DeliverSender({ libp2p: junk, idleMs: 60_000 })
    const genuineSender = new DeliverSender({ libp2p: genuine, idleMs: 60_000 })
    try {
      const junkShare = DELIVER_BURST / DELIVER_REFUSED_COST
      expect(tally(await overV2(junkSender, junkShare + 20, Uint8Array.of(JUNK, 1)))).toEqual({ REFUSED: junkShare, RATE_LIMITED: 20 })
      expect(handled.get(junk.peerId.toString())).toBe(junkShare)
      expect(tally(await overV2(genuineSender, DELIVER_BURST + 20))).toEqual({ accepted: DELIVER_BURST, RATE_LIMITED: 20 })
      expect(handled.get(genuine.peerId.toString())).toBe(DELIVER_BURST)

      // One second later: a fifth of the refill for junk again, all of it for the genuine sender.
      clock.now += 1000
      expect(tally(await overV2(junkSender, DELIVER_RATE_PER_SECOND / DELIVER_REFUSED_COST + 1, Uint8Array.of(JUNK, 2)))).toEqual({ REFUSED: DELIVER_RATE_PER_SECOND / DELIVER_REFUSED_COST, RATE_LIMITED: 1 })
      expect(tally(await overV2(genuineSender, DELIVER_RATE_PER_SECOND + 1))).toEqual({ accepted: DELIVER_RATE_PER_SECOND, RATE_LIMITED: 1 })

      // A frame that does not parse costs as much: each resets its stream (T1) and takes
      // DELIVER_REFUSED_COST from the bucket of a sender that starts full.
      const garbler = await node()
      extra.push(garbler)
      for (const garbage of [encodeFrame(Uint8Array.of(FRAME_VERSION, 0x07, 1)), new Uint8Array(8).fill(0x41)]) {
        for (let i = 0; i < 5; i++) {
          const s = await garbler.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL_V2)
          s.send(garbage)
          await expect(new FrameReader(s, 64, 5000).read()).rejects.toMatchObject({ name: 'StreamResetError' })
        }
      }
      const garblerSender = new DeliverSender({ libp2p: garbler, idleMs: 60_000 })
      try {
        expect(tally(await overV2(garblerSender, DELIVER_BURST))).toEqual({ accepted: DELIVER_BURST - 10 * DELIVER_REFUSED_COST, RATE_LIMITED: 10 * DELIVER_REFUSED_COST })
      } finally {
        garblerSender.stop()
      }

      // The same over /sotto/deliver/1, one stream after the other: each stream takes its token
      // before its verdict is known, so concurrent streams may overdraw by a few verdicts.
      const old = await node()
      extra.push(old)
      expect(tally(await overV1(old, junkShare + 1, Uint8Array.of(JUNK, 3), 1))).toEqual({ REFUSED: junkShare, RATE_LIMITED: 1 })
    } finally {
      junkSender.stop()
      genuineSender.stop()
    }
  })
})

/**
 * T3 on /sotto/deliver/1, per remote peer, on real libp2p nodes over loopback TCP: a peer
 * that delivers faster than its token bucket refills gets a typed, versioned "rate limited"
 * answer, and its envelope never reaches the handler (no decryption work); another peer
 * still delivers. The server's clock is a value the test moves, so refills are exact.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { DELIVER_BURST, DELIVER_PROTOCOL, DELIVER_RATE_PER_SECOND } from '../../node/net/constants.js'
import { deliverEnvelope, registerDeliver } from '../../node/net/deliver.js'
import { encodeFrame, FrameReader, FRAME_VERSION } from '../../node/net/frames.js'
import { silentLogger } from '../../node/log.js'

let server: SottoLibp2p
let flooder: SottoLibp2p
let honest: SottoLibp2p
const clock = { now: 1_000_000 }
/** Envelopes that reached the handler, by sending peer. */
const handled = new Map<string, number>()

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

beforeAll(async () => {
  [server, flooder, honest] = await Promise.all([node(), node(), node()])
  await registerDeliver(server, {
    logger: silentLogger.forComponent('t'),
    now: () => clock.now,
    onEnvelope: async (_envelope, from) => {
      handled.set(from.toString(), (handled.get(from.toString()) ?? 0) + 1)
      return 'accepted'
    }
  })
})

afterAll(async () => { await Promise.all([server, flooder, honest].map(async (n) => await n.stop())) })

async function deliverFrom (peer: SottoLibp2p, body = Uint8Array.of(1, 2, 3)) {
  return await deliverEnvelope(peer, server.peerId, server.getMultiaddrs(), body)
}

describe('/sotto/deliver/1 rate limit per peer', () => {
  it('T3: a flooding peer gets a typed "rate limited" answer and costs no decryption; another peer still delivers; the bucket refills with time', async () => {
    const me = flooder.peerId.toString()
    // A full bucket: a burst of DELIVER_BURST envelopes is accepted at once.
    for (let i = 0; i < DELIVER_BURST; i++) expect(await deliverFrom(flooder)).toEqual({ ok: true, verdict: 'accepted' })
    expect(handled.get(me)).toBe(DELIVER_BURST)
    // Beyond it, at the same instant: refused with a typed answer, never handed to the handler
    // (20 at a time: below the per-connection stream limit, which is T3's other half).
    const flood = await Promise.all(Array.from({ length: 20 }, async () => await deliverFrom(flooder)))
    for (const r of flood) expect(r).toMatchObject({ ok: false, error: 'RATE_LIMITED' })
    expect((flood[0] as { retryAfterMs?: number }).retryAfterMs).toBe(Math.ceil(1000 / DELIVER_RATE_PER_SECOND))
    expect(handled.get(me)).toBe(DELIVER_BURST)

    // The answer on the wire: version 1, type 0x03 "rate limited", u32 milliseconds until a token is back.
    const s = await flooder.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL)
    s.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x01, 0x99)))
    const answer = await new FrameReader(s, 64, 5000).read()
    expect(answer === undefined ? undefined : Array.from(answer)).toEqual([FRAME_VERSION, 0x03, 0, 0, 0, Math.ceil(1000 / DELIVER_RATE_PER_SECOND)])
    await s.close()
    expect(handled.get(me)).toBe(DELIVER_BURST)

    // Another peer is not affected.
    expect(await deliverFrom(honest)).toEqual({ ok: true, verdict: 'accepted' })
    expect(handled.get(honest.peerId.toString())).toBe(1)

    // One second later the flooder has DELIVER_RATE_PER_SECOND tokens again, and no more.
    clock.now += 1000
    for (let i = 0; i < DELIVER_RATE_PER_SECOND; i++) expect(await deliverFrom(flooder)).toEqual({ ok: true, verdict: 'accepted' })
    expect(await deliverFrom(flooder)).toMatchObject({ ok: false, error: 'RATE_LIMITED' })
    expect(handled.get(me)).toBe(DELIVER_BURST + DELIVER_RATE_PER_SECOND)
  })
})

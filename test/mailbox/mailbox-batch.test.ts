/**
 * /sotto/mailbox/2 on real libp2p nodes over loopback, each mailbox on a real store in a temp
 * folder: a batch put is answered and charged envelope by envelope (M2), senders fall back
 * to /1 with an older node, and the owner's operations on one stream each need a proof over
 * a challenge of their own (M7). Malformed and oversize batches: test/net/mailbox-limits.test.ts.
 */
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import { MAILBOX_PROTOCOL, MAILBOX_PROTOCOL_V2 } from '../../node/net/constants.js'
import { checkVersion, encodeFrame, FrameReader, FRAME_VERSION } from '../../node/net/frames.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { MAX_ENVELOPE_BYTES, MIN_CHARGED_BYTES } from '../../node/net/mailbox/constants.js'
import { mailboxKeyFor, signOwnerProof, type OwnerProof } from '../../node/net/mailbox/proof.js'
import { encodeFetchTail, encodeProof, fetchEnvelopes, OwnerChannel, putEnvelope, putEnvelopes, registerMailbox, type ProofSigner, type PutItem } from '../../node/net/mailbox/protocol.js'
import { PutCoalescer } from '../../node/net/mailbox/put-coalescer.js'
import { MailboxStore } from '../../node/net/mailbox/store.js'
import { decodePutBatchReply, encodePutBatch } from '../../node/net/mailbox/wire.js'
import { tempDir } from '../helpers/cli.js'
import { outcome, ResetLog } from '../helpers/stream-probe.js'

/** 2 MiB: a mailbox takes 128 KiB of it, one sender in one mailbox 32 KiB, two envelopes of 16 KiB. */
const QUOTA = 2 * 1024 * 1024
const SIZE = 16 * 1024
const running: SottoLibp2p[] = []
const dirs: Array<{ remove: () => Promise<void> }> = []
const resets = new ResetLog('mailbox stream reset')

async function node (): Promise<SottoLibp2p> {
  const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  running.push(n)
  return n
}

async function mailboxServer (putRate = { perSecond: 10_000, burst: 10_000 }): Promise<{ libp2p: SottoLibp2p, store: MailboxStore }> {
  const d = await tempDir('sotto-mbatch-')
  dirs.push(d)
  const libp2p = await node()
  const store = await MailboxStore.open(join(d.path, 'mailbox'), { totalQuotaBytes: QUOTA, now: Date.now })
  await registerMailbox(libp2p, { store, logger: resets.logger.forComponent('m'), now: Date.now, putRate })
  return { libp2p, store }
}

async function sender (to: Libp2p): Promise<SottoLibp2p> {
  const n = await node()
  await n.dial(to.getMultiaddrs()[0])
  return n
}

let counter = 0
function envelope (size = SIZE): Uint8Array {
  const e = new Uint8Array(size)
  new DataView(e.buffer).setUint32(0, ++counter)
  return e
}
const randomBox = (): Uint8Array => { const b = new Uint8Array(32); new DataView(b.buffer).setUint32(0, ++counter); b[31] = 0xbb; return b }
const item = (mailbox: Uint8Array, e = envelope()): PutItem => ({ mailbox, envelope: e, ttlMs: 60_000 })

const signer = (who: IdentityKeys): ProofSigner => (op, mailboxPeer, nonce) =>
  signOwnerProof({ op, signingSeed: who.signingSeed, signingPublicKey: who.signingPublicKey, dhPublicKey: who.dhPublicKey, mailboxPeer, nonce, now: Date.now() })

/** The inbound mailbox streams (either version) `on` holds open from `peer`. */
function serverStreams (on: Libp2p, peer: PeerId, protocol: string): Stream[] {
  return on.getConnections(peer).flatMap((c) => c.streams).filter((s) => s.protocol === protocol && s.direction === 'inbound' && s.status === 'open')
}

/** A libp2p whose dialProtocol calls are counted, with the protocols each negotiated. */
function counting (libp2p: Libp2p): { libp2p: Libp2p, negotiated: string[] } {
  const negotiated: string[] = []
  const proxy = new Proxy(libp2p, {
    get (target, key) {
      if (key !== 'dialProtocol') {
        const v: unknown = Reflect.get(target, key)
        return typeof v === 'function' ? v.bind(target) : v
      }
      return async (...args: Parameters<Libp2p['dialProtocol']>) => {
        const s = await target.dialProtocol(...args)
        negotiated.push(s.protocol)
        return s
      }
    }
  })
  return { libp2p: proxy, negotiated }
}

let server: { libp2p: SottoLibp2p, store: MailboxStore }

beforeAll(async () => {
  server = await mailboxServer()
})

afterAll(async () => {
  await Promise.all(running.map(async (n) => await n.stop()))
  for (const d of dirs) await d.remove()
})

describe('batch puts on /sotto/mailbox/2', () => {
  it('M2: a batch is answered envelope by envelope, in order, with each one\'s own status; the store holds exactly those taken', async () => {
    const from = await sender(server.libp2p)
    const box = randomBox()
    const other = randomBox()
    const a = envelope(300)
    const b = envelope(300)
    const before = server.store.stats().envelopes
    // By hand, so the mailbox sees what a sender's client would refuse itself (too large).
    const s = await from.dialProtocol(server.libp2p.peerId, MAILBOX_PROTOCOL_V2)
    const sent = [item(box, a), item(other, b), item(box, a), item(box, new Uint8Array(0)), item(other, envelope(MAX_ENVELOPE_BYTES + 1))]
    s.send(encodeFrame(encodePutBatch(sent)))
    const r = await outcome(s)
    const answers = decodePutBatchReply(checkVersion(r.kind === 'reply' ? r.frame : Uint8Array.of(0)), sent.length)
    expect(answers.map((x) => x.status)).toEqual(['ok', 'ok', 'duplicate', 'BAD_REQUEST', 'TOO_LARGE'])
    expect(answers[0].expiresAt).toBeGreaterThan(Date.now())
    expect(answers[2].expiresAt).toBe(answers[0].expiresAt)
    expect(server.store.stats().envelopes).toBe(before + 2)
    expect((await server.store.list(box)).map((h) => h.envelope)).toEqual([a])
    expect((await server.store.list(other)).map((h) => h.envelope)).toEqual([b])
    // The client maps the answers back to its envelopes the same way.
    const again = await putEnvelopes(from, server.libp2p.peerId, [item(other, envelope(300)), item(box, a), item(other, envelope(MAX_ENVELOPE_BYTES + 1))])
    expect(again.map((x) => x.ok ? (x.duplicate ? 'duplicate' : 'ok') : x.error)).toEqual(['ok', 'duplicate', 'TOO_LARGE'])
  })

  it('M2: quotas are charged per envelope in a batch: past the sender\'s share of a mailbox the rest is SENDER_FULL; another sender still puts there', async () => {
    const from = await sender(server.libp2p)
    const box = randomBox()
    const share = Math.floor(QUOTA / 16 / 4 / Math.max(SIZE, MIN_CHARGED_BYTES))
    const answers = await putEnvelopes(from, server.libp2p.peerId, Array.from({ length: share + 3 }, () => item(box)))
    expect(answers.map((r) => r.ok ? 'ok' : r.error)).toEqual([...Array(share).fill('ok'), 'SENDER_FULL', 'SENDER_FULL', 'SENDER_FULL'])
    expect(await server.store.list(box)).toHaveLength(share)
    const honest = await sender(server.libp2p)
    expect((await putEnvelopes(honest, server.libp2p.peerId, [item(box)]))[0]).toMatchObject({ ok: true, duplicate: false })
  })

  it('M2: the per-peer put rate is charged per envelope in a batch: past the burst the rest is RATE_LIMITED, and so is the next single put; another peer gets through', async () => {
    const limited = await mailboxServer({ perSecond: 0.001, burst: 3 })
    const from = await sender(limited.libp2p)
    const box = randomBox()
    const answers = await putEnvelopes(from, limited.libp2p.peerId, Array.from({ length: 5 }, () => item(box, envelope(100))))
    expect(answers.map((r) => r.ok ? 'ok' : r.error)).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED'])
    expect(limited.store.stats().envelopes).toBe(3)
    expect(await putEnvelope(from, limited.libp2p.peerId, box, envelope(100), 60_000)).toEqual({ ok: false, error: 'RATE_LIMITED' })
    const other = await sender(limited.libp2p)
    expect((await putEnvelopes(other, limited.libp2p.peerId, [item(box, envelope(100))]))[0]).toMatchObject({ ok: true })
  })

  it('/1 stays as it was: a batch request there is an unknown request type (reset); a sender falls back to single puts with a node that speaks only /1', async () => {
    const from = await sender(server.libp2p)
    const before = resets.codes.length
    const s = await from.dialProtocol(server.libp2p.peerId, MAILBOX_PROTOCOL)
    s.send(encodeFrame(encodePutBatch([item(randomBox(), envelope(8))])))
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await resets.code(before)).toBe('ERR_FRAME_TYPE')

    const old = await mailboxServer()
    await old.libp2p.unhandle(MAILBOX_PROTOCOL_V2)
    const to = await sender(old.libp2p)
    const { libp2p, negotiated } = counting(to)
    const box = randomBox()
    const answers = await putEnvelopes(libp2p, old.libp2p.peerId, [item(box, envelope(100)), item(box, envelope(100)), item(box, envelope(100))])
    expect(answers.every((r) => r.ok)).toBe(true)
    expect(await old.store.list(box)).toHaveLength(3)
    expect(negotiated).toEqual([MAILBOX_PROTOCOL, MAILBOX_PROTOCOL, MAILBOX_PROTOCOL])

    // The owner's fetch and ack with that node: one /1 stream per operation.
    const owner = deriveIdentity(new Uint8Array(16).fill(92))
    const own = mailboxKeyFor(owner.dhPublicKey)
    expect((await putEnvelopes(to, old.libp2p.peerId, [item(own, envelope(100))]))[0]).toMatchObject({ ok: true })
    negotiated.length = 0
    const channel = new OwnerChannel(libp2p, old.libp2p.peerId, signer(owner))
    const page = await channel.fetch()
    expect(page.ok && page.envelopes.length).toBe(1)
    expect(await channel.ack(page.ok ? page.envelopes.map((e) => e.id) : [])).toBe(1)
    await channel.close()
    expect(negotiated).toEqual([MAILBOX_PROTOCOL, MAILBOX_PROTOCOL])
    expect(await old.store.list(own)).toEqual([])
  })

  it('puts to the same peer within the window go out as one batch; each caller gets its own envelope\'s answer', async () => {
    const from = await sender(server.libp2p)
    const { libp2p, negotiated } = counting(from)
    const coalescer = new PutCoalescer(libp2p)
    const box = randomBox()
    const dup = envelope(64)
    expect(await coalescer.put(server.libp2p.peerId, item(box, dup))).toMatchObject({ ok: true, duplicate: false })
    negotiated.length = 0
    const answers = await Promise.all([
      coalescer.put(server.libp2p.peerId, item(box, envelope(64))),
      coalescer.put(server.libp2p.peerId, item(box, dup)),
      coalescer.put(server.libp2p.peerId, item(box, new Uint8Array(0))),
      coalescer.put(server.libp2p.peerId, item(box, envelope(64)))
    ])
    expect(answers.map((r) => r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.error)).toEqual(['ok', 'duplicate', 'BAD_REQUEST', 'ok'])
    expect(negotiated).toEqual([MAILBOX_PROTOCOL_V2])
    expect(await server.store.list(box)).toHaveLength(3)
  })
})

describe('owner operations on one /sotto/mailbox/2 stream', () => {
  it('M1/M7: each operation on the stream needs a proof over its own challenge: a proof replayed on the same stream gets an empty mailbox; the owner fetches and acks on one stream', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(91))
    const box = mailboxKeyFor(owner.dhPublicKey)
    const from = await sender(server.libp2p)
    expect((await putEnvelopes(from, server.libp2p.peerId, [item(box, envelope(100)), item(box, envelope(100))])).every((r) => r.ok)).toBe(true)

    // By hand: a fetch with a proof, then a second fetch on the same stream replaying it.
    const s = await from.dialProtocol(server.libp2p.peerId, MAILBOX_PROTOCOL_V2)
    const reader = new FrameReader(s, 2 * 1024 * 1024, 10_000)
    const challenge = async (): Promise<Uint8Array> => {
      s.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x02)))
      return checkVersion(await reader.read() as Uint8Array).slice(1)
    }
    const fetchWith = async (proof: OwnerProof): Promise<number> => {
      s.send(encodeFrame(Uint8Array.of(FRAME_VERSION, 0x03, ...encodeProof(proof), ...encodeFetchTail(undefined))))
      const reply = checkVersion(await reader.read() as Uint8Array)
      return new DataView(reply.buffer, reply.byteOffset).getUint16(3)
    }
    const proof = signer(owner)('fetch', server.libp2p.peerId.toMultihash().bytes, await challenge())
    expect(await fetchWith(proof)).toBe(2)
    await challenge()
    expect(await fetchWith(proof)).toBe(0)
    // A fresh proof on the same stream works again.
    expect(await fetchWith(signer(owner)('fetch', server.libp2p.peerId.toMultihash().bytes, await challenge()))).toBe(2)
    await s.close()

    // The client: fetch, ack, fetch again, all on one stream.
    const { libp2p, negotiated } = counting(from)
    const channel = new OwnerChannel(libp2p, server.libp2p.peerId, signer(owner))
    const page = await channel.fetch()
    expect(page.ok && page.envelopes.length).toBe(2)
    expect(await channel.ack(page.ok ? page.envelopes.map((e) => e.id) : [])).toBe(2)
    expect(await channel.fetch()).toMatchObject({ ok: true, envelopes: [], more: false })
    expect(serverStreams(server.libp2p, from.peerId, MAILBOX_PROTOCOL_V2)).toHaveLength(1)
    await channel.close()
    expect(negotiated).toEqual([MAILBOX_PROTOCOL_V2])
    expect(await fetchEnvelopes(from, server.libp2p.peerId, signer(owner))).toEqual([])
  })
})

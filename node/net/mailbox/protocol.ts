/**
 * `/sotto/mailbox/1`: store-and-forward for offline recipients. One exchange per stream:
 *   put:        [v|0x01|mailbox(32)|ttl s u32|envelope]            -> [v|0x81|status u8|expiresAt u64]
 *   challenge:  [v|0x02]                                            -> [v|0x82|nonce(16)]
 *   then, on the same stream, an owner operation carrying a proof (see proof.ts):
 *   fetch:      [v|0x03|proof]                                      -> [v|0x83|count u16|(id(16)|expiresAt u64|len u32|envelope)*]
 *   ack:        [v|0x04|proof|count u16|id(16)*]                    -> [v|0x84|removed u16]
 *   subscribe:  [v|0x05|proof]                                      -> [v|0x85|id|expiresAt|len|envelope]* pushed as they arrive
 *   proof = op u8 | mailbox(32) | nonce(16) | timestamp u64 | Ed25519 key(32) | signature(64)
 * A proof that does not verify gets exactly what an empty mailbox gets (M7). The wire
 * exchange lives here; retry policy lives in the outbox.
 */
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import { concatBytes } from '../../bytes.js'
import type { ComponentLogger } from '../../log.js'
import { MAILBOX_PROTOCOL } from '../constants.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from '../frames.js'
import { MAX_BATCH, MAX_ENVELOPE_BYTES, PUT_BURST, PUTS_PER_SECOND_PER_PEER } from './constants.js'
import { ChallengeBook, MAILBOX_OPS, verifyOwnerProof, type MailboxOp, type OwnerProof } from './proof.js'
import type { MailboxStore, PutRefusal } from './store.js'

const OP = { put: 0x01, challenge: 0x02, fetch: 0x03, ack: 0x04, subscribe: 0x05 } as const
const REPLY = 0x80
export const PUT_STATUS = ['ok', 'duplicate', 'TOO_LARGE', 'MAILBOX_FULL', 'NODE_FULL', 'RATE_LIMITED', 'BAD_REQUEST', 'DISABLED'] as const
export type PutStatus = typeof PUT_STATUS[number]
/** A fetch reply never exceeds this, whatever is held. */
export const MAX_MAILBOX_FRAME = 1024 * 1024
const PROOF_BYTES = 1 + 32 + 16 + 8 + 32 + 64
const MAX_SUBSCRIBERS = 256
const REQUEST_TIMEOUT_MS = 10_000

function u32 (n: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
function u64 (n: number): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b }
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

export function encodeProof (p: OwnerProof): Uint8Array {
  return concatBytes(Uint8Array.of(MAILBOX_OPS[p.op]), p.mailbox, p.nonce, u64(p.timestamp), p.signingPublicKey, p.signature)
}

function decodeProof (b: Uint8Array): OwnerProof {
  if (b.length < PROOF_BYTES) throw new FrameError('ERR_MALFORMED', 'short proof')
  const op = (Object.keys(MAILBOX_OPS) as MailboxOp[]).find((k) => MAILBOX_OPS[k] === b[0])
  if (op === undefined) throw new FrameError('ERR_MALFORMED', 'unknown proof op')
  return { op, mailbox: b.slice(1, 33), nonce: b.slice(33, 49), timestamp: Number(dv(b).getBigUint64(49)), signingPublicKey: b.slice(57, 89), signature: b.slice(89, 153) }
}

function encodeHeld (e: { id: Uint8Array, expiresAt: number, envelope: Uint8Array }): Uint8Array {
  return concatBytes(e.id, u64(e.expiresAt), u32(e.envelope.length), e.envelope)
}

/** Token bucket per peer (M2): a flood from one peer is refused, others go on. */
class PutLimiter {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()
  constructor (private readonly now: () => number, private readonly perSecond: number, private readonly burst: number) {}
  take (peer: string): boolean {
    const t = this.now()
    const b = this.buckets.get(peer) ?? { tokens: this.burst, at: t }
    b.tokens = Math.min(this.burst, b.tokens + (t - b.at) / 1000 * this.perSecond)
    b.at = t
    if (this.buckets.size > 10_000) this.buckets.clear()
    this.buckets.set(peer, b)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}

export interface MailboxServerInit {
  store: MailboxStore | undefined
  logger: ComponentLogger
  now: () => number
  /** Puts per second and burst per peer; @default PUTS_PER_SECOND_PER_PEER, PUT_BURST */
  putRate?: { perSecond: number, burst: number }
}

export interface MailboxServer {
  stop: () => void
}

export async function registerMailbox (libp2p: Libp2p, init: MailboxServerInit): Promise<MailboxServer> {
  const challenges = new ChallengeBook(init.now)
  const limiter = new PutLimiter(init.now, init.putRate?.perSecond ?? PUTS_PER_SECOND_PER_PEER, init.putRate?.burst ?? PUT_BURST)
  const selfPeer = libp2p.peerId.toMultihash().bytes
  const subscribers = new Map<string, Set<Stream>>()

  await libp2p.handle(MAILBOX_PROTOCOL, (stream: Stream, connection: Connection) => {
    void serve(stream, connection.remotePeer).catch((err: unknown) => {
      init.logger.debug('mailbox stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
      stream.abort(err instanceof Error ? err : new Error('mailbox failed'))
    })
  }, { maxInboundStreams: 64, maxOutboundStreams: 64 })

  async function serve (stream: Stream, from: PeerId): Promise<void> {
    const reader = new FrameReader(stream, MAX_ENVELOPE_BYTES + 64, REQUEST_TIMEOUT_MS)
    const first = await reader.read()
    if (first === undefined) return
    const body = checkVersion(first)
    const store = init.store
    if (body[0] === OP.put) {
      let status: PutStatus
      let expiresAt = 0
      if (store === undefined) status = 'DISABLED'
      else if (body.length < 1 + 32 + 4 + 1) status = 'BAD_REQUEST'
      else if (!limiter.take(from.toString())) status = 'RATE_LIMITED'
      else {
        const mailbox = body.slice(1, 33)
        const envelope = body.slice(37)
        const r = await store.put(mailbox, envelope, dv(body).getUint32(33) * 1000)
        status = r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.reason as PutRefusal
        if (r.ok) {
          expiresAt = r.expiresAt
          if (!r.duplicate) push(mailbox, { id: r.id, expiresAt, envelope })
        }
      }
      await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.put, PUT_STATUS.indexOf(status)), u64(expiresAt)))
      await stream.close()
      return
    }
    if (body[0] !== OP.challenge) throw new FrameError('ERR_FRAME_TYPE', 'unknown mailbox request')
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.challenge), challenges.issue()))
    const second = await reader.read()
    if (second === undefined) return
    const req = checkVersion(second)
    const proof = decodeProof(req.subarray(1))
    const op = req[0] === OP.fetch ? 'fetch' : req[0] === OP.ack ? 'ack' : req[0] === OP.subscribe ? 'subscribe' : undefined
    if (op === undefined) throw new FrameError('ERR_FRAME_TYPE', 'unknown mailbox request')
    const owner = store !== undefined && verifyOwnerProof(proof, op, selfPeer, challenges, init.now())
    if (op === 'fetch') {
      const held = owner ? await store.list(proof.mailbox, MAX_BATCH) : []
      const parts: Uint8Array[] = []
      let size = 0
      for (const e of held) {
        const enc = encodeHeld(e)
        if (size + enc.length > MAX_MAILBOX_FRAME - 16) break
        parts.push(enc)
        size += enc.length
      }
      await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.fetch), Uint8Array.of(parts.length >> 8, parts.length & 0xff), ...parts))
      await stream.close()
    } else if (op === 'ack') {
      const rest = req.subarray(1 + PROOF_BYTES)
      const count = Math.min(rest.length >= 2 ? dv(rest).getUint16(0) : 0, MAX_BATCH)
      const ids: Uint8Array[] = []
      for (let i = 0; i < count && 2 + (i + 1) * 16 <= rest.length; i++) ids.push(rest.slice(2 + i * 16, 2 + (i + 1) * 16))
      const removed = owner ? await store.ack(proof.mailbox, ids) : 0
      await writeFrame(stream, Uint8Array.of(FRAME_VERSION, REPLY | OP.ack, removed >> 8, removed & 0xff))
      await stream.close()
    } else {
      // A subscription that does not verify just never receives anything (M7).
      if (!owner) return
      const key = Buffer.from(proof.mailbox).toString('hex')
      const set = subscribers.get(key) ?? new Set()
      let total = 0
      for (const s of subscribers.values()) total += s.size
      if (total >= MAX_SUBSCRIBERS) { await stream.close(); return }
      set.add(stream)
      subscribers.set(key, set)
      stream.addEventListener('close', () => { set.delete(stream); if (set.size === 0) subscribers.delete(key) })
    }
  }

  function push (mailbox: Uint8Array, e: { id: Uint8Array, expiresAt: number, envelope: Uint8Array }): void {
    const set = subscribers.get(Buffer.from(mailbox).toString('hex'))
    if (set === undefined) return
    const frame = concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.subscribe), encodeHeld(e))
    for (const s of set) void writeFrame(s, frame).catch(() => { set.delete(s) })
  }

  return {
    stop () {
      for (const set of subscribers.values()) for (const s of set) s.abort(new Error('mailbox stopping'))
      subscribers.clear()
    }
  }
}

// ---------------------------------------------------------------------------------------
// Client side: expected failures are values.
// ---------------------------------------------------------------------------------------

export type PutOutcome = { ok: true, duplicate: boolean, expiresAt: number } | { ok: false, error: PutStatus | 'NO_ROUTE' | 'PROTOCOL' }

export async function putEnvelope (libp2p: Libp2p, peer: PeerId, mailbox: Uint8Array, envelope: Uint8Array, ttlMs: number, options: { signal?: AbortSignal } = {}): Promise<PutOutcome> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, MAILBOX_PROTOCOL, { signal: options.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  } catch {
    return { ok: false, error: 'NO_ROUTE' }
  }
  try {
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, OP.put), mailbox, u32(Math.floor(ttlMs / 1000)), envelope))
    const reply = await new FrameReader(stream, 64, REQUEST_TIMEOUT_MS).read()
    await stream.close().catch(() => {})
    if (reply === undefined) return { ok: false, error: 'PROTOCOL' }
    const body = checkVersion(reply)
    const status = PUT_STATUS[body[1]]
    if (body[0] !== (REPLY | OP.put) || status === undefined || body.length < 10) return { ok: false, error: 'PROTOCOL' }
    if (status === 'ok' || status === 'duplicate') return { ok: true, duplicate: status === 'duplicate', expiresAt: Number(dv(body).getBigUint64(2)) }
    return { ok: false, error: status }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('mailbox put failed'))
    return { ok: false, error: 'PROTOCOL' }
  }
}

export interface HeldEnvelopeWire { id: Uint8Array, expiresAt: number, envelope: Uint8Array }
export type ProofSigner = (op: MailboxOp, mailboxPeer: Uint8Array, nonce: Uint8Array) => OwnerProof

/** Opens a stream, gets a challenge, sends the signed request; returns the stream and its reader. */
async function ownerExchange (libp2p: Libp2p, peer: PeerId, op: 'fetch' | 'ack' | 'subscribe', sign: ProofSigner, extra: Uint8Array, signal?: AbortSignal): Promise<{ stream: Stream, reader: FrameReader }> {
  const stream = await libp2p.dialProtocol(peer, MAILBOX_PROTOCOL, { signal: signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const reader = new FrameReader(stream, MAX_MAILBOX_FRAME, REQUEST_TIMEOUT_MS)
  await writeFrame(stream, Uint8Array.of(FRAME_VERSION, OP.challenge))
  const challenge = await reader.read()
  if (challenge === undefined) throw new FrameError('ERR_PROTOCOL', 'no challenge')
  const c = checkVersion(challenge)
  if (c[0] !== (REPLY | OP.challenge) || c.length !== 17) throw new FrameError('ERR_PROTOCOL', 'bad challenge')
  const proof = sign(op, peer.toMultihash().bytes, c.slice(1))
  await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, OP[op]), encodeProof(proof), extra))
  return { stream, reader }
}

function decodeHeldList (b: Uint8Array, from: number, count: number): HeldEnvelopeWire[] {
  const out: HeldEnvelopeWire[] = []
  let o = from
  for (let i = 0; i < count; i++) {
    if (o + 28 > b.length) throw new FrameError('ERR_TRUNCATED', 'truncated mailbox reply')
    const id = b.slice(o, o + 16)
    const expiresAt = Number(dv(b).getBigUint64(o + 16))
    const len = dv(b).getUint32(o + 24)
    if (len > MAX_ENVELOPE_BYTES || o + 28 + len > b.length) throw new FrameError('ERR_TRUNCATED', 'truncated mailbox reply')
    out.push({ id, expiresAt, envelope: b.slice(o + 28, o + 28 + len) })
    o += 28 + len
  }
  return out
}

export async function fetchEnvelopes (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, options: { signal?: AbortSignal } = {}): Promise<HeldEnvelopeWire[]> {
  const { stream, reader } = await ownerExchange(libp2p, peer, 'fetch', sign, new Uint8Array(0), options.signal)
  try {
    const reply = await reader.read()
    if (reply === undefined) return []
    const b = checkVersion(reply)
    if (b[0] !== (REPLY | OP.fetch) || b.length < 3) throw new FrameError('ERR_PROTOCOL', 'bad fetch reply')
    return decodeHeldList(b, 3, dv(b).getUint16(1))
  } finally {
    await stream.close().catch(() => {})
  }
}

export async function ackEnvelopes (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, ids: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<number> {
  const list = ids.slice(0, MAX_BATCH)
  const { stream, reader } = await ownerExchange(libp2p, peer, 'ack', sign, concatBytes(Uint8Array.of(list.length >> 8, list.length & 0xff), ...list), options.signal)
  try {
    const reply = await reader.read()
    if (reply === undefined) return 0
    const b = checkVersion(reply)
    return b[0] === (REPLY | OP.ack) && b.length >= 3 ? dv(b).getUint16(1) : 0
  } finally {
    await stream.close().catch(() => {})
  }
}

/** Keeps a subscription open; calls onEnvelope for each push until the stream ends or the signal aborts. */
export async function subscribeEnvelopes (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, onEnvelope: (e: HeldEnvelopeWire) => Promise<void>, signal: AbortSignal): Promise<void> {
  const { stream } = await ownerExchange(libp2p, peer, 'subscribe', sign, new Uint8Array(0), signal)
  // Pushes may be hours apart: no per-frame timeout on a subscription.
  const reader = new FrameReader(stream, MAX_ENVELOPE_BYTES + 64, 2 ** 31 - 1)
  signal.addEventListener('abort', () => { stream.abort(new Error('unsubscribed')) }, { once: true })
  for (;;) {
    const frame = await reader.read().catch(() => undefined)
    if (frame === undefined) return
    const b = checkVersion(frame)
    if (b[0] !== (REPLY | OP.subscribe)) return
    for (const e of decodeHeldList(b, 1, 1)) await onEnvelope(e)
  }
}

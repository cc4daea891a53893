/**
 * `/sotto/mailbox/1`: store-and-forward for offline recipients. One exchange per stream:
 *   put:        [v|0x01|mailbox(32)|ttl s u32|envelope]            -> [v|0x81|status u8|expiresAt u64]
 *   challenge:  [v|0x02]                                            -> [v|0x82|nonce(16)]
 *   then, on the same stream, an owner operation carrying a proof (see proof.ts):
 *   fetch:      [v|0x03|proof|format u8 = 2|after: expiresAt u64|id(16)]
 *                 -> [v|0x83|format u8 = 2|more u8|count u16|(id(16)|expiresAt u64|len u32|envelope)*]
 *               in the order (expiry, id), strictly after the cursor (all zero: from the start);
 *               `more` 1 when envelopes follow the last one returned: the owner pages on from it.
 *               A fetch without the format byte (format 1, which returned one batch and no
 *               cursor) is refused with ERR_UNKNOWN_VERSION and a reset.
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
import { TokenBuckets } from '../token-bucket.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from '../frames.js'
import {
  MAILBOX_FRAME_TIMEOUT_MS, MAX_BATCH, MAX_ENVELOPE_BYTES, MAX_INBOUND_MAILBOX_STREAMS, MAX_MAILBOX_REQUEST_FRAME, MAX_OUTBOUND_MAILBOX_STREAMS,
  MAX_SUBSCRIBERS, MAX_SUBSCRIBERS_PER_PEER, MAX_SUBSCRIPTION_BACKLOG_BYTES, PUT_BURST, PUTS_PER_SECOND_PER_PEER
} from './constants.js'
import { ChallengeBook, MAILBOX_OPS, verifyOwnerProof, type MailboxOp, type OwnerProof } from './proof.js'
import type { MailboxCursor, MailboxStore, PutRefusal } from './store.js'

const OP = { put: 0x01, challenge: 0x02, fetch: 0x03, ack: 0x04, subscribe: 0x05 } as const
const REPLY = 0x80
export const PUT_STATUS = ['ok', 'duplicate', 'TOO_LARGE', 'MAILBOX_FULL', 'NODE_FULL', 'RATE_LIMITED', 'BAD_REQUEST', 'DISABLED', 'SENDER_FULL'] as const
export type PutStatus = typeof PUT_STATUS[number]
/** A fetch reply never exceeds this, whatever is held. */
export const MAX_MAILBOX_FRAME = 1024 * 1024
const PROOF_BYTES = 1 + 32 + 16 + 8 + 32 + 64
const REQUEST_TIMEOUT_MS = MAILBOX_FRAME_TIMEOUT_MS
/** The fetch format with a cursor; format 1 had none (see the header). */
export const FETCH_FORMAT = 2
const CURSOR_BYTES = 8 + 16

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

/** The tail of a fetch request: format byte and cursor. */
export function encodeFetchTail (after: MailboxCursor | undefined): Uint8Array {
  return concatBytes(Uint8Array.of(FETCH_FORMAT), u64(after?.expiresAt ?? 0), after?.id ?? new Uint8Array(16))
}


export interface MailboxServerInit {
  store: MailboxStore | undefined
  logger: ComponentLogger
  now: () => number
  /** Puts per second and burst per peer; @default PUTS_PER_SECOND_PER_PEER, PUT_BURST */
  putRate?: { perSecond: number, burst: number }
  /** Time for each frame to arrive or each reply to be taken; @default MAILBOX_FRAME_TIMEOUT_MS */
  frameTimeoutMs?: number
}

interface Subscription { stream: Stream, peer: string, mailbox: string }

export interface MailboxServer {
  stop: () => void
}

export async function registerMailbox (libp2p: Libp2p, init: MailboxServerInit): Promise<MailboxServer> {
  const challenges = new ChallengeBook(init.now)
  const limiter = new TokenBuckets(init.now, init.putRate?.perSecond ?? PUTS_PER_SECOND_PER_PEER, init.putRate?.burst ?? PUT_BURST)
  const selfPeer = libp2p.peerId.toMultihash().bytes
  const subscribers = new Map<string, Set<Stream>>()
  /** Open subscriptions per remote peer, oldest first. */
  const subscribedBy = new Map<string, Subscription[]>()
  const frameTimeoutMs = init.frameTimeoutMs ?? MAILBOX_FRAME_TIMEOUT_MS

  await libp2p.handle(MAILBOX_PROTOCOL, (stream: Stream, connection: Connection) => {
    void serve(stream, connection.remotePeer).catch((err: unknown) => {
      init.logger.debug('mailbox stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
      stream.abort(err instanceof Error ? err : new Error('mailbox failed'))
    })
  }, { maxInboundStreams: MAX_INBOUND_MAILBOX_STREAMS, maxOutboundStreams: MAX_OUTBOUND_MAILBOX_STREAMS })

  async function serve (stream: Stream, from: PeerId): Promise<void> {
    const reader = new FrameReader(stream, MAX_MAILBOX_REQUEST_FRAME, frameTimeoutMs)
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
        const r = await store.put(mailbox, envelope, dv(body).getUint32(33) * 1000, from.toString())
        status = r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.reason as PutRefusal
        if (r.ok) {
          expiresAt = r.expiresAt
          if (!r.duplicate) push(mailbox, { id: r.id, expiresAt, envelope })
        }
      }
      await answer(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.put, PUT_STATUS.indexOf(status)), u64(expiresAt)), true)
      return
    }
    if (body[0] !== OP.challenge) throw new FrameError('ERR_FRAME_TYPE', 'unknown mailbox request')
    await answer(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.challenge), challenges.issue()), false)
    const second = await reader.read()
    if (second === undefined) return
    const req = checkVersion(second)
    const proof = decodeProof(req.subarray(1))
    const op = req[0] === OP.fetch ? 'fetch' : req[0] === OP.ack ? 'ack' : req[0] === OP.subscribe ? 'subscribe' : undefined
    if (op === undefined) throw new FrameError('ERR_FRAME_TYPE', 'unknown mailbox request')
    const owner = store !== undefined && verifyOwnerProof(proof, op, selfPeer, challenges, init.now())
    if (op === 'fetch') {
      const tail = req.subarray(1 + PROOF_BYTES)
      if (tail.length !== 1 + CURSOR_BYTES || tail[0] !== FETCH_FORMAT) throw new FrameError('ERR_UNKNOWN_VERSION', 'fetch without a known format')
      const after = { expiresAt: Number(dv(tail).getBigUint64(1)), id: tail.slice(9, 9 + 16) }
      const page = owner ? await store.page(proof.mailbox, after, MAX_BATCH) : { envelopes: [], more: false }
      const parts: Uint8Array[] = []
      let size = 0
      for (const e of page.envelopes) {
        const enc = encodeHeld(e)
        if (size + enc.length > MAX_MAILBOX_FRAME - 16) break
        parts.push(enc)
        size += enc.length
      }
      // Cut short by the frame size: the rest follows the last one sent.
      const more = page.more || parts.length < page.envelopes.length
      await answer(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.fetch, FETCH_FORMAT, more ? 1 : 0, parts.length >> 8, parts.length & 0xff), ...parts), true)
    } else if (op === 'ack') {
      const rest = req.subarray(1 + PROOF_BYTES)
      const count = Math.min(rest.length >= 2 ? dv(rest).getUint16(0) : 0, MAX_BATCH)
      const ids: Uint8Array[] = []
      for (let i = 0; i < count && 2 + (i + 1) * 16 <= rest.length; i++) ids.push(rest.slice(2 + i * 16, 2 + (i + 1) * 16))
      const removed = owner ? await store.ack(proof.mailbox, ids) : 0
      await answer(stream, Uint8Array.of(FRAME_VERSION, REPLY | OP.ack, removed >> 8, removed & 0xff), true)
    } else {
      // A subscription that does not verify just never receives anything (M7).
      if (!owner) return
      const peer = from.toString()
      const mine = subscribedBy.get(peer) ?? []
      if (mine.length >= MAX_SUBSCRIBERS_PER_PEER) {
        // A peer's newest subscription replaces its oldest: a client that lost a stream and
        // subscribes again is not locked out by the dead one.
        unsubscribe(mine[0], 'replaced by a newer subscription')
      } else {
        let total = 0
        let most: Subscription[] = []
        for (const list of subscribedBy.values()) { total += list.length; if (list.length > most.length) most = list }
        if (total >= MAX_SUBSCRIBERS) {
          // Full: the peer holding the most gives up its oldest, while it holds more than this
          // one will; so peers that came first cannot keep a newcomer out.
          if (most.length <= mine.length + 1) { await answer(stream, undefined, true); return }
          unsubscribe(most[0], 'subscriptions full')
        }
      }
      const sub: Subscription = { stream, peer, mailbox: Buffer.from(proof.mailbox).toString('hex') }
      // libp2p resets the stream once this much waits unsent: pushes to a subscriber that
      // takes nothing do not pile up in memory.
      stream.maxWriteBufferLength = MAX_SUBSCRIPTION_BACKLOG_BYTES
      const set = subscribers.get(sub.mailbox) ?? new Set()
      set.add(stream)
      subscribers.set(sub.mailbox, set)
      mine.push(sub)
      subscribedBy.set(peer, mine)
      stream.addEventListener('close', () => { unsubscribe(sub) })
    }
  }

  /**
   * Sends a frame (and closes our end): a peer that does not take it within the frame
   * timeout, say one that paused its stream, gets a reset instead of holding the stream and
   * the reply in memory.
   */
  async function answer (stream: Stream, body: Uint8Array | undefined, close: boolean): Promise<void> {
    const signal = AbortSignal.timeout(frameTimeoutMs)
    try {
      if (body !== undefined) await writeFrame(stream, body, { signal })
      if (close) await stream.close({ signal })
    } catch (err) {
      if (signal.aborted) throw new FrameError('ERR_REPLY_TIMEOUT', 'reply not taken in time')
      throw err
    }
  }

  /** Forgets a subscription; with a reason, also ends its stream. */
  function unsubscribe (sub: Subscription, reason?: string): void {
    const set = subscribers.get(sub.mailbox)
    if (set?.delete(sub.stream) === true && set.size === 0) subscribers.delete(sub.mailbox)
    const list = subscribedBy.get(sub.peer)
    const at = list?.indexOf(sub) ?? -1
    if (list !== undefined && at >= 0) list.splice(at, 1)
    if (list?.length === 0) subscribedBy.delete(sub.peer)
    if (reason !== undefined) sub.stream.abort(new Error(reason))
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
      subscribedBy.clear()
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
  try {
    await writeFrame(stream, Uint8Array.of(FRAME_VERSION, OP.challenge))
    const challenge = await reader.read()
    if (challenge === undefined) throw new FrameError('ERR_PROTOCOL', 'no challenge')
    const c = checkVersion(challenge)
    if (c[0] !== (REPLY | OP.challenge) || c.length !== 17) throw new FrameError('ERR_PROTOCOL', 'bad challenge')
    const proof = sign(op, peer.toMultihash().bytes, c.slice(1))
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, OP[op]), encodeProof(proof), extra))
  } catch (err) {
    // A mailbox that fails the exchange keeps no stream of ours open.
    stream.abort(err instanceof Error ? err : new Error('mailbox exchange failed'))
    throw err instanceof FrameError ? err : new FrameError('ERR_PROTOCOL', 'mailbox exchange failed', { cause: err })
  }
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

/**
 * One page of what a mailbox holds for us: `envelopes` in the order (expiry, id), `more` when
 * others follow `next`. VERSION: the mailbox answered in another fetch format.
 */
export type FetchOutcome = { ok: true, envelopes: HeldEnvelopeWire[], more: boolean, next: MailboxCursor | undefined } | { ok: false, error: 'NO_ROUTE' | 'PROTOCOL' | 'VERSION' }

export async function fetchPage (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, options: { after?: MailboxCursor, signal?: AbortSignal } = {}): Promise<FetchOutcome> {
  let exchange: { stream: Stream, reader: FrameReader }
  try {
    exchange = await ownerExchange(libp2p, peer, 'fetch', sign, encodeFetchTail(options.after), options.signal)
  } catch (err) {
    return { ok: false, error: err instanceof FrameError ? 'PROTOCOL' : 'NO_ROUTE' }
  }
  const { stream, reader } = exchange
  try {
    const reply = await reader.read()
    if (reply === undefined) return { ok: false, error: 'PROTOCOL' }
    const b = checkVersion(reply)
    if (b[0] !== (REPLY | OP.fetch) || b.length < 2) return { ok: false, error: 'PROTOCOL' }
    // Format 1 put the count's high byte here, never 2 (a batch is at most MAX_BATCH = 256).
    if (b[1] !== FETCH_FORMAT) return { ok: false, error: 'VERSION' }
    if (b.length < 5) return { ok: false, error: 'PROTOCOL' }
    const envelopes = decodeHeldList(b, 5, dv(b).getUint16(3))
    const last = envelopes[envelopes.length - 1]
    return { ok: true, envelopes, more: b[2] === 1, next: last === undefined ? options.after : { expiresAt: last.expiresAt, id: last.id } }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('mailbox fetch failed'))
    return { ok: false, error: 'PROTOCOL' }
  } finally {
    await stream.close().catch(() => {})
  }
}

/** The first page only, for callers that ack what they got and ask again; throws on failure. */
export async function fetchEnvelopes (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, options: { signal?: AbortSignal } = {}): Promise<HeldEnvelopeWire[]> {
  const r = await fetchPage(libp2p, peer, sign, options)
  if (!r.ok) throw new FrameError(r.error === 'VERSION' ? 'ERR_UNKNOWN_VERSION' : `ERR_${r.error}`, 'mailbox fetch failed')
  return r.envelopes
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

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
 * `/sotto/mailbox/2`: everything of /1, byte for byte, and
 *   batch put:  [v|0x06|count u16|(mailbox(32)|ttl s u32|len u32|envelope)*]
 *                 -> [v|0x86|refusal u8|count u16|(status u8|expiresAt u64)*] (wire.ts)
 *               each envelope checked and charged (rate, quotas) as a put of its own; frames up
 *               to MAX_PUT_BATCH_FRAME, at most MAX_PUT_BATCH envelopes (more: refused whole,
 *               BATCH_TOO_LARGE); a body its entries do not fill exactly resets the stream.
 *   owner operations: after a fetch or ack reply the stream stays open for another challenge
 *               and operation (each with its own proof), up to MAX_OWNER_OPS_PER_STREAM.
 * Senders ask for /2 and fall back to /1, which older nodes speak.
 * A proof that does not verify gets exactly what an empty mailbox gets (M7). The wire
 * exchange lives here; retry policy lives in the outbox.
 */
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import { concatBytes } from '../../bytes.js'
import type { ComponentLogger } from '../../log.js'
import { MAILBOX_PROTOCOL, MAILBOX_PROTOCOL_V2 } from '../constants.js'
import { TokenBuckets } from '../token-bucket.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from '../frames.js'
import {
  MAILBOX_FRAME_TIMEOUT_MS, MAX_BATCH, MAX_ENVELOPE_BYTES, MAX_INBOUND_MAILBOX_STREAMS, MAX_MAILBOX_REQUEST_FRAME, MAX_OUTBOUND_MAILBOX_STREAMS,
  MAX_OWNER_OPS_PER_STREAM, MAX_PUT_BATCH, MAX_PUT_BATCH_FRAME, MAX_SUBSCRIBERS, MAX_SUBSCRIBERS_PER_PEER, MAX_SUBSCRIPTION_BACKLOG_BYTES, PUT_BURST, PUTS_PER_SECOND_PER_PEER
} from './constants.js'
import { ChallengeBook, MAILBOX_OPS, verifyOwnerProof, type MailboxOp, type OwnerProof } from './proof.js'
import type { MailboxCursor, MailboxStore, PutResult } from './store.js'
import {
  decodePutBatch, decodePutBatchReply, dv, encodePutBatch, encodePutBatchReply, OP, PUT_STATUS, putBatchBytes, REPLY, u32, u64,
  type PutAnswer, type PutItem, type PutStatus
} from './wire.js'

export { PUT_STATUS, type PutItem, type PutStatus } from './wire.js'
/** A fetch reply never exceeds this, whatever is held. */
export const MAX_MAILBOX_FRAME = 1024 * 1024
const PROOF_BYTES = 1 + 32 + 16 + 8 + 32 + 64
const REQUEST_TIMEOUT_MS = MAILBOX_FRAME_TIMEOUT_MS
/** The fetch format with a cursor; format 1 had none (see the header). */
export const FETCH_FORMAT = 2
const CURSOR_BYTES = 8 + 16


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

  for (const [protocol, version] of [[MAILBOX_PROTOCOL, 1], [MAILBOX_PROTOCOL_V2, 2]] as const) {
    await libp2p.handle(protocol, (stream: Stream, connection: Connection) => {
      void serve(stream, connection.remotePeer, version).catch((err: unknown) => {
        init.logger.debug('mailbox stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
        stream.abort(err instanceof Error ? err : new Error('mailbox failed'))
      })
    }, { maxInboundStreams: MAX_INBOUND_MAILBOX_STREAMS, maxOutboundStreams: MAX_OUTBOUND_MAILBOX_STREAMS })
  }

  /** What the store answered for one put, as a status; a new envelope goes to the owner's subscriptions. */
  function settle (mailbox: Uint8Array, envelope: Uint8Array, r: PutResult): PutAnswer {
    if (!r.ok) return { status: r.reason, expiresAt: 0 }
    if (!r.duplicate) push(mailbox, { id: r.id, expiresAt: r.expiresAt, envelope })
    return { status: r.duplicate ? 'duplicate' : 'ok', expiresAt: r.expiresAt }
  }

  async function serve (stream: Stream, from: PeerId, version: 1 | 2): Promise<void> {
    const reader = new FrameReader(stream, version === 2 ? MAX_PUT_BATCH_FRAME : MAX_MAILBOX_REQUEST_FRAME, frameTimeoutMs)
    const first = await reader.read()
    if (first === undefined) return
    let body = checkVersion(first)
    const store = init.store
    if (body[0] === OP.put) {
      let a: PutAnswer
      if (store === undefined) a = { status: 'DISABLED', expiresAt: 0 }
      else if (body.length < 1 + 32 + 4 + 1) a = { status: 'BAD_REQUEST', expiresAt: 0 }
      else if (!limiter.take(from.toString())) a = { status: 'RATE_LIMITED', expiresAt: 0 }
      else {
        const mailbox = body.slice(1, 33)
        const envelope = body.slice(37)
        a = settle(mailbox, envelope, await store.put(mailbox, envelope, dv(body).getUint32(33) * 1000, from.toString()))
      }
      await answer(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.put, PUT_STATUS.indexOf(a.status)), u64(a.expiresAt)), true)
      return
    }
    if (body[0] === OP.putBatch && version === 2) {
      await answer(stream, await putBatch(body, from.toString()), true)
      return
    }
    // /1: one owner operation per stream. /2: more, each after a challenge of its own.
    const maxOps = version === 2 ? MAX_OWNER_OPS_PER_STREAM : 1
    for (let ops = 1; ; ops++) {
      if (body[0] !== OP.challenge) throw new FrameError('ERR_FRAME_TYPE', 'unknown mailbox request')
      await answer(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.challenge), challenges.issue()), false)
      const second = await reader.read()
      if (second === undefined) return
      const last = ops >= maxOps
      if (!await ownerOperation(stream, from, checkVersion(second), last) || last) return
      const next = await reader.read()
      if (next === undefined) { await answer(stream, undefined, true); return }
      body = checkVersion(next)
    }
  }

  /** Answers a batch put envelope by envelope: each takes a token and is checked against the quotas as a put of its own. */
  async function putBatch (body: Uint8Array, peer: string): Promise<Uint8Array> {
    const decoded = decodePutBatch(body)
    const store = init.store
    if (store === undefined) return encodePutBatchReply([], 'DISABLED')
    if (decoded.tooMany) return encodePutBatchReply([], 'BATCH_TOO_LARGE')
    const answers: PutAnswer[] = decoded.items.map(() => ({ status: 'RATE_LIMITED', expiresAt: 0 }))
    const taken = decoded.items.flatMap((item, at) => limiter.take(peer) ? [{ item, at }] : [])
    const results = await store.putMany(taken.map((t) => t.item), peer)
    taken.forEach(({ item, at }, n) => { answers[at] = settle(item.mailbox, item.envelope, results[n]) })
    return encodePutBatchReply(answers)
  }

  /**
   * One owner operation after its challenge; true when the stream may carry another (a
   * fetch or an ack on /2), false when it was answered and closed or became a subscription.
   */
  async function ownerOperation (stream: Stream, from: PeerId, req: Uint8Array, last: boolean): Promise<boolean> {
    const store = init.store
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
      await answer(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP.fetch, FETCH_FORMAT, more ? 1 : 0, parts.length >> 8, parts.length & 0xff), ...parts), last)
      return true
    } else if (op === 'ack') {
      const rest = req.subarray(1 + PROOF_BYTES)
      const count = Math.min(rest.length >= 2 ? dv(rest).getUint16(0) : 0, MAX_BATCH)
      const ids: Uint8Array[] = []
      for (let i = 0; i < count && 2 + (i + 1) * 16 <= rest.length; i++) ids.push(rest.slice(2 + i * 16, 2 + (i + 1) * 16))
      const removed = owner ? await store.ack(proof.mailbox, ids) : 0
      await answer(stream, Uint8Array.of(FRAME_VERSION, REPLY | OP.ack, removed >> 8, removed & 0xff), last)
      return true
    } else {
      // A subscription that does not verify just never receives anything (M7).
      if (!owner) return false
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
          if (most.length <= mine.length + 1) { await answer(stream, undefined, true); return false }
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
      return false
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
  return await putOn(stream, { mailbox, envelope, ttlMs })
}

/** A single put on a stream just opened (either version); the stream is done with after it. */
async function putOn (stream: Stream, item: PutItem): Promise<PutOutcome> {
  try {
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, OP.put), item.mailbox, u32(Math.floor(item.ttlMs / 1000)), item.envelope))
    const reply = await new FrameReader(stream, 64, REQUEST_TIMEOUT_MS).read()
    await stream.close().catch(() => {})
    if (reply === undefined) return { ok: false, error: 'PROTOCOL' }
    const body = checkVersion(reply)
    const status = PUT_STATUS[body[1]]
    if (body[0] !== (REPLY | OP.put) || status === undefined || body.length < 10) return { ok: false, error: 'PROTOCOL' }
    return outcomeOf({ status, expiresAt: Number(dv(body).getBigUint64(2)) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('mailbox put failed'))
    return { ok: false, error: 'PROTOCOL' }
  }
}

function outcomeOf (a: PutAnswer): PutOutcome {
  if (a.status === 'ok' || a.status === 'duplicate') return { ok: true, duplicate: a.status === 'duplicate', expiresAt: a.expiresAt }
  return { ok: false, error: a.status }
}

/**
 * Puts several envelopes on one mailbox node, answered one by one in order: in batches of
 * at most MAX_PUT_BATCH envelopes and MAX_PUT_BATCH_FRAME bytes on /sotto/mailbox/2, or one
 * put per stream with a node that speaks only /1.
 */
export async function putEnvelopes (libp2p: Libp2p, peer: PeerId, items: readonly PutItem[], options: { signal?: AbortSignal } = {}): Promise<PutOutcome[]> {
  const out: PutOutcome[] = new Array(items.length)
  const chunks: number[][] = []
  let chunk: number[] = []
  let bytes = 0
  items.forEach((item, at) => {
    // Refused here as the mailbox would: it could not be sent in a batch frame anyway.
    if (item.envelope.length > MAX_ENVELOPE_BYTES) { out[at] = { ok: false, error: 'TOO_LARGE' }; return }
    if (chunk.length === MAX_PUT_BATCH || putBatchBytes(bytes + item.envelope.length, chunk.length + 1) > MAX_PUT_BATCH_FRAME) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(at)
    bytes += item.envelope.length
  })
  if (chunk.length > 0) chunks.push(chunk)
  await Promise.all(chunks.map(async (c) => {
    const answers = await putChunk(libp2p, peer, c.map((at) => items[at]), options.signal)
    c.forEach((at, n) => { out[at] = answers[n] })
  }))
  return out
}

async function putChunk (libp2p: Libp2p, peer: PeerId, items: PutItem[], signal?: AbortSignal): Promise<PutOutcome[]> {
  const all = (o: PutOutcome): PutOutcome[] => items.map(() => o)
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, [MAILBOX_PROTOCOL_V2, MAILBOX_PROTOCOL], { signal: signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  } catch {
    return all({ ok: false, error: 'NO_ROUTE' })
  }
  if (stream.protocol !== MAILBOX_PROTOCOL_V2) {
    // An older node: the first envelope on this stream, the others on streams of their own.
    const [first, ...rest] = items
    return await Promise.all([putOn(stream, first), ...rest.map(async (it) => await putEnvelope(libp2p, peer, it.mailbox, it.envelope, it.ttlMs, { signal }))])
  }
  try {
    await writeFrame(stream, encodePutBatch(items))
    const reply = await new FrameReader(stream, 8 + items.length * 9, REQUEST_TIMEOUT_MS).read()
    await stream.close().catch(() => {})
    if (reply === undefined) return all({ ok: false, error: 'PROTOCOL' })
    return decodePutBatchReply(checkVersion(reply), items.length).map(outcomeOf)
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('mailbox put failed'))
    return all({ ok: false, error: 'PROTOCOL' })
  }
}

export interface HeldEnvelopeWire { id: Uint8Array, expiresAt: number, envelope: Uint8Array }
export type ProofSigner = (op: MailboxOp, mailboxPeer: Uint8Array, nonce: Uint8Array) => OwnerProof

/** Opens a /1 stream, gets a challenge, sends the signed request; returns the stream and its reader. */
async function ownerExchange (libp2p: Libp2p, peer: PeerId, op: 'fetch' | 'ack' | 'subscribe', sign: ProofSigner, extra: Uint8Array, signal?: AbortSignal): Promise<{ stream: Stream, reader: FrameReader }> {
  const stream = await libp2p.dialProtocol(peer, MAILBOX_PROTOCOL, { signal: signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const reader = new FrameReader(stream, MAX_MAILBOX_FRAME, REQUEST_TIMEOUT_MS)
  await ownerRequest(stream, reader, peer, op, sign, extra)
  return { stream, reader }
}

/** On an open stream: gets a challenge and sends the signed request. */
async function ownerRequest (stream: Stream, reader: FrameReader, peer: PeerId, op: 'fetch' | 'ack' | 'subscribe', sign: ProofSigner, extra: Uint8Array): Promise<void> {
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
    return await readFetchReply(reader, options.after)
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('mailbox fetch failed'))
    return { ok: false, error: 'PROTOCOL' }
  } finally {
    await stream.close().catch(() => {})
  }
}

/** The reply to a fetch, as a value; throws on a reply that does not parse. */
async function readFetchReply (reader: FrameReader, after: MailboxCursor | undefined): Promise<FetchOutcome> {
  const reply = await reader.read()
  if (reply === undefined) return { ok: false, error: 'PROTOCOL' }
  const b = checkVersion(reply)
  if (b[0] !== (REPLY | OP.fetch) || b.length < 2) return { ok: false, error: 'PROTOCOL' }
  // Format 1 put the count's high byte here, never 2 (a batch is at most MAX_BATCH = 256).
  if (b[1] !== FETCH_FORMAT) return { ok: false, error: 'VERSION' }
  if (b.length < 5) return { ok: false, error: 'PROTOCOL' }
  const envelopes = decodeHeldList(b, 5, dv(b).getUint16(3))
  const last = envelopes[envelopes.length - 1]
  return { ok: true, envelopes, more: b[2] === 1, next: last === undefined ? after : { expiresAt: last.expiresAt, id: last.id } }
}

async function readAckReply (reader: FrameReader): Promise<number> {
  const reply = await reader.read()
  if (reply === undefined) return 0
  const b = checkVersion(reply)
  return b[0] === (REPLY | OP.ack) && b.length >= 3 ? dv(b).getUint16(1) : 0
}

const encodeAckTail = (ids: Uint8Array[]): Uint8Array => concatBytes(Uint8Array.of(ids.length >> 8, ids.length & 0xff), ...ids)

/** The first page only, for callers that ack what they got and ask again; throws on failure. */
export async function fetchEnvelopes (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, options: { signal?: AbortSignal } = {}): Promise<HeldEnvelopeWire[]> {
  const r = await fetchPage(libp2p, peer, sign, options)
  if (!r.ok) throw new FrameError(r.error === 'VERSION' ? 'ERR_UNKNOWN_VERSION' : `ERR_${r.error}`, 'mailbox fetch failed')
  return r.envelopes
}

export async function ackEnvelopes (libp2p: Libp2p, peer: PeerId, sign: ProofSigner, ids: Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<number> {
  const { stream, reader } = await ownerExchange(libp2p, peer, 'ack', sign, encodeAckTail(ids.slice(0, MAX_BATCH)), options.signal)
  try {
    return await readAckReply(reader)
  } finally {
    await stream.close().catch(() => {})
  }
}

/**
 * An owner's fetches and acks with one mailbox node: on /sotto/mailbox/2 one stream carries
 * them all (up to MAX_OWNER_OPS_PER_STREAM, then another is opened), each with its own
 * challenge and proof; with a node that speaks only /1, one stream per operation. `close`
 * ends the stream; a failed operation drops it, and the next opens a new one.
 */
export class OwnerChannel {
  private open: { stream: Stream, reader: FrameReader, ops: number } | undefined
  private v1Only = false

  constructor (private readonly libp2p: Libp2p, private readonly peer: PeerId, private readonly sign: ProofSigner, private readonly signal?: AbortSignal) {}

  async fetch (after?: MailboxCursor): Promise<FetchOutcome> {
    let s: { stream: Stream, reader: FrameReader }
    try {
      s = await this.request('fetch', encodeFetchTail(after))
    } catch (err) {
      return { ok: false, error: err instanceof FrameError ? 'PROTOCOL' : 'NO_ROUTE' }
    }
    try {
      const r = await readFetchReply(s.reader, after)
      if (!r.ok) this.drop(new Error('mailbox fetch failed'))
      return r
    } catch (err) {
      this.drop(err)
      return { ok: false, error: 'PROTOCOL' }
    } finally {
      await this.done()
    }
  }

  /** Acks up to MAX_BATCH ids; resolves with how many the mailbox removed. Throws when it could not ask. */
  async ack (ids: Uint8Array[]): Promise<number> {
    const s = await this.request('ack', encodeAckTail(ids.slice(0, MAX_BATCH)))
    try {
      return await readAckReply(s.reader)
    } catch (err) {
      this.drop(err)
      throw err
    } finally {
      await this.done()
    }
  }

  async close (): Promise<void> {
    const open = this.open
    this.open = undefined
    await open?.stream.close().catch(() => {})
  }

  private async request (op: 'fetch' | 'ack', extra: Uint8Array): Promise<{ stream: Stream, reader: FrameReader }> {
    if (this.open === undefined) {
      const stream = await this.libp2p.dialProtocol(this.peer, this.v1Only ? MAILBOX_PROTOCOL : [MAILBOX_PROTOCOL_V2, MAILBOX_PROTOCOL], { signal: this.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      this.v1Only = stream.protocol !== MAILBOX_PROTOCOL_V2
      this.open = { stream, reader: new FrameReader(stream, MAX_MAILBOX_FRAME, REQUEST_TIMEOUT_MS), ops: 0 }
    }
    const open = this.open
    open.ops++
    try {
      await ownerRequest(open.stream, open.reader, this.peer, op, this.sign, extra)
    } catch (err) {
      this.open = undefined
      throw err
    }
    return open
  }

  /** After a reply: a /1 stream, or a /2 one at its last operation, is finished. */
  private async done (): Promise<void> {
    if (this.open !== undefined && (this.v1Only || this.open.ops >= MAX_OWNER_OPS_PER_STREAM)) await this.close()
  }

  private drop (err: unknown): void {
    this.open?.stream.abort(err instanceof Error ? err : new Error('mailbox exchange failed'))
    this.open = undefined
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

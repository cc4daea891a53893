/**
 * Direct delivery: a sealed envelope straight to the recipient's node. Two versions, served
 * side by side, with the same frames:
 *   request:  version(1) | 0x01 | envelope
 *   response: version(1) | 0x02 | verdict u8 (0 accepted, 1 duplicate, 2 refused, 3 locked)
 *          or version(1) | 0x03 | u32 retry-after ms          (rate limited)
 * `/sotto/deliver/1` carries one envelope per stream. `/sotto/deliver/2` carries many: the
 * recipient reads them one at a time, in order, and answers each before it reads the next,
 * so the sender may pipeline and match answers in order; it closes the stream when the
 * sender does or after DELIVER_STREAM_IDLE_MS with nothing in flight.
 * The recipient answers only after it has committed the message and the new ratchet state
 * in one batch, so an ack means "stored". Each remote peer has a token bucket
 * (DELIVER_RATE_PER_SECOND, DELIVER_BURST; T3) charged per envelope on both versions, and an
 * envelope refused or unparseable costs DELIVER_REFUSED_COST in all. On /1 a stream beyond
 * the bucket is answered "rate limited" before its request is read; on /2 the envelope is
 * read (to find the next frame), answered "rate limited", never decrypted, and the stream
 * goes on. A malformed frame resets that stream and nothing else (T1). Expected failures
 * come back as values.
 */
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { concatBytes } from '../bytes.js'
import type { ComponentLogger } from '../log.js'
import { DELIVER_BURST, DELIVER_PROTOCOL, DELIVER_PROTOCOL_V2, DELIVER_RATE_PER_SECOND, DELIVER_REFUSED_COST, DELIVER_STREAM_IDLE_MS, DELIVER_TIMEOUT_MS, FRAME_TIMEOUT_MS, MAX_DELIVER_FRAME, MAX_DELIVER_UNREAD_BYTES, MAX_DELIVER_RATE_PEERS, MAX_INBOUND_DELIVER_STREAMS, MAX_OUTBOUND_DELIVER_STREAMS } from './constants.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from './frames.js'
import { TokenBuckets } from './token-bucket.js'

const TYPE_ENVELOPE = 0x01
const TYPE_ACK = 0x02
const TYPE_RATE_LIMITED = 0x03
export const VERDICTS = ['accepted', 'duplicate', 'refused', 'locked'] as const
export type DeliverVerdict = typeof VERDICTS[number]

export type DeliverResult =
  | { ok: true, verdict: 'accepted' | 'duplicate' }
  | { ok: false, error: 'NO_ROUTE' | 'TIMEOUT' | 'REFUSED' | 'LOCKED' | 'PROTOCOL' }
  | { ok: false, error: 'RATE_LIMITED', retryAfterMs: number }

/** Versions a sender dials, preferred first. */
export const DELIVER_PROTOCOLS = [DELIVER_PROTOCOL_V2, DELIVER_PROTOCOL]

export interface DeliverServerInit {
  onEnvelope: (envelope: Uint8Array, from: PeerId) => Promise<DeliverVerdict>
  logger: ComponentLogger
  frameTimeoutMs?: number
  /** How long a /2 stream may wait for its next envelope. @default DELIVER_STREAM_IDLE_MS */
  idleMs?: number
  /** @default Date.now */
  now?: () => number
  /** Deliveries per remote peer. @default { perSecond: DELIVER_RATE_PER_SECOND, burst: DELIVER_BURST } */
  rate?: { perSecond: number, burst: number }
}

export async function registerDeliver (libp2p: Libp2p, init: DeliverServerInit): Promise<void> {
  const timeout = init.frameTimeoutMs ?? FRAME_TIMEOUT_MS
  const idleMs = init.idleMs ?? DELIVER_STREAM_IDLE_MS
  const buckets = new TokenBuckets(init.now ?? Date.now, init.rate?.perSecond ?? DELIVER_RATE_PER_SECOND, init.rate?.burst ?? DELIVER_BURST, MAX_DELIVER_RATE_PEERS)
  const limits = { maxInboundStreams: MAX_INBOUND_DELIVER_STREAMS, maxOutboundStreams: MAX_OUTBOUND_DELIVER_STREAMS }

  const resetter = (stream: Stream) => (err: unknown): void => {
    // Already reset by this node, for the reason logged then.
    if (stream.status === 'aborted') return
    // Garbage, oversize or too slow: reset this stream only.
    init.logger.debug('deliver stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
    stream.abort(err instanceof Error ? err : new Error('deliver failed'))
  }

  await libp2p.handle(DELIVER_PROTOCOL, (stream: Stream, connection: Connection) => {
    const wait = buckets.wait(connection.remotePeer.toString())
    if (wait > 0) {
      void refuse(stream, wait).catch(resetter(stream))
      return
    }
    void serveOne(stream, connection.remotePeer).catch(resetter(stream))
  }, limits)

  await libp2p.handle(DELIVER_PROTOCOL_V2, (stream: Stream, connection: Connection) => {
    void serveMany(stream, connection.remotePeer).catch(resetter(stream))
  }, limits)

  /** /1 beyond the bucket: "rate limited" without reading the request, so nothing of it is parsed or decrypted. */
  async function refuse (stream: Stream, retryAfterMs: number): Promise<void> {
    init.logger.debug('deliver rate limited', { code: 'ERR_RATE_LIMITED' })
    await writeFrame(stream, rateLimitedFrame(retryAfterMs))
    void stream.close().catch(() => {})
  }

  /** /1: one envelope (its token already taken), one answer. */
  async function serveOne (stream: Stream, from: PeerId): Promise<void> {
    const reader = new FrameReader(stream, MAX_DELIVER_FRAME, timeout)
    let frame: Uint8Array | undefined
    try {
      frame = await reader.read()
      if (frame === undefined) throw new FrameError('ERR_FRAME_TRUNCATED', 'no request')
    } catch (err) {
      if (err instanceof FrameError) buckets.charge(from.toString(), DELIVER_REFUSED_COST - 1)
      throw err
    }
    await writeFrame(stream, await answer(frame, from))
    // Closing waits for the remote's side; the ack is already sent, so do not hold the handler.
    void stream.close().catch(() => {})
  }

  /** /2: envelopes one at a time, each answered before the next is read. */
  async function serveMany (stream: Stream, from: PeerId): Promise<void> {
    const reset = resetter(stream)
    const reader = new FrameReader(stream, MAX_DELIVER_FRAME, timeout)
    // Bytes seen against bytes framed: tells an idle stream from one inside a frame, and
    // bounds what a sender may have sent beyond its acks (the muxer keeps accepting bytes
    // whether or not they are read, so that bound is kept here).
    let received = 0
    let framed = 0
    stream.addEventListener('message', (evt) => {
      received += evt.data.byteLength
      if (received - framed > MAX_DELIVER_UNREAD_BYTES) reset(new FrameError('ERR_TOO_MANY_IN_FLIGHT', 'more envelopes unanswered than a sender may have'))
    })
    for (;;) {
      const next = reader.read()
      let frame: Uint8Array | undefined
      try {
        const first = await raceIdle(next, idleMs)
        if (first === IDLE && received === framed) {
          // Nothing under way: close our side; whatever the remote sends after that is not read.
          void stream.close().catch(() => {})
          next.then(
            (late) => { if (late !== undefined) stream.abort(new FrameError('ERR_STREAM_IDLE', 'envelope after the idle close')) },
            () => { stream.abort(new FrameError('ERR_STREAM_IDLE', 'stream left open after the idle close')) })
          return
        }
        // A frame under way when the idle time ran out: its own frame timeout bounds it (T4).
        frame = first === IDLE ? await next : first
      } catch (err) {
        // Garbage costs what a refused envelope costs (the remote resetting its own stream does not).
        if (err instanceof FrameError) buckets.charge(from.toString(), DELIVER_REFUSED_COST)
        throw err
      }
      if (frame === undefined) break
      framed += 4 + frame.length
      const wait = buckets.wait(from.toString())
      if (wait > 0) {
        init.logger.debug('deliver rate limited', { code: 'ERR_RATE_LIMITED' })
        checkEnvelope(frame)
        await writeFrame(stream, rateLimitedFrame(wait))
        continue
      }
      await writeFrame(stream, await answer(frame, from))
    }
    void stream.close().catch(() => {})
  }

  /** The ack for one request frame, after the handler committed it; a frame that does not parse throws (T1). */
  async function answer (frame: Uint8Array, from: PeerId): Promise<Uint8Array> {
    let envelope: Uint8Array
    try {
      envelope = checkEnvelope(frame)
    } catch (err) {
      buckets.charge(from.toString(), DELIVER_REFUSED_COST - 1)
      throw err
    }
    const verdict = await init.onEnvelope(envelope, from)
    // Known only now: an envelope that does not open cost a decryption for nothing.
    if (verdict === 'refused') buckets.charge(from.toString(), DELIVER_REFUSED_COST - 1)
    return Uint8Array.of(FRAME_VERSION, TYPE_ACK, VERDICTS.indexOf(verdict))
  }
}

const IDLE = Symbol('idle')

async function raceIdle<T> (next: Promise<T>, ms: number): Promise<T | typeof IDLE> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([next, new Promise<typeof IDLE>((resolve) => { timer = setTimeout(() => resolve(IDLE), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

function checkEnvelope (frame: Uint8Array): Uint8Array {
  const body = checkVersion(frame)
  if (body[0] !== TYPE_ENVELOPE || body.length < 2) throw new FrameError('ERR_FRAME_TYPE', 'expected an envelope')
  return body.subarray(1)
}

function rateLimitedFrame (retryAfterMs: number): Uint8Array {
  const frame = new Uint8Array(6)
  frame[0] = FRAME_VERSION
  frame[1] = TYPE_RATE_LIMITED
  new DataView(frame.buffer).setUint32(2, Math.min(retryAfterMs, 0xffff_ffff))
  return frame
}

/** The request frame's body for one envelope. */
export function envelopeRequest (envelope: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(FRAME_VERSION, TYPE_ENVELOPE), envelope)
}

/** What one answer frame says; throws FrameError when it is not an answer. */
export function parseAnswer (frame: Uint8Array): DeliverResult {
  const body = checkVersion(frame)
  if (body[0] === TYPE_RATE_LIMITED && body.length === 5) {
    return { ok: false, error: 'RATE_LIMITED', retryAfterMs: new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1) }
  }
  const verdict = VERDICTS[body[1]]
  if (body[0] !== TYPE_ACK || body.length !== 2 || verdict === undefined) throw new FrameError('ERR_FRAME_TYPE', 'expected an answer')
  if (verdict === 'accepted' || verdict === 'duplicate') return { ok: true, verdict }
  return { ok: false, error: verdict === 'locked' ? 'LOCKED' : 'REFUSED' }
}

/**
 * One envelope on a stream of its own (either version: /2 with one envelope is /1's
 * exchange). For a burst to one peer, DeliverSender (deliver-streams.ts) keeps one stream.
 * `protocols`: the versions to dial, preferred first.
 */
export async function deliverEnvelope (libp2p: Libp2p, peer: PeerId, addrs: Multiaddr[], envelope: Uint8Array, options: { signal?: AbortSignal, timeoutMs?: number, protocols?: string[] } = {}): Promise<DeliverResult> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? DELIVER_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
  let stream: Stream
  try {
    stream = await dialDeliver(libp2p, peer, addrs, options.protocols ?? DELIVER_PROTOCOLS, signal)
  } catch {
    return { ok: false, error: signal.aborted ? 'TIMEOUT' : 'NO_ROUTE' }
  }
  return await exchangeOne(stream, envelope, signal, options.timeoutMs ?? DELIVER_TIMEOUT_MS)
}

/** A delivery stream to `peer`, teaching the peer store `addrs` when there is no connection to reuse. */
export async function dialDeliver (libp2p: Libp2p, peer: PeerId, addrs: Multiaddr[], protocols: string[], signal: AbortSignal): Promise<Stream> {
  // Teaching the peer store costs a locked write: only when there is no connection to reuse.
  if (addrs.length > 0 && libp2p.getConnections(peer).length === 0) await libp2p.peerStore.merge(peer, { multiaddrs: addrs })
  return await libp2p.dialProtocol(peer, protocols, { signal })
}

/** Sends one envelope on `stream`, reads its answer, closes the stream. */
export async function exchangeOne (stream: Stream, envelope: Uint8Array, signal: AbortSignal, timeoutMs: number): Promise<DeliverResult> {
  try {
    await writeFrame(stream, envelopeRequest(envelope), { signal })
    const frame = await new FrameReader(stream, 16, timeoutMs).read()
    void stream.close().catch(() => {})
    if (frame === undefined) return { ok: false, error: 'PROTOCOL' }
    return parseAnswer(frame)
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    const code = (err as FrameError).code
    return { ok: false, error: code === 'ERR_FRAME_TIMEOUT' || signal.aborted ? 'TIMEOUT' : 'PROTOCOL' }
  }
}

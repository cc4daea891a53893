/**
 * `/sotto/deliver/1`: a sealed envelope straight to the recipient's node, one per stream.
 *   request:  version(1) | 0x01 | envelope
 *   response: version(1) | 0x02 | verdict u8 (0 accepted, 1 duplicate, 2 refused, 3 locked)
 *          or version(1) | 0x03 | u32 retry-after ms          (rate limited)
 * The recipient answers only after it has committed the message and the new ratchet state
 * in one batch, so an ack means "stored". Each remote peer has a token bucket
 * (DELIVER_RATE_PER_SECOND, DELIVER_BURST; T3): a stream beyond it is answered "rate limited"
 * at once, before its request is read, so it costs no decryption. A malformed frame resets
 * that stream and nothing else (T1). Expected failures come back as values.
 */
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { concatBytes } from '../bytes.js'
import type { ComponentLogger } from '../log.js'
import { DELIVER_BURST, DELIVER_PROTOCOL, DELIVER_RATE_PER_SECOND, DELIVER_TIMEOUT_MS, FRAME_TIMEOUT_MS, MAX_DELIVER_FRAME, MAX_DELIVER_RATE_PEERS, MAX_INBOUND_DELIVER_STREAMS, MAX_OUTBOUND_DELIVER_STREAMS } from './constants.js'
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

export interface DeliverServerInit {
  onEnvelope: (envelope: Uint8Array, from: PeerId) => Promise<DeliverVerdict>
  logger: ComponentLogger
  frameTimeoutMs?: number
  /** @default Date.now */
  now?: () => number
  /** Deliveries per remote peer. @default { perSecond: DELIVER_RATE_PER_SECOND, burst: DELIVER_BURST } */
  rate?: { perSecond: number, burst: number }
}

export async function registerDeliver (libp2p: Libp2p, init: DeliverServerInit): Promise<void> {
  const timeout = init.frameTimeoutMs ?? FRAME_TIMEOUT_MS
  const buckets = new TokenBuckets(init.now ?? Date.now, init.rate?.perSecond ?? DELIVER_RATE_PER_SECOND, init.rate?.burst ?? DELIVER_BURST, MAX_DELIVER_RATE_PEERS)
  await libp2p.handle(DELIVER_PROTOCOL, (stream: Stream, connection: Connection) => {
    const reset = (err: unknown): void => {
      // Garbage, oversize or too slow: reset this stream only.
      init.logger.debug('deliver stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
      stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    }
    const wait = buckets.wait(connection.remotePeer.toString())
    if (wait > 0) {
      void refuse(stream, wait).catch(reset)
      return
    }
    void serve(stream, connection.remotePeer).catch(reset)
  }, { maxInboundStreams: MAX_INBOUND_DELIVER_STREAMS, maxOutboundStreams: MAX_OUTBOUND_DELIVER_STREAMS })

  /** Answers "rate limited" without reading the request: nothing of it is parsed or decrypted. */
  async function refuse (stream: Stream, retryAfterMs: number): Promise<void> {
    init.logger.debug('deliver rate limited', { code: 'ERR_RATE_LIMITED' })
    const frame = new Uint8Array(6)
    frame[0] = FRAME_VERSION
    frame[1] = TYPE_RATE_LIMITED
    new DataView(frame.buffer).setUint32(2, Math.min(retryAfterMs, 0xffff_ffff))
    await writeFrame(stream, frame)
    void stream.close().catch(() => {})
  }

  async function serve (stream: Stream, from: PeerId): Promise<void> {
    const reader = new FrameReader(stream, MAX_DELIVER_FRAME, timeout)
    const frame = await reader.read()
    if (frame === undefined) throw new FrameError('ERR_FRAME_TRUNCATED', 'no request')
    const body = checkVersion(frame)
    if (body[0] !== TYPE_ENVELOPE || body.length < 2) throw new FrameError('ERR_FRAME_TYPE', 'expected an envelope')
    const verdict = await init.onEnvelope(body.subarray(1), from)
    await writeFrame(stream, Uint8Array.of(FRAME_VERSION, TYPE_ACK, VERDICTS.indexOf(verdict)))
    // Closing waits for the remote's side; the ack is already sent, so do not hold the handler.
    void stream.close().catch(() => {})
  }
}

export async function deliverEnvelope (libp2p: Libp2p, peer: PeerId, addrs: Multiaddr[], envelope: Uint8Array, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<DeliverResult> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? DELIVER_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
  let stream: Stream
  try {
    // Teaching the peer store costs a locked write: only when there is no connection to reuse.
    if (addrs.length > 0 && libp2p.getConnections(peer).length === 0) await libp2p.peerStore.merge(peer, { multiaddrs: addrs })
    stream = await libp2p.dialProtocol(peer, DELIVER_PROTOCOL, { signal })
  } catch {
    return { ok: false, error: signal.aborted ? 'TIMEOUT' : 'NO_ROUTE' }
  }
  try {
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, TYPE_ENVELOPE), envelope), { signal })
    const reader = new FrameReader(stream, 16, options.timeoutMs ?? DELIVER_TIMEOUT_MS)
    const frame = await reader.read()
    void stream.close().catch(() => {})
    if (frame === undefined) return { ok: false, error: 'PROTOCOL' }
    const body = checkVersion(frame)
    if (body[0] === TYPE_RATE_LIMITED && body.length === 5) {
      return { ok: false, error: 'RATE_LIMITED', retryAfterMs: new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1) }
    }
    const verdict = VERDICTS[body[1]]
    if (body[0] !== TYPE_ACK || body.length !== 2 || verdict === undefined) return { ok: false, error: 'PROTOCOL' }
    if (verdict === 'accepted' || verdict === 'duplicate') return { ok: true, verdict }
    return { ok: false, error: verdict === 'locked' ? 'LOCKED' : 'REFUSED' }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    return { ok: false, error: (err as FrameError).code === 'ERR_FRAME_TIMEOUT' || signal.aborted ? 'TIMEOUT' : 'PROTOCOL' }
  }
}

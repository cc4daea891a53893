/**
 * `/sotto/deliver/1`: a sealed envelope straight to the recipient's node, one per stream.
 *   request:  version(1) | 0x01 | envelope
 *   response: version(1) | 0x02 | verdict u8 (0 accepted, 1 duplicate, 2 refused, 3 locked)
 * The recipient answers only after it has committed the message and the new ratchet state
 * in one batch, so an ack means "stored". A malformed frame resets that stream and nothing
 * else (T1). Expected failures come back as values.
 */
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { concatBytes } from '../bytes.js'
import type { ComponentLogger } from '../log.js'
import { DELIVER_PROTOCOL, DELIVER_TIMEOUT_MS, FRAME_TIMEOUT_MS, MAX_DELIVER_FRAME, MAX_INBOUND_DELIVER_STREAMS, MAX_OUTBOUND_DELIVER_STREAMS } from './constants.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from './frames.js'

const TYPE_ENVELOPE = 0x01
const TYPE_ACK = 0x02
export const VERDICTS = ['accepted', 'duplicate', 'refused', 'locked'] as const
export type DeliverVerdict = typeof VERDICTS[number]

export type DeliverResult = { ok: true, verdict: 'accepted' | 'duplicate' } | { ok: false, error: 'NO_ROUTE' | 'TIMEOUT' | 'REFUSED' | 'LOCKED' | 'PROTOCOL' }

export interface DeliverServerInit {
  onEnvelope: (envelope: Uint8Array, from: PeerId) => Promise<DeliverVerdict>
  logger: ComponentLogger
  frameTimeoutMs?: number
}

export async function registerDeliver (libp2p: Libp2p, init: DeliverServerInit): Promise<void> {
  const timeout = init.frameTimeoutMs ?? FRAME_TIMEOUT_MS
  await libp2p.handle(DELIVER_PROTOCOL, (stream: Stream, connection: Connection) => {
    void serve(stream, connection.remotePeer).catch((err: unknown) => {
      // Garbage, oversize or too slow: reset this stream only.
      init.logger.debug('deliver stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
      stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    })
  }, { maxInboundStreams: MAX_INBOUND_DELIVER_STREAMS, maxOutboundStreams: MAX_OUTBOUND_DELIVER_STREAMS })

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
    const verdict = VERDICTS[body[1]]
    if (body[0] !== TYPE_ACK || verdict === undefined) return { ok: false, error: 'PROTOCOL' }
    if (verdict === 'accepted' || verdict === 'duplicate') return { ok: true, verdict }
    return { ok: false, error: verdict === 'locked' ? 'LOCKED' : 'REFUSED' }
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    return { ok: false, error: (err as FrameError).code === 'ERR_FRAME_TIMEOUT' || signal.aborted ? 'TIMEOUT' : 'PROTOCOL' }
  }
}

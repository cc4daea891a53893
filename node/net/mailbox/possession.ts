/**
 * `/sotto/mailbox-holds/1`: a mailbox proves that it holds an envelope, without sending it.
 * A holder that is about to let go of its copy asks each peer that claimed to take it; a peer
 * that answered "ok" to a put and kept nothing cannot answer (M6).
 *
 *   request: [v|0x01|mailbox(32)|id(16)|nonce(16)]  -> [v|0x81|status u8|digest(32)]
 *   digest  = SHA-256("sotto/mailbox-holds/v1" 0x00 || nonce || envelope)
 *   status  = 0 held (digest follows), 1 not held, 2 rate limited, 3 acked by its owner here
 *
 * Only someone who has the envelope can check the digest, and the fresh nonce stops a peer
 * from answering with a digest it kept instead of the envelope. The request names an
 * envelope id, which only those who held the envelope know; the answer reveals nothing else.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface'
import { concatBytes, equalBytes } from '../../bytes.js'
import type { ComponentLogger } from '../../log.js'
import { checkVersion, FrameError, FrameReader, FRAME_VERSION, writeFrame } from '../frames.js'
import { TokenBuckets } from '../token-bucket.js'
import { ENVELOPE_ID_LENGTH, MAILBOX_KEY_LENGTH } from './store.js'

export const MAILBOX_HOLDS_PROTOCOL = '/sotto/mailbox-holds/1'
const OP_HOLDS = 0x01
const REPLY = 0x80
const NONCE_LENGTH = 16
const DIGEST_CONTEXT = new TextEncoder().encode('sotto/mailbox-holds/v1\0')
const REQUEST_BYTES = 1 + 1 + MAILBOX_KEY_LENGTH + ENVELOPE_ID_LENGTH + NONCE_LENGTH
/** Each answer reads one envelope from disk and hashes it: a peer gets this many per second. */
export const HOLDS_PER_SECOND_PER_PEER = 20
export const HOLDS_BURST = 100
/** Concurrent inbound streams of this protocol per connection. */
export const MAX_INBOUND_HOLDS_STREAMS = 16
export const HOLDS_TIMEOUT_MS = 5_000

const STATUS = ['held', 'missing', 'RATE_LIMITED', 'gone'] as const
export type HoldsAnswer = typeof STATUS[number] | 'NO_ROUTE' | 'PROTOCOL' | 'WRONG_DIGEST'

export function possessionDigest (nonce: Uint8Array, envelope: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(DIGEST_CONTEXT).update(nonce).update(envelope).digest())
}

export interface HoldsServerInit {
  /** The envelope with this id held in this mailbox, or undefined. */
  lookup: (mailbox: Uint8Array, id: Uint8Array) => Promise<Uint8Array | undefined>
  /** True when the owner acked this envelope here (it was held, and delivered). */
  acked: (mailbox: Uint8Array, id: Uint8Array) => boolean
  logger: ComponentLogger
  now: () => number
}

export async function registerHolds (libp2p: Libp2p, init: HoldsServerInit): Promise<void> {
  const limiter = new TokenBuckets(init.now, HOLDS_PER_SECOND_PER_PEER, HOLDS_BURST)
  await libp2p.handle(MAILBOX_HOLDS_PROTOCOL, (stream: Stream, connection: Connection) => {
    void serve(stream, connection.remotePeer).catch((err: unknown) => {
      init.logger.debug('holds stream reset', { code: (err as FrameError).code ?? 'ERR_STREAM' })
      stream.abort(err instanceof Error ? err : new Error('holds failed'))
    })
  }, { maxInboundStreams: MAX_INBOUND_HOLDS_STREAMS, maxOutboundStreams: MAX_INBOUND_HOLDS_STREAMS })

  async function serve (stream: Stream, from: PeerId): Promise<void> {
    const frame = await new FrameReader(stream, REQUEST_BYTES, HOLDS_TIMEOUT_MS).read()
    if (frame === undefined) return
    const body = checkVersion(frame)
    if (body[0] !== OP_HOLDS || frame.length !== REQUEST_BYTES) throw new FrameError('ERR_FRAME_TYPE', 'expected a holds request')
    let status = 1
    let digest: Uint8Array = new Uint8Array(32)
    if (!limiter.take(from.toString())) status = 2
    else {
      const mailbox = body.subarray(1, 1 + MAILBOX_KEY_LENGTH)
      const id = body.subarray(1 + MAILBOX_KEY_LENGTH, 1 + MAILBOX_KEY_LENGTH + ENVELOPE_ID_LENGTH)
      const envelope = await init.lookup(mailbox, id)
      if (envelope === undefined && init.acked(mailbox, id)) status = 3
      if (envelope !== undefined) {
        status = 0
        digest = possessionDigest(body.subarray(1 + MAILBOX_KEY_LENGTH + ENVELOPE_ID_LENGTH), envelope)
      }
    }
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, REPLY | OP_HOLDS, status), digest))
    void stream.close().catch(() => {})
  }
}

/** Asks `peer` to prove it holds `envelope` in `mailbox`; expected failures are values. */
export async function askHolds (libp2p: Libp2p, peer: PeerId, mailbox: Uint8Array, id: Uint8Array, envelope: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<HoldsAnswer> {
  const signal = options.signal ?? AbortSignal.timeout(HOLDS_TIMEOUT_MS)
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, MAILBOX_HOLDS_PROTOCOL, { signal })
  } catch {
    return 'NO_ROUTE'
  }
  const nonce = new Uint8Array(randomBytes(NONCE_LENGTH))
  try {
    await writeFrame(stream, concatBytes(Uint8Array.of(FRAME_VERSION, OP_HOLDS), mailbox, id, nonce), { signal })
    const reply = await new FrameReader(stream, 64, HOLDS_TIMEOUT_MS).read()
    void stream.close().catch(() => {})
    if (reply === undefined) return 'PROTOCOL'
    const body = checkVersion(reply)
    const status = STATUS[body[1]]
    if (body[0] !== (REPLY | OP_HOLDS) || status === undefined || body.length !== 2 + 32) return 'PROTOCOL'
    if (status !== 'held') return status
    return equalBytes(body.subarray(2), possessionDigest(nonce, envelope)) ? 'held' : 'WRONG_DIGEST'
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('holds failed'))
    return 'PROTOCOL'
  }
}

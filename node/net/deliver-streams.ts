/**
 * The sending side of `/sotto/deliver/2`: one open stream per peer while a burst lasts.
 * Envelopes are pipelined on it (at most MAX_DELIVER_IN_FLIGHT before their acks) and the
 * recipient answers them in order, so the n-th answer is the n-th envelope's. The stream is
 * closed after DELIVER_SENDER_IDLE_MS without envelopes. When it fails (reset, ended, a
 * malformed answer, an ack late), every envelope still on it gets a failure and the next
 * envelope opens a new one: an envelope is "ok" only on its own ack. A peer that speaks
 * only `/sotto/deliver/1` gets one stream per envelope, as before.
 * One DeliverSender per libp2p node; `stop()` it when the node stops.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { SottoError } from '../errors.js'
import { DELIVER_PROTOCOL_V2, DELIVER_SENDER_IDLE_MS, DELIVER_TIMEOUT_MS, MAX_DELIVER_IN_FLIGHT } from './constants.js'
import { DELIVER_PROTOCOLS, dialDeliver, envelopeRequest, exchangeOne, parseAnswer, type DeliverResult } from './deliver.js'
import { encodeFrame, FrameError, FrameReader } from './frames.js'

export class DeliverStreamError extends SottoError {}

type Failure = Extract<DeliverResult, { ok: false }>

export interface DeliverSenderInit {
  libp2p: Libp2p
  /** Close a peer's stream after this long without envelopes. @default DELIVER_SENDER_IDLE_MS */
  idleMs?: number
  /** Envelopes on one stream before their acks. @default MAX_DELIVER_IN_FLIGHT */
  maxInFlight?: number
}

/** An envelope sent and not answered yet. A caller that gives up leaves it here: its answer, when it comes, only frees the room. */
interface InFlight {
  resolve: (result: DeliverResult) => void
}

/** One open /2 stream to one peer. */
interface Lane {
  readonly key: string
  readonly stream: Stream
  readonly reader: FrameReader
  /** Sent and not answered yet, in the order sent. */
  readonly inFlight: InFlight[]
  /** Envelopes waiting for a slot; woken when one frees or the lane fails. */
  readonly slotWaiters: Array<() => void>
  reading: boolean
  failed: boolean
  idle?: NodeJS.Timeout
}

const RETRIES = 3

export class DeliverSender {
  /** The lane new envelopes to a peer go on. */
  private readonly lanes = new Map<string, Lane>()
  /** Every lane not ended yet, including retired ones still waiting for acks. */
  private readonly live = new Set<Lane>()
  private readonly opening = new Map<string, Promise<Stream>>()
  private readonly stopper = new AbortController()

  constructor (private readonly init: DeliverSenderInit) {}

  /** Same contract as deliverEnvelope: an ack is `ok`; every failure is a value. */
  async deliver (peer: PeerId, addrs: Multiaddr[], envelope: Uint8Array, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<DeliverResult> {
    const timeoutMs = options.timeoutMs ?? DELIVER_TIMEOUT_MS
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopper.signal, ...(options.signal !== undefined ? [options.signal] : [])])
    // A lane that fails before this envelope is sent on it is no loss: try the next one.
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      if (this.stopper.signal.aborted) return { ok: false, error: 'NO_ROUTE' }
      let lane = this.lanes.get(peer.toString())
      if (lane === undefined || !usable(lane)) {
        let stream: Stream
        try {
          stream = await this.open(peer, addrs, timeoutMs)
        } catch {
          return { ok: false, error: signal.aborted && !this.stopper.signal.aborted ? 'TIMEOUT' : 'NO_ROUTE' }
        }
        if (stream.protocol !== DELIVER_PROTOCOL_V2) {
          // A /1 stream carries this one envelope; an older peer gets a stream per envelope.
          return await exchangeOne(stream, envelope, signal, timeoutMs)
        }
        // Envelopes that shared the dial find the lane the first of them made.
        const current = this.lanes.get(peer.toString())
        lane = current !== undefined && usable(current) ? current : this.adopt(peer.toString(), stream, timeoutMs)
        if (lane.stream !== stream) void stream.close().catch(() => {})
      }
      const result = await this.send(lane, envelope, signal)
      if (result !== 'retry') return result
    }
    return { ok: false, error: 'NO_ROUTE' }
  }

  /** Closes every stream; envelopes still on them fail, later ones are refused. */
  stop (): void {
    this.stopper.abort(new DeliverStreamError('ERR_SENDER_STOPPED', 'the node is stopping'))
    for (const lane of [...this.live]) this.fail(lane, { ok: false, error: 'NO_ROUTE' }, new DeliverStreamError('ERR_SENDER_STOPPED', 'the node is stopping'))
  }

  /** Streams open now, for tests and stats. */
  get openStreams (): number {
    return this.lanes.size
  }

  /** One dial per peer at a time: envelopes of a burst that start together share it. */
  private async open (peer: PeerId, addrs: Multiaddr[], timeoutMs: number): Promise<Stream> {
    const key = peer.toString()
    let pending = this.opening.get(key)
    if (pending === undefined) {
      // Shared, so not tied to one caller's signal: the dial has its own time limit.
      pending = dialDeliver(this.init.libp2p, peer, addrs, DELIVER_PROTOCOLS, AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopper.signal]))
      this.opening.set(key, pending)
      const forget = (): void => { if (this.opening.get(key) === pending) this.opening.delete(key) }
      pending.then(forget, forget)
      return await pending
    }
    const stream = await pending
    // A /1 stream is for the envelope that dialled it; another dials its own.
    return stream.protocol === DELIVER_PROTOCOL_V2 ? stream : await this.open(peer, addrs, timeoutMs)
  }

  private adopt (key: string, stream: Stream, timeoutMs: number): Lane {
    const lane: Lane = { key, stream, reader: new FrameReader(stream, 16, timeoutMs), inFlight: [], slotWaiters: [], reading: false, failed: false }
    const before = this.lanes.get(key)
    if (before !== undefined) this.retire(before)
    this.lanes.set(key, lane)
    this.live.add(lane)
    stream.addEventListener('close', () => { this.fail(lane, { ok: false, error: 'NO_ROUTE' }) })
    // The recipient closed its side (idle, or stopping): nothing new goes on this stream;
    // what is in flight still gets its acks, which come before the end.
    stream.addEventListener('remoteCloseWrite', () => {
      this.retire(lane)
      if (lane.inFlight.length === 0) this.close(lane)
    })
    this.idleLater(lane)
    return lane
  }

  private async send (lane: Lane, envelope: Uint8Array, signal: AbortSignal): Promise<DeliverResult | 'retry'> {
    this.busy(lane)
    // Room on the lane, first come first served. The last check and the send below run
    // without an await between them, so no other envelope takes the room in between.
    const maxInFlight = this.init.maxInFlight ?? MAX_DELIVER_IN_FLIGHT
    let queued = false
    while (!lane.failed && !signal.aborted && (lane.inFlight.length >= maxInFlight || (!queued && lane.slotWaiters.length > 0))) {
      await this.slot(lane, signal, queued)
      queued = true
    }
    if (signal.aborted) {
      // The room this envelope may have been woken for goes to the next in line.
      lane.slotWaiters.shift()?.()
      this.idleLater(lane)
      return { ok: false, error: this.stopper.signal.aborted ? 'NO_ROUTE' : 'TIMEOUT' }
    }
    if (!usable(lane)) return 'retry'
    try {
      // Not waiting for the drain: the in-flight bound bounds what waits in the buffer.
      lane.stream.send(encodeFrame(envelopeRequest(envelope)))
    } catch (err) {
      // Refused before any byte left: nothing of this envelope is on the stream.
      this.fail(lane, { ok: false, error: 'NO_ROUTE' }, err)
      return 'retry'
    }
    const item: InFlight = { resolve: () => {} }
    const answered = new Promise<DeliverResult>((resolve) => { item.resolve = resolve })
    lane.inFlight.push(item)
    void this.readAnswers(lane)
    const abandon = new Promise<Failure>((resolve) => {
      const onAbort = (): void => {
        resolve({ ok: false, error: this.stopper.signal.aborted ? 'NO_ROUTE' : 'TIMEOUT' })
      }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
      void answered.then(() => { signal.removeEventListener('abort', onAbort) })
    })
    return await Promise.race([answered, abandon])
  }

  /** Resolves when an ack frees room, the lane fails, or `signal` aborts. */
  private async slot (lane: Lane, signal: AbortSignal, again: boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      const wake = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => {
        const i = lane.slotWaiters.indexOf(wake)
        if (i >= 0) lane.slotWaiters.splice(i, 1)
        resolve()
      }
      // Woken once already and overtaken: back to the front, not the end.
      if (again) lane.slotWaiters.unshift(wake)
      else lane.slotWaiters.push(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Matches answers to envelopes in order while any are in flight. */
  private async readAnswers (lane: Lane): Promise<void> {
    if (lane.reading) return
    lane.reading = true
    try {
      while (lane.inFlight.length > 0 && !lane.failed) {
        // Each answer within the ack timeout of the one before (or of the first envelope).
        const frame = await lane.reader.read()
        if (frame === undefined) throw new DeliverStreamError('ERR_STREAM_ENDED', 'the recipient closed the stream with envelopes unanswered')
        const result = parseAnswer(frame)
        lane.inFlight.shift()?.resolve(result)
        lane.slotWaiters.shift()?.()
      }
    } catch (err) {
      const code = (err as FrameError).code
      const error = code === 'ERR_FRAME_TIMEOUT' ? 'TIMEOUT' : err instanceof FrameError ? 'PROTOCOL' : 'NO_ROUTE'
      this.fail(lane, { ok: false, error }, err)
    } finally {
      lane.reading = false
      this.idleLater(lane)
    }
  }

  /** The lane is done for: everything on it fails, waiters move to a new one. */
  private fail (lane: Lane, result: Failure, err?: unknown): void {
    if (lane.failed) return
    lane.failed = true
    this.retire(lane)
    this.live.delete(lane)
    clearTimeout(lane.idle)
    for (const item of lane.inFlight.splice(0)) item.resolve(result)
    for (const wake of lane.slotWaiters.splice(0)) wake()
    if (lane.stream.status === 'open') lane.stream.abort(err instanceof Error ? err : new DeliverStreamError('ERR_STREAM_FAILED', 'delivery stream failed'))
  }

  /** No new envelope goes on this lane; it ends once its acks are in. */
  private retire (lane: Lane): void {
    if (this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key)
    for (const wake of lane.slotWaiters.splice(0)) wake()
  }

  private busy (lane: Lane): void {
    clearTimeout(lane.idle)
    lane.idle = undefined
  }

  /** Closes the lane once nothing has used it for the idle time. */
  private idleLater (lane: Lane): void {
    if (lane.failed || lane.inFlight.length > 0 || lane.slotWaiters.length > 0) return
    // Retired (the recipient closed its side) and every ack in: nothing to wait for.
    if (this.lanes.get(lane.key) !== lane) {
      this.close(lane)
      return
    }
    clearTimeout(lane.idle)
    lane.idle = setTimeout(() => {
      if (lane.inFlight.length === 0 && lane.slotWaiters.length === 0) this.close(lane)
    }, this.init.idleMs ?? DELIVER_SENDER_IDLE_MS)
    lane.idle.unref()
  }

  /** Ends a lane with nothing in flight: our side closed, the recipient closes its own. */
  private close (lane: Lane): void {
    this.retire(lane)
    this.live.delete(lane)
    lane.failed = true
    clearTimeout(lane.idle)
    void lane.stream.close().catch(() => {})
  }
}

function usable (lane: Lane): boolean {
  return !lane.failed && lane.stream.status === 'open' && lane.stream.writeStatus === 'writable' && lane.stream.remoteWriteStatus === 'writable'
}

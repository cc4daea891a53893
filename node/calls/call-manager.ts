/**
 * The calls of one open account: their state per call id, and the relay of signalling
 * between this node's UI (node/api/call-routes.ts) and the peer's node (inside the 1:1
 * session, delivered directly only). The node never touches media: the browsers connect to
 * each other with WebRTC (DTLS-SRTP); what passes here is SDP, ICE candidates and the
 * decision to ring.
 *
 * What rings (R18): an offer from an accepted contact, delivered directly (a copy from a
 * mailbox is dropped), dated within OFFER_MAX_AGE_MS of our clock, with a call id not seen
 * before. Anything else is dropped without a word to the sender, so a replayed, stale or
 * stranger's offer learns nothing.
 */
import { randomBytes } from 'node:crypto'
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import type { DeliveryResult } from '../messaging/ports.js'
import type { SecureStore } from '../store/types.js'
import { CallLog, type CallDirection, type CallRecord, type EndReason } from './call-log.js'
import { CALL_DELIVER_TIMEOUT_MS, MAX_BUFFERED_CANDIDATES, MAX_SEEN_CALLS, OFFER_MAX_AGE_MS, OFFER_MAX_FUTURE_MS, RING_TIMEOUT_MS, SEEN_CALL_MS } from './constants.js'
import { CallError } from './errors.js'
import { parseCandidates, parseSdp, type CallSignal, type IceCandidate } from './signal.js'

/** `calling`: the offer is on its way; `ringing`: it reached the callee's node (or rings here); `active`: answered. */
export type CallState = 'calling' | 'ringing' | 'active' | 'ended'

export interface CallView {
  id: string
  peer: SessionId
  direction: CallDirection
  video: boolean
  state: CallState
  reason?: EndReason
  startedAt: number
  answeredAt?: number
  endedAt?: number
}

/** A call with what its UI needs to (re)build its connection: the peer's SDP and candidates. */
export interface CallDetail extends CallView {
  /** The peer's SDP: their offer (incoming) or their answer (outgoing, once answered). */
  remoteSdp?: string
  candidates: IceCandidate[]
}

export type CallEvent =
  /** A call changed state. `sdp`: the peer's offer when an incoming call rings, their answer when ours is answered. */
  | { type: 'call', call: CallView, sdp?: string }
  | { type: 'call-candidates', id: string, peer: SessionId, candidates: IceCandidate[] }

/** Why an incoming signal was dropped, for the log and the tests (never told to the sender). */
export type DropReason = 'mailbox' | 'not-contact' | 'too-old' | 'from-future' | 'replayed' | 'unknown-call' | 'wrong-state'

export interface CallManagerInit {
  /** Seals a signal for the peer and delivers it to their device directly, never via a mailbox. */
  send: (peer: SessionId, signal: CallSignal, options: { signal?: AbortSignal }) => Promise<DeliveryResult>
  /** The contact's state, or undefined for a stranger: only accepted contacts ring. */
  contactState: (peer: SessionId) => Promise<'accepted' | 'request' | 'blocked' | undefined>
  store: SecureStore
  logger: ComponentLogger
  now: () => number
  onEvent: (event: CallEvent) => void
  /** @default RING_TIMEOUT_MS */
  ringTimeoutMs?: number
  /** @default CALL_DELIVER_TIMEOUT_MS */
  deliverTimeoutMs?: number
  /** Told of every dropped signal (tests). */
  onDropped?: (reason: DropReason, signal: CallSignal) => void
}

interface Call extends CallView {
  remoteSdp?: string
  candidates: IceCandidate[]
  timer?: NodeJS.Timeout
}

/** Ended calls kept in memory for a late GET /api/calls/:id. */
const MAX_RECENT_ENDED = 32

export class CallManager {
  readonly log: CallLog
  private readonly open = new Map<string, Call>()
  private readonly ended = new Map<string, Call>()
  /** Call ids of offers seen, with when: an id rings once (R18). */
  private readonly seen = new Map<string, number>()
  private stopped = false

  constructor (private readonly init: CallManagerInit) {
    this.log = new CallLog(init.store)
  }

  // ---- from this node's UI ----

  /** Calls an accepted contact with the UI's offer; answers once the offer reached their device, or did not (`unavailable`). */
  async start (peer: SessionId, options: { video: boolean, sdp: unknown }): Promise<CallView> {
    const sdp = this.sdpOf(options.sdp)
    if (await this.init.contactState(peer) !== 'accepted') throw new CallError('ERR_NOT_CONTACT', 'only accepted contacts can be called')
    if (this.open.size > 0) throw new CallError('ERR_CALL_BUSY', 'another call is in progress; hang it up first')
    const now = this.init.now()
    const call: Call = { id: randomBytes(16).toString('hex'), peer, direction: 'out', video: options.video, state: 'calling', startedAt: now, candidates: [] }
    this.open.set(call.id, call)
    this.emit(call)
    const result = await this.deliver(peer, { kind: 'offer', id: call.id, sdp, video: call.video, sentAt: now })
    if (call.state !== 'calling') return this.view(call)
    if (!result.ok) {
      this.init.logger.info('a call could not reach the contact directly', { error: result.error })
      await this.end(call, 'unavailable')
    } else {
      call.state = 'ringing'
      this.ringUntil(call)
      this.emit(call)
    }
    return this.view(call)
  }

  /** Answers a ringing incoming call with the UI's answer. */
  async answer (id: string, sdpRaw: unknown): Promise<CallView> {
    const sdp = this.sdpOf(sdpRaw)
    const call = this.openCall(id)
    if (call.direction !== 'in' || call.state !== 'ringing') throw new CallError('ERR_CALL_STATE', 'this call is not ringing here')
    call.state = 'active'
    call.answeredAt = this.init.now()
    this.clearTimer(call)
    this.emit(call)
    const result = await this.deliver(call.peer, { kind: 'answer', id, sdp })
    if (!result.ok && call.state === 'active') await this.end(call, 'failed')
    return this.view(call)
  }

  /** Declines a ringing incoming call. The decline goes out in the background. */
  async decline (id: string): Promise<CallView> {
    const call = this.openCall(id)
    if (call.direction !== 'in' || call.state !== 'ringing') throw new CallError('ERR_CALL_STATE', 'this call is not ringing here')
    await this.end(call, 'declined')
    this.sendLater(call.peer, { kind: 'decline', id })
    return this.view(call)
  }

  /** Ends a call from this side, whatever its state (a ringing incoming one is declined). */
  async hangup (id: string): Promise<CallView> {
    const call = this.open.get(id)
    if (call === undefined) {
      const done = this.ended.get(id)
      if (done !== undefined) return this.view(done)
      throw new CallError('ERR_UNKNOWN_CALL', 'no such call')
    }
    if (call.direction === 'in' && call.state === 'ringing') return await this.decline(id)
    await this.end(call, call.state === 'active' ? 'hangup' : 'cancelled')
    this.sendLater(call.peer, { kind: 'hangup', id })
    return this.view(call)
  }

  /** Our ICE candidates for the peer (trickled after the offer or answer). */
  async addCandidates (id: string, raw: unknown): Promise<void> {
    let candidates: IceCandidate[]
    try {
      candidates = parseCandidates(raw)
    } catch {
      throw new CallError('ERR_BAD_REQUEST', '"candidates" is a list of 1 to 32 ICE candidates')
    }
    const call = this.openCall(id)
    const result = await this.deliver(call.peer, { kind: 'ice', id, candidates })
    if (!result.ok) throw new CallError('ERR_CALL_UNAVAILABLE', 'the contact could not be reached')
  }

  /** A call (open or recently ended) with the peer's SDP and candidates. */
  get (id: string): CallDetail {
    const call = this.open.get(id) ?? this.ended.get(id)
    if (call === undefined) throw new CallError('ERR_UNKNOWN_CALL', 'no such call')
    return { ...this.view(call), ...(call.remoteSdp === undefined ? {} : { remoteSdp: call.remoteSdp }), candidates: [...call.candidates] }
  }

  /** Calls not ended yet. */
  current (): CallView[] {
    return [...this.open.values()].map((c) => this.view(c))
  }

  /** The peer's finished calls, oldest first. */
  async history (peer: SessionId): Promise<CallRecord[]> {
    return await this.log.of(peer)
  }

  /** Ends every open call locally (the account closes); the peers learn it from the hangups sent. */
  stop (): void {
    this.stopped = true
    for (const call of this.open.values()) {
      this.clearTimer(call)
      if (call.state !== 'ended') this.sendLater(call.peer, { kind: call.direction === 'in' && call.state === 'ringing' ? 'decline' : 'hangup', id: call.id })
    }
    this.open.clear()
  }

  // ---- from the peer ----

  /** A call signal that opened in the session with `from` (the ratchet authenticated it). */
  async receive (from: SessionId, signal: CallSignal, via: 'direct' | 'mailbox'): Promise<void> {
    if (this.stopped) return
    // A call is now or never: a copy that waited in a mailbox is stale by design (R18).
    if (via === 'mailbox') { this.dropped('mailbox', signal); return }
    if (signal.kind === 'offer') { await this.offered(from, signal); return }
    const call = this.open.get(signal.id)
    // Only the call's own peer speaks for it: another contact cannot end or steer it.
    if (call === undefined || call.peer !== from) { this.dropped('unknown-call', signal); return }
    switch (signal.kind) {
      case 'answer':
        if (call.direction !== 'out' || (call.state !== 'ringing' && call.state !== 'calling')) { this.dropped('wrong-state', signal); return }
        call.state = 'active'
        call.answeredAt = this.init.now()
        call.remoteSdp = signal.sdp
        this.clearTimer(call)
        this.emit(call, signal.sdp)
        return
      case 'ice': {
        const room = MAX_BUFFERED_CANDIDATES - call.candidates.length
        if (room > 0) call.candidates.push(...signal.candidates.slice(0, room))
        this.init.onEvent({ type: 'call-candidates', id: call.id, peer: call.peer, candidates: signal.candidates })
        return
      }
      case 'hangup':
        await this.end(call, call.state === 'active' ? 'hangup' : call.direction === 'in' ? 'missed' : 'declined')
        return
      case 'decline':
      case 'busy':
        if (call.direction !== 'out' || call.state === 'active') { this.dropped('wrong-state', signal); return }
        await this.end(call, signal.kind === 'busy' ? 'busy' : 'declined')
    }
  }

  private async offered (from: SessionId, offer: Extract<CallSignal, { kind: 'offer' }>): Promise<void> {
    if (await this.init.contactState(from) !== 'accepted') { this.dropped('not-contact', offer); return }
    const now = this.init.now()
    if (now - offer.sentAt > OFFER_MAX_AGE_MS) { this.dropped('too-old', offer); return }
    if (offer.sentAt - now > OFFER_MAX_FUTURE_MS) { this.dropped('from-future', offer); return }
    this.forgetOldSeen(now)
    if (this.seen.has(offer.id) || this.open.has(offer.id) || this.ended.has(offer.id)) { this.dropped('replayed', offer); return }
    this.seen.set(offer.id, now)
    const call: Call = { id: offer.id, peer: from, direction: 'in', video: offer.video, state: 'ringing', startedAt: now, remoteSdp: offer.sdp, candidates: [] }
    if (this.open.size > 0) {
      // In another call (one at a time): the caller hears "busy", and this one shows as missed here.
      this.sendLater(from, { kind: 'busy', id: offer.id })
      await this.end(call, 'missed', false)
      return
    }
    this.open.set(call.id, call)
    this.ringUntil(call)
    this.emit(call, offer.sdp)
  }

  // ---- inside ----

  private sdpOf (raw: unknown): string {
    try {
      return parseSdp(raw)
    } catch {
      throw new CallError('ERR_BAD_REQUEST', '"sdp" is a session description (v=0 …) of at most 16 KiB')
    }
  }

  private openCall (id: string): Call {
    const call = this.open.get(id)
    if (call === undefined) throw new CallError(this.ended.has(id) ? 'ERR_CALL_STATE' : 'ERR_UNKNOWN_CALL', this.ended.has(id) ? 'this call has ended' : 'no such call')
    return call
  }

  /** Sends a signal directly, giving up after the deliver timeout: a failure is a value. */
  private async deliver (peer: SessionId, signal: CallSignal): Promise<DeliveryResult> {
    const controller = new AbortController()
    const ms = this.init.deliverTimeoutMs ?? CALL_DELIVER_TIMEOUT_MS
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<DeliveryResult>((resolve) => {
      timer = setTimeout(() => { controller.abort(); resolve({ ok: false, error: 'TIMEOUT' }) }, ms)
    })
    try {
      return await Promise.race([this.init.send(peer, signal, { signal: controller.signal }).catch((err: unknown) => ({ ok: false as const, error: (err as { code?: string }).code ?? 'ERR_SEND' })), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private sendLater (peer: SessionId, signal: CallSignal): void {
    void this.deliver(peer, signal).then((r) => { if (!r.ok) this.init.logger.debug('a call signal did not reach the contact', { kind: signal.kind, error: r.error }) })
  }

  private ringUntil (call: Call): void {
    call.timer = setTimeout(() => {
      if (call.state !== 'ringing' && call.state !== 'calling') return
      if (call.direction === 'out') this.sendLater(call.peer, { kind: 'hangup', id: call.id })
      void this.end(call, call.direction === 'in' ? 'missed' : 'no-answer').catch(() => {})
    }, this.init.ringTimeoutMs ?? RING_TIMEOUT_MS)
    call.timer.unref()
  }

  private clearTimer (call: Call): void {
    if (call.timer !== undefined) clearTimeout(call.timer)
    call.timer = undefined
  }

  /** Ends a call here: it leaves the open calls, its line goes to the call log, the UI is told. */
  private async end (call: Call, reason: EndReason, wasOpen = true): Promise<void> {
    if (call.state === 'ended') return
    this.clearTimer(call)
    call.state = 'ended'
    call.reason = reason
    call.endedAt = this.init.now()
    if (wasOpen) this.open.delete(call.id)
    this.ended.set(call.id, call)
    while (this.ended.size > MAX_RECENT_ENDED) this.ended.delete(this.ended.keys().next().value as string)
    const record: CallRecord = { id: call.id, peer: call.peer, direction: call.direction, video: call.video, reason, startedAt: call.startedAt, endedAt: call.endedAt, ...(call.answeredAt === undefined ? {} : { answeredAt: call.answeredAt }) }
    await this.log.add(record).catch((err: unknown) => { this.init.logger.warn('could not keep a call in the log', { code: (err as { code?: string }).code ?? 'ERR_STORE' }) })
    // Told once its line is in the log, so a UI that reloads the log on "ended" finds it.
    this.emit(call)
  }

  private forgetOldSeen (now: number): void {
    for (const [id, at] of this.seen) {
      if (now - at <= SEEN_CALL_MS && this.seen.size <= MAX_SEEN_CALLS) break
      this.seen.delete(id)
    }
  }

  private dropped (reason: DropReason, signal: CallSignal): void {
    this.init.logger.debug('dropped a call signal', { reason, kind: signal.kind })
    this.init.onDropped?.(reason, signal)
  }

  private view (call: Call): CallView {
    const { remoteSdp: _sdp, candidates: _c, timer: _t, ...view } = call
    return { ...view }
  }

  private emit (call: Call, sdp?: string): void {
    try { this.init.onEvent({ type: 'call', call: this.view(call), ...(sdp === undefined ? {} : { sdp }) }) } catch { /* a listener's failure is not the call's */ }
  }
}

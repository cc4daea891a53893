/**
 * Parties for in-process call tests: real messengers on real sessions (test/messaging's
 * pattern), each with a CallManager wired as the account wires it. The transport hands
 * envelopes straight to the recipient, directly (`deliverDirect`) or as a mailbox copy
 * (`deliver`, counted: a call must never take that path), or fails as the network would.
 */
import { SessionManager } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { silentLogger } from '../../node/log.js'
import { Messenger } from '../../node/messaging/messenger.js'
import type { EnvelopeTransport, SessionCrypto } from '../../node/messaging/ports.js'
import { createMemoryStore } from '../../node/store/memory.js'
import { CallManager, type CallEvent, type DropReason } from '../../node/calls/call-manager.js'
import type { CallSignal } from '../../node/calls/signal.js'

export interface CallParty {
  id: SessionId
  messenger: Messenger
  manager: SessionManager
  calls: CallManager
  events: CallEvent[]
  dropped: Array<{ reason: DropReason, signal: CallSignal }>
  /** Resolves with the first event (seen or to come) that matches. */
  event: (what: string, match: (e: CallEvent) => boolean) => Promise<CallEvent>
  /** Resolves when `count` signals (default 1) were dropped for this reason: with the last of them. */
  drop: (reason: DropReason, count?: number) => Promise<CallSignal>
  /** Resolves when the call rang here. */
  ringing: (id: string) => Promise<void>
  /** Calls that rang here (incoming `ringing` events). */
  rang: () => string[]
}

export class CallWorld {
  readonly records = new Map<string, Uint8Array>()
  /** Who cannot be reached at all. */
  readonly offline = new Set<string>()
  /** Envelopes that took the mailbox path (`deliver`): calls must leave this at 0. */
  mailboxed = 0
  /** The clock every party reads; tests move it. */
  clock = Date.now()
  private readonly parties = new Map<string, CallParty>()

  readonly transport: EnvelopeTransport = {
    deliver: async (peer, envelope) => {
      this.mailboxed++
      const to = this.parties.get(peer)
      if (to === undefined) return { ok: false, error: 'UNREACHABLE' }
      await to.messenger.receive(envelope, 'mailbox')
      return { ok: true, via: 'mailbox', mailboxes: 1, expiresAt: 1 }
    },
    deliverDirect: async (peer, envelope) => {
      const to = this.parties.get(peer)
      if (to === undefined || this.offline.has(peer)) return { ok: false, error: 'UNREACHABLE' }
      const verdict = await to.messenger.receive(envelope, 'direct')
      if (verdict === 'refused' || verdict === 'rejected') return { ok: false, error: 'REFUSED' }
      return { ok: true, via: 'direct' }
    }
  }

  async party (seedByte: number, init: { ringTimeoutMs?: number } = {}): Promise<CallParty> {
    const identity = deriveIdentity(new Uint8Array(16).fill(seedByte))
    const store = createMemoryStore()
    const manager = new SessionManager({ identity, store, now: () => this.clock, fetchRecord: async (p) => this.records.get(p) })
    const crypto: SessionCrypto = {
      seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
      open: async (envelope, commit) => await manager.open(envelope, commit),
      hasSession: async (peer) => await manager.hasSession(peer),
      reset: async (peer) => { await manager.resetSession(peer) }
    }
    const events: CallEvent[] = []
    const dropped: Array<{ reason: DropReason, signal: CallSignal }> = []
    const waiters = new Set<() => void>()
    const wake = (): void => { for (const w of waiters) w() }
    let calls: CallManager | undefined
    const messenger = new Messenger({
      self: identity.sessionId,
      store,
      crypto,
      transport: this.transport,
      logger: silentLogger.forComponent('t'),
      now: () => this.clock,
      receiptDelayMs: () => 0,
      calls: (from, signal, via) => { void calls?.receive(from, signal, via) }
    })
    calls = new CallManager({
      send: async (peer, signal, options) => await messenger.sendCallSignal(peer, signal, options),
      contactState: async (peer) => (await messenger.contacts.get(peer))?.state,
      store,
      logger: silentLogger.forComponent('t'),
      now: () => this.clock,
      onEvent: (e) => { events.push(e); wake() },
      onDropped: (reason, signal) => { dropped.push({ reason, signal }); wake() },
      ...(init.ringTimeoutMs === undefined ? {} : { ringTimeoutMs: init.ringTimeoutMs }),
      deliverTimeoutMs: 2_000
    })
    await manager.prekeys.maintain()
    this.records.set(identity.sessionId, await manager.prekeys.buildRecord(new Uint8Array(4)))
    const waitFor = async <T>(what: string, find: () => T | undefined): Promise<T> => {
      const found = find()
      if (found !== undefined) return found
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${what}`)) }, 5_000)
        const check = (): void => {
          const v = find()
          if (v !== undefined) { clearTimeout(timer); waiters.delete(check); resolve(v) }
        }
        waiters.add(check)
      })
    }
    const party: CallParty = {
      id: identity.sessionId as SessionId,
      messenger,
      manager,
      calls,
      events,
      dropped,
      event: async (what, match) => await waitFor(what, () => events.find(match)),
      drop: async (reason, count = 1) => await waitFor(`${count} signal(s) dropped as ${reason}`, () => { const d = dropped.filter((x) => x.reason === reason); return d.length >= count ? d[count - 1].signal : undefined }),
      ringing: async (id) => { await waitFor(`call ${id} to ring`, () => events.find((e) => e.type === 'call' && e.call.id === id && e.call.state === 'ringing')) },
      rang: () => events.filter((e) => e.type === 'call' && e.call.direction === 'in' && e.call.state === 'ringing').map((e) => (e as Extract<CallEvent, { type: 'call' }>).call.id)
    }
    this.parties.set(identity.sessionId, party)
    return party
  }

  stop (): void {
    for (const p of this.parties.values()) { p.calls.stop(); p.messenger.stop() }
  }
}

/** A well-formed SDP for the tests (the node only relays it; browsers parse it). */
export function fakeSdp (fingerprint = 'AB:CD:EF'): string {
  return `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 ${fingerprint}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n`
}

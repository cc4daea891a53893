/**
 * Messengers for in-process tests: real SessionManagers on real sealed stores (in memory),
 * records handed over in a map, and a transport that hands each envelope straight to the
 * recipient's messenger, or fails the way the network would (per recipient, switchable).
 */
import { SessionManager } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { silentLogger } from '../../node/log.js'
import { Messenger } from '../../node/messaging/messenger.js'
import type { EnvelopeTransport, MessengerEvent, SessionCrypto } from '../../node/messaging/ports.js'
import { createMemoryStore } from '../../node/store/memory.js'

/** How the network treats envelopes to one party. */
export type Reach = 'direct' | 'mailbox' | 'unreachable' | 'refuse'

export interface Party {
  id: SessionId
  messenger: Messenger
  manager: SessionManager
  events: MessengerEvent[]
  /** Resolves with the first event (already seen or still to come) that matches. */
  event: <T extends MessengerEvent>(what: string, match: (e: MessengerEvent) => e is T) => Promise<T>
}

export class World {
  readonly records = new Map<string, Uint8Array>()
  readonly reach = new Map<string, Reach>()
  private readonly parties = new Map<string, Party>()

  readonly transport: EnvelopeTransport = {
    deliver: async (peer, envelope) => {
      const reach = this.reach.get(peer) ?? 'direct'
      const to = this.parties.get(peer)
      if (reach === 'unreachable' || to === undefined) return { ok: false, error: 'UNREACHABLE' }
      if (reach === 'refuse') return { ok: false, error: 'REFUSED' }
      const verdict = await to.messenger.receive(envelope, reach === 'mailbox' ? 'mailbox' : 'direct')
      if (verdict === 'refused' || verdict === 'rejected') return { ok: false, error: 'REFUSED' }
      return reach === 'mailbox' ? { ok: true, via: 'mailbox', mailboxes: 3, expiresAt: 1 } : { ok: true, via: 'direct' }
    }
  }

  async party (seedByte: number): Promise<Party> {
    const identity = deriveIdentity(new Uint8Array(16).fill(seedByte))
    const store = createMemoryStore()
    const manager = new SessionManager({ identity, store, now: Date.now, fetchRecord: async (p) => this.records.get(p) })
    const crypto: SessionCrypto = {
      seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
      open: async (envelope, commit) => await manager.open(envelope, commit),
      hasSession: async (peer) => await manager.hasSession(peer),
      reset: async (peer) => { await manager.resetSession(peer) }
    }
    const events: MessengerEvent[] = []
    const waiters = new Set<() => void>()
    const messenger = new Messenger({
      self: identity.sessionId,
      store,
      crypto,
      transport: this.transport,
      logger: silentLogger.forComponent('t'),
      receiptDelayMs: () => 0,
      onEvent: (e) => { events.push(e); for (const w of waiters) w() }
    })
    await manager.prekeys.maintain()
    this.records.set(identity.sessionId, await manager.prekeys.buildRecord(new Uint8Array(4)))
    const party: Party = {
      id: identity.sessionId as SessionId,
      messenger,
      manager,
      events,
      async event (what, match) {
        const found = events.find(match)
        if (found !== undefined) return found
        return await new Promise((resolve, reject) => {
          const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${what}`)) }, 5_000)
          const check = (): void => {
            const e = events.find(match)
            if (e !== undefined) { clearTimeout(timer); waiters.delete(check); resolve(e) }
          }
          waiters.add(check)
        })
      }
    }
    this.parties.set(identity.sessionId, party)
    return party
  }

  stop (): void {
    for (const p of this.parties.values()) p.messenger.stop()
  }
}

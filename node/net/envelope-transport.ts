/**
 * Delivery policy for one sealed envelope: straight to the recipient's device when its
 * record says where it is and it answers, else into the mailboxes closest to the
 * recipient's mailbox key. The wire exchanges live in deliver.ts (deliver-streams.ts keeps
 * one stream per peer during a burst) and mailbox/protocol.ts;
 * this module only decides which to try and in what order. Failures come back as values.
 */
import type { SottoLibp2p } from './libp2p.js'
import { sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import { DeliverSender } from './deliver-streams.js'
import { mailboxKeyFor } from './mailbox/proof.js'
import { putInMailboxes } from './mailbox/placement.js'
import type { MailboxReputation } from './mailbox/reputation.js'
import type { Routing } from './routing.js'

/** How long a contact's routing (PeerId, addresses) is reused before asking the DHT again. */
export const ROUTING_CACHE_MS = 5 * 60_000
/** Contacts whose routing is cached; the oldest entry goes first. */
export const MAX_CACHED_ROUTES = 1_000

export type EnvelopeDelivery =
  | { ok: true, via: 'direct' | 'mailbox', mailboxes?: number, expiresAt?: number }
  | { ok: false, error: 'REFUSED' | 'PROTOCOL' | 'UNREACHABLE' }

export interface EnvelopeTransportInit {
  libp2p: SottoLibp2p
  /** Which mailboxes proved reliable before; senders add copies on trusted ones. */
  reputation?: MailboxReputation
  /** The recipient's routing from its current record in the DHT, or undefined when none is found. */
  lookupRouting: (peer: SessionId) => Promise<Routing | undefined>
  log: ComponentLogger
  now: () => number
  /** Keeps one delivery stream per peer during a burst; one per libp2p node. @default a new one on `libp2p` */
  sender?: DeliverSender
}

export class EnvelopeTransport {
  private readonly routes = new Map<string, { routing: Routing, at: number }>()
  private readonly sender: DeliverSender

  constructor (private readonly init: EnvelopeTransportInit) {
    this.sender = init.sender ?? new DeliverSender({ libp2p: init.libp2p })
  }

  /** Closes the open delivery streams; call before the libp2p node stops. */
  stop (): void {
    this.sender.stop()
  }

  /** `ttlMs`: how long mailboxes may keep it at most (a disappearing message's time left). */
  async deliver (peer: SessionId, envelope: Uint8Array, options: { signal?: AbortSignal, ttlMs?: number } = {}): Promise<EnvelopeDelivery> {
    // A cached route first; when the device does not answer there, a fresh lookup (it may have moved).
    for (const fresh of [false, true]) {
      const routing = await this.routingOf(peer, fresh)
      if (routing === undefined) break
      const result = await this.sender.deliver(routing.peerId, routing.addrs, envelope, { signal: options.signal })
      if (result.ok) return { ok: true, via: 'direct' }
      if (result.error === 'REFUSED' || result.error === 'PROTOCOL') return { ok: false, error: result.error }
      // Locked (cannot decrypt now) or rate limited (busy with us): the mailboxes hold it meanwhile.
      if (result.error === 'LOCKED' || result.error === 'RATE_LIMITED') break
    }
    // Not reachable now (offline, or its account is locked): leave it sealed with the mailboxes.
    const stored = await putInMailboxes(this.init.libp2p, mailboxKeyFor(sessionIdToX25519(peer)), envelope, this.init.reputation, options.ttlMs)
    if (stored.refused.length > 0) this.init.log.info('some mailboxes refused an envelope', { refused: stored.refused })
    return stored.count > 0
      ? { ok: true, via: 'mailbox', mailboxes: stored.count, expiresAt: stored.expiresAt }
      : { ok: false, error: 'UNREACHABLE' }
  }

  /**
   * To the recipient's device or not at all, never into a mailbox: for what is worthless
   * later (call signalling, R18). Routes as deliver() does: the cached one, then a fresh
   * lookup. Not reachable, locked or busy: UNREACHABLE, at once.
   */
  async deliverDirect (peer: SessionId, envelope: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<EnvelopeDelivery> {
    for (const fresh of [false, true]) {
      if (options.signal?.aborted === true) break
      const routing = await this.routingOf(peer, fresh)
      if (routing === undefined) break
      const result = await this.sender.deliver(routing.peerId, routing.addrs, envelope, options)
      if (result.ok) return { ok: true, via: 'direct' }
      if (result.error === 'REFUSED' || result.error === 'PROTOCOL') return { ok: false, error: result.error }
      if (result.error === 'LOCKED' || result.error === 'RATE_LIMITED') break
    }
    return { ok: false, error: 'UNREACHABLE' }
  }

  private async routingOf (peer: SessionId, fresh: boolean): Promise<Routing | undefined> {
    const cached = this.routes.get(peer)
    if (!fresh && cached !== undefined && this.init.now() - cached.at < ROUTING_CACHE_MS) return cached.routing
    const routing = await this.init.lookupRouting(peer).catch(() => undefined)
    if (routing === undefined) return undefined
    this.routes.delete(peer)
    if (this.routes.size >= MAX_CACHED_ROUTES) this.routes.delete(this.routes.keys().next().value as string)
    this.routes.set(peer, { routing, at: this.init.now() })
    return routing
  }
}

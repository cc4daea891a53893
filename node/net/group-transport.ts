/**
 * The network side of group messages (docs/GROUPS.md §4): gossipsub topics (named by the
 * group layer from the group's secret), direct copies over `/sotto/deliver/1` for members
 * the sender sees no subscription from, and group mailboxes: puts like any envelope's, and
 * fetches with the mailbox protocol's owner proofs (keyed by the group layer). It carries
 * bytes only; which topic, mailbox or key is the group layer's business.
 */
import type { PeerId } from '@libp2p/interface'
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import { deliverEnvelope } from './deliver.js'
import type { DeliverSender } from './deliver-streams.js'
import type { SottoLibp2p } from './libp2p.js'
import { DEFAULT_TTL_MS, MAX_FETCH_PAGES } from './mailbox/constants.js'
import { closestPeersWalk, MAILBOX_COLLECT_PEERS, putInMailboxes } from './mailbox/placement.js'
import { fetchPage, putEnvelope, type ProofSigner } from './mailbox/protocol.js'
import type { MailboxCursor } from './mailbox/store.js'
import type { Routing } from './routing.js'

export interface GroupTransportInit {
  libp2p: SottoLibp2p
  /** A member's routing (PeerId, addresses) from its record, cached by the caller. */
  lookupRouting: (member: SessionId) => Promise<Routing | undefined>
  log: ComponentLogger
  /** The node's delivery streams (one per peer during a burst), shared with 1:1 delivery; without it, a stream per envelope. */
  sender?: DeliverSender
}

export interface HeldCopy { envelope: Uint8Array, expiresAt: number, id: string }

/** A member's routing is reused this long before the DHT is asked again (as for 1:1 delivery). */
export const GROUP_ROUTING_CACHE_MS = 5 * 60_000
const MAX_CACHED_ROUTES = 1_000
/**
 * The holders of a group mailbox are reused this long (a DHT walk per message was most of a
 * sender's bytes, measured: bench:groups); the holders' own rebalancing moves copies on if the
 * closest peers change meanwhile, as for all mail.
 */
export const GROUP_HOLDERS_CACHE_MS = 5 * 60_000
const MAX_CACHED_HOLDERS = 256

export class GroupTransport {
  private readonly routes = new Map<string, { routing: Routing | undefined, at: number }>()
  private readonly holders = new Map<string, { peers: PeerId[], at: number }>()
  private readonly handlers = new Map<string, (data: Uint8Array) => void>()
  private readonly onMessage = (event: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    const handler = this.handlers.get(event.detail.topic)
    if (handler !== undefined) handler(event.detail.data)
  }

  constructor (private readonly init: GroupTransportInit) {
    init.libp2p.services.pubsub.addEventListener('message', this.onMessage as unknown as EventListener)
  }

  subscribe (topic: string, handler: (data: Uint8Array) => void): void {
    if (this.handlers.has(topic)) { this.handlers.set(topic, handler); return }
    this.handlers.set(topic, handler)
    this.init.libp2p.services.pubsub.subscribe(topic)
  }

  unsubscribe (topic: string): void {
    if (!this.handlers.delete(topic)) return
    this.init.libp2p.services.pubsub.unsubscribe(topic)
  }

  /** Publishes to the topic's mesh; resolves with the PeerIds it went to. */
  async publish (topic: string, data: Uint8Array): Promise<string[]> {
    try {
      const r = await this.init.libp2p.services.pubsub.publish(topic, data)
      return r.recipients.map((p) => p.toString())
    } catch (err) {
      this.init.log.debug('group publish failed', { code: (err as { name?: string }).name ?? 'ERR' })
      return []
    }
  }

  /** PeerIds of connected peers subscribed to the topic (the ones gossip reaches for sure). */
  subscribers (topic: string): Set<string> {
    return new Set(this.init.libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString()))
  }

  async peerIdOf (member: SessionId): Promise<string | undefined> {
    return (await this.routingOf(member))?.peerId.toString()
  }

  private async routingOf (member: SessionId, fresh = false): Promise<Routing | undefined> {
    const cached = this.routes.get(member)
    if (!fresh && cached !== undefined && Date.now() - cached.at < GROUP_ROUTING_CACHE_MS) return cached.routing
    const routing = await this.init.lookupRouting(member).catch(() => undefined)
    this.routes.delete(member)
    if (this.routes.size >= MAX_CACHED_ROUTES) this.routes.delete(this.routes.keys().next().value as string)
    if (routing !== undefined) this.routes.set(member, { routing, at: Date.now() })
    return routing
  }

  /** A copy straight to a member's device; false when it did not take it. */
  async deliverDirect (member: SessionId, data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    for (const fresh of [false, true]) {
      const routing = await this.routingOf(member, fresh)
      if (routing === undefined) return false
      const r = this.init.sender !== undefined
        ? await this.init.sender.deliver(routing.peerId, routing.addrs, data, options)
        : await deliverEnvelope(this.init.libp2p, routing.peerId, routing.addrs, data, options)
      if (r.ok) return true
      if (r.error !== 'NO_ROUTE' && r.error !== 'TIMEOUT') return false
    }
    return false
  }

  /**
   * Puts a sealed copy in the mailbox peers closest to `mailbox`; how many took it. Every
   * message of a group's day goes to the same mailbox: the peers that took the last copy get
   * the next one without a new DHT walk, as long as they all take it (GROUP_HOLDERS_CACHE_MS).
   * `ttlMs`: how long each may keep it at most (a disappearing message's time left).
   */
  async put (mailbox: Uint8Array, envelope: Uint8Array, ttlMs: number = DEFAULT_TTL_MS): Promise<number> {
    const ttl = Math.min(ttlMs, DEFAULT_TTL_MS)
    const key = Buffer.from(mailbox).toString('hex')
    const cached = this.holders.get(key)
    if (cached !== undefined && Date.now() - cached.at < GROUP_HOLDERS_CACHE_MS) {
      const results = await Promise.all(cached.peers.map(async (p) => await putEnvelope(this.init.libp2p, p, mailbox, envelope, ttl)))
      const took = results.filter((r) => r.ok).length
      if (took === cached.peers.length) return took
      // One went away or refused: look the holders up again (the copies already placed stay).
      this.holders.delete(key)
      if (took > 0) return took
    }
    const placed = await putInMailboxes(this.init.libp2p, mailbox, envelope, undefined, ttl)
    if (placed.holders.length > 0) {
      if (this.holders.size >= MAX_CACHED_HOLDERS) this.holders.delete(this.holders.keys().next().value as string)
      this.holders.set(key, { peers: placed.holders, at: Date.now() })
    }
    return placed.count
  }

  /**
   * Everything the peers closest to `mailbox` hold for it, page by page, de-duplicated by id,
   * and how many of them answered (0: nobody was reached, so nothing can be concluded).
   * Nothing is acked: the other members read the same copies; they expire by their TTL.
   */
  async fetchAll (mailbox: Uint8Array, sign: ProofSigner): Promise<{ copies: HeldCopy[], answered: number }> {
    const { libp2p } = this.init
    const walk = await closestPeersWalk(libp2p, mailbox, MAILBOX_COLLECT_PEERS)
    const found = new Map<string, HeldCopy>()
    let answered = 0
    await Promise.all(walk.peers.map(async (peer) => {
      let after: MailboxCursor | undefined
      for (let page = 0; page < MAX_FETCH_PAGES; page++) {
        const r = await fetchPage(libp2p, peer, sign, { after })
        if (!r.ok) return
        if (page === 0) answered++
        for (const e of r.envelopes) {
          const id = Buffer.from(e.id).toString('hex')
          const seen = found.get(id)
          if (seen === undefined || e.expiresAt < seen.expiresAt) found.set(id, { envelope: e.envelope, expiresAt: e.expiresAt, id })
        }
        if (!r.more || r.next === undefined) return
        after = r.next
      }
    }))
    return { copies: [...found.values()], answered }
  }

  stop (): void {
    this.init.libp2p.services.pubsub.removeEventListener('message', this.onMessage as unknown as EventListener)
    for (const topic of this.handlers.keys()) this.init.libp2p.services.pubsub.unsubscribe(topic)
    this.handlers.clear()
  }
}

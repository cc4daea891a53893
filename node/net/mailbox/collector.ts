/**
 * The recipient's side of the mailboxes: fetch what the peers that may hold our mailbox key
 * hold for it (the closest ones, from a DHT lookup) on start, on a timer and when asked,
 * page through all of it, keep a subscription open to each so new envelopes are pushed, hand
 * each envelope to `receive` once (M5) and ack it only after `receive` resolved, that is
 * after the message was committed, or once `receive` rejected it for good.
 *
 * Owner proofs carry the account's signing key, so whoever gets one can link the mailbox
 * (and the Session ID) to this node's address: they go only to those closest peers, never
 * to every connected peer (E1).
 *
 * The closest peers a lookup found are remembered, with their addresses, in the account's
 * store: a node that starts again (a laptop opened after a week) asks them at once, while
 * its first lookup, from an empty routing table, is still walking.
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { ComponentLogger } from '../../log.js'
import { byDistance } from '../kad-distance.js'
import type { SottoLibp2p } from '../libp2p.js'
import { MAX_FETCH_PAGES } from './constants.js'
import { closestPeersWalk, MAILBOX_COLLECT_PEERS } from './placement.js'
import { ackEnvelopes, OwnerChannel, subscribeEnvelopes, type ProofSigner } from './protocol.js'
import { envelopeId, type MailboxCursor } from './store.js'

/**
 * A full collection on a timer, besides the one at start, the ones new connections ask for
 * and the pushes of open subscriptions: it finds holders that appeared meanwhile. Polls were
 * most of an idle user node's cost (at 60 s, 30 nodes: 120 ms CPU and 50 KB per node-minute;
 * at 5 min: 72 ms and 16 KB); online recipients get mail directly or pushed.
 */
export const MAIL_POLL_MS = 300_000
/**
 * Collections asked for by events (a peer connected) are at least this far apart: a
 * collection opens connections, and each new connection asked for another collection, so a
 * returning node collected back to back.
 */
export const MIN_COLLECT_GAP_MS = 5_000
/** Envelope ids remembered as handled / refused, so a copy from a second mailbox is not opened again. */
export const MAX_REMEMBERED_HANDLED = 100_000
export const MAX_REMEMBERED_REFUSED = 10_000

/**
 * What became of an envelope. `accepted` and `duplicate`: committed, acked. `rejected`: it can
 * never be opened (garbage, or sealed to another key), acked so it is deleted and cannot sit
 * in the mailbox until its TTL. `refused`: it may only be early (a message before its
 * session's first), kept in the mailbox.
 */
export type CollectVerdict = 'accepted' | 'duplicate' | 'rejected' | 'refused'

/** A peer that was among the closest to our mailbox key, as remembered between runs. */
export interface RememberedHolder { peerId: string, addrs: string[] }

/** Where the collector keeps the closest peers it last found (the account's sealed store). */
export interface HolderMemory {
  load: () => Promise<RememberedHolder[]>
  save: (holders: RememberedHolder[]) => Promise<void>
}

export interface MailCollectorInit {
  libp2p: SottoLibp2p
  /** The mailbox key of the account (node/net/mailbox/proof.ts mailboxKeyFor). */
  mailbox: Uint8Array
  /** Signs owner proofs with the account's identity key. */
  sign: ProofSigner
  receive: (envelope: Uint8Array) => Promise<CollectVerdict>
  /** Remembers the closest peers between runs; without it, each start begins from a lookup. */
  memory?: HolderMemory
  log: ComponentLogger
}

export class MailCollector {
  private readonly seen = new Set<string>()
  /** Envelopes being handled: a copy of the same envelope from another mailbox waits for that verdict. */
  private readonly handling = new Map<string, Promise<boolean>>()
  /** Remembered closest peers not yet asked in this run; asked by the first collection. */
  private remembered: PeerId[] = []
  private savedHolders = ''
  private readonly refused = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private readonly subscriptions = new Map<string, AbortController>()
  private lastFinished = 0
  private soon: NodeJS.Timeout | undefined

  constructor (private readonly init: MailCollectorInit) {}

  /** Asks for a collection; several asks within MIN_COLLECT_GAP_MS of the last one become one. */
  collectSoon (): void {
    if (this.soon !== undefined) return
    const wait = Math.max(0, this.lastFinished + MIN_COLLECT_GAP_MS - Date.now())
    this.soon = setTimeout(() => { this.soon = undefined; void this.collect() }, wait)
    this.soon.unref()
  }

  start (): void {
    this.timer = setInterval(() => { void this.collect() }, MAIL_POLL_MS)
    this.timer.unref()
    void this.recall().then(async () => { await this.collect() })
  }

  /** Loads the remembered closest peers and their addresses, so the first collection can ask them before any lookup ends. */
  private async recall (): Promise<void> {
    const { memory, libp2p } = this.init
    if (memory === undefined) return
    try {
      for (const h of (await memory.load()).slice(0, MAILBOX_COLLECT_PEERS)) {
        const peer = peerIdFromString(h.peerId)
        if (peer.equals(libp2p.peerId)) continue
        const addrs = h.addrs.slice(0, 8).map((a) => multiaddr(a))
        if (addrs.length > 0) await libp2p.peerStore.merge(peer, { multiaddrs: addrs })
        this.remembered.push(peer)
      }
      this.savedHolders = this.remembered.map((p) => p.toString()).join(',')
    } catch (err) {
      // A damaged entry costs only the head start: the lookup finds the holders anyway.
      this.init.log.debug('remembered mailbox peers unusable', { code: (err as { code?: string }).code ?? 'ERR' })
      this.remembered = []
    }
  }

  /** Keeps the closest peers a lookup found, with their addresses, when they changed. */
  private async remember (closest: PeerId[]): Promise<void> {
    const { memory, libp2p } = this.init
    const ids = closest.map((p) => p.toString()).join(',')
    if (memory === undefined || closest.length === 0 || ids === this.savedHolders) return
    this.savedHolders = ids
    const holders: RememberedHolder[] = []
    for (const peer of closest) {
      const live = libp2p.getConnections(peer).map((c) => c.remoteAddr.toString())
      let known: string[] = []
      try { known = (await libp2p.peerStore.get(peer)).addresses.map((a) => a.multiaddr.toString()) } catch { /* not in the peer store */ }
      holders.push({ peerId: peer.toString(), addrs: [...new Set([...live, ...known])].slice(0, 8) })
    }
    await memory.save(holders).catch((err) => { this.init.log.debug('could not remember mailbox peers', { code: (err as { code?: string }).code ?? 'ERR' }) })
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.soon !== undefined) clearTimeout(this.soon)
    for (const c of this.subscriptions.values()) c.abort()
    this.subscriptions.clear()
  }

  /** Fetches from every mailbox that may hold our mail; a call during a run asks for one more run after it. */
  async collect (): Promise<void> {
    if (this.running !== undefined) {
      this.again = true
      await this.running
      return
    }
    let asked = 0
    this.running = (async () => {
      do {
        this.again = false
        asked += await this.collectOnce()
      } while (this.again)
    })().finally(() => {
      this.running = undefined
      // A collection that reached nobody (no peer yet) does not hold back the next one.
      if (asked > 0) this.lastFinished = Date.now()
    })
    await this.running
  }

  /**
   * The peers senders put our mail on: the closest to the mailbox key by a DHT lookup. When
   * the lookup finds none (a tiny or just-joined network), the connected peers closest to
   * the key, as many: the same ranking, from what this node knows.
   */
  private async holders (): Promise<PeerId[]> {
    const { libp2p, mailbox } = this.init
    const walk = await closestPeersWalk(libp2p, mailbox, MAILBOX_COLLECT_PEERS)
    const found = walk.peers
    // Only a walk that ended knows the closest: one cut short may have seen only far peers.
    if (walk.complete) await this.remember(found)
    const closest = found.length > 0 ? found : byDistance(mailbox, libp2p.getPeers()).slice(0, MAILBOX_COLLECT_PEERS)
    // A lookup cut short under load may miss holders: where mail was found before is asked too.
    return [...closest, ...this.foundAt.filter((p) => !closest.some((c) => c.equals(p)))]
  }

  /** Peers that last held mail for us, closest first; asked with every collection. */
  private foundAt: PeerId[] = []

  private rememberHolder (peer: PeerId): void {
    if (this.foundAt.some((p) => p.equals(peer))) return
    this.foundAt = byDistance(this.init.mailbox, [...this.foundAt, peer]).slice(0, MAILBOX_COLLECT_PEERS)
  }

  /**
   * Asks every peer that may hold our mail; resolves with how many were asked. Remembered
   * peers are asked while the lookup walks; the lookup's peers not asked yet follow.
   */
  private async collectOnce (): Promise<number> {
    const asked: PeerId[] = this.remembered
    this.remembered = []
    const ask = async (peers: PeerId[]): Promise<void> => {
      await Promise.all(peers.map(async (peer) => {
        try {
          if (await this.collectFrom(peer)) this.subscribe(peer)
        } catch (err) {
          this.init.log.debug('mailbox fetch failed', { code: (err as { code?: string }).code ?? 'ERR' })
        }
      }))
    }
    const early = ask(asked)
    const rest = (await this.holders()).filter((p) => !asked.some((a) => a.equals(p)))
    await Promise.all([early, ask(rest)])
    return asked.length + rest.length
  }

  /**
   * Reads one mailbox page by page, acking each page's handled envelopes, all on one stream
   * where the mailbox speaks /sotto/mailbox/2; false when it did not answer.
   */
  private async collectFrom (peer: PeerId): Promise<boolean> {
    const channel = new OwnerChannel(this.init.libp2p, peer, this.init.sign)
    try {
      let after: MailboxCursor | undefined
      for (let page = 0; page < MAX_FETCH_PAGES; page++) {
        const r = await channel.fetch(after)
        if (!r.ok) {
          this.init.log.debug('mailbox fetch failed', { code: r.error })
          return page > 0
        }
        const done: Uint8Array[] = []
        if (r.envelopes.length > 0) this.rememberHolder(peer)
        for (const e of r.envelopes) if (await this.handle(e.envelope)) done.push(e.id)
        if (done.length > 0) await channel.ack(done)
        if (!r.more || r.next === undefined) return true
        after = r.next
      }
      return true
    } finally {
      await channel.close()
    }
  }

  /**
   * True when the envelope may be deleted from the mailbox: committed, a duplicate, or
   * rejected for good. A refused one stays (it may only be early, say a message before its
   * session's first) and expires there by its TTL; we do not retry it in this run.
   */
  private async handle (envelope: Uint8Array): Promise<boolean> {
    const id = Buffer.from(envelopeId(envelope)).toString('hex')
    if (this.seen.has(id)) return true
    if (this.refused.has(id)) return false
    const running = this.handling.get(id)
    if (running !== undefined) return await running
    const verdict = this.decide(id, envelope)
    this.handling.set(id, verdict)
    try {
      return await verdict
    } finally {
      this.handling.delete(id)
    }
  }

  private async decide (id: string, envelope: Uint8Array): Promise<boolean> {
    const verdict = await this.init.receive(envelope)
    if (this.seen.size >= MAX_REMEMBERED_HANDLED) this.seen.clear()
    if (this.refused.size >= MAX_REMEMBERED_REFUSED) this.refused.clear()
    if (verdict === 'refused') { this.refused.add(id); return false }
    this.seen.add(id)
    return true
  }

  private subscribe (peer: PeerId): void {
    const k = peer.toString()
    if (this.subscriptions.has(k)) return
    const controller = new AbortController()
    this.subscriptions.set(k, controller)
    void subscribeEnvelopes(this.init.libp2p, peer, this.init.sign, async (e) => {
      if (await this.handle(e.envelope)) await ackEnvelopes(this.init.libp2p, peer, this.init.sign, [e.id]).catch(() => 0)
    }, controller.signal).catch(() => {}).finally(() => { this.subscriptions.delete(k) })
  }
}

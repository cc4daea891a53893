/**
 * The daemon's use of mailboxes (issue 7): as a sender, put an envelope on the k peers
 * closest to the recipient's mailbox key when direct delivery fails; as a recipient, fetch
 * from those peers on start, when peers connect and on a timer, keep subscriptions open for
 * pushes, hand each envelope to the messenger once (M5) and ack it only after it is
 * committed.
 */
import type { PeerId } from '@libp2p/interface'
import type { IdentityKeys } from '../identity/keys.js'
import { sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import type { SottoLibp2p } from '../net/libp2p.js'
import { DEFAULT_TTL_MS } from '../net/mailbox/constants.js'
import { mailboxKeyFor, signOwnerProof } from '../net/mailbox/proof.js'
import { ackEnvelopes, fetchEnvelopes, putEnvelope, subscribeEnvelopes, type ProofSigner } from '../net/mailbox/protocol.js'
import { envelopeId, type MailboxStore } from '../net/mailbox/store.js'
import type { ReceiveVerdict } from '../messaging/messenger.js'

/** Mailboxes per envelope (Session's swarms hold 5–7 copies). */
export const MAILBOX_REPLICAS = 5
/** Peers asked when collecting mail: the closest ones plus connected ones, at most this many. */
const MAX_MAILBOXES_ASKED = 20
export const MAIL_POLL_MS = 15_000
const CLOSEST_TIMEOUT_MS = 8_000

export async function closestPeers (libp2p: SottoLibp2p, key: Uint8Array, count: number): Promise<PeerId[]> {
  const found: PeerId[] = []
  const self = libp2p.peerId.toString()
  try {
    for await (const event of libp2p.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(CLOSEST_TIMEOUT_MS) })) {
      if (event.name === 'FINAL_PEER' && event.peer.id.toString() !== self && !found.some((p) => p.equals(event.peer.id))) found.push(event.peer.id)
    }
  } catch {
    // A timeout still leaves whatever peers we found.
  }
  return found.slice(0, count)
}

/** Sender side: puts the envelope on up to k mailboxes; resolves with how many took it and until when. */
export async function putInMailboxes (libp2p: SottoLibp2p, recipient: SessionId, envelope: Uint8Array, log: ComponentLogger): Promise<{ count: number, expiresAt?: number }> {
  const key = mailboxKeyFor(sessionIdToX25519(recipient))
  let peers = await closestPeers(libp2p, key, MAILBOX_REPLICAS)
  if (peers.length === 0) peers = libp2p.getPeers().slice(0, MAILBOX_REPLICAS)
  const results = await Promise.all(peers.map(async (p) => await putEnvelope(libp2p, p, key, envelope, DEFAULT_TTL_MS)))
  const refused = results.filter((r) => !r.ok).map((r) => (r as { error: string }).error)
  if (refused.length > 0) log.info('some mailboxes refused an envelope', { refused })
  const ok = results.filter((r) => r.ok) as Array<{ expiresAt: number }>
  return { count: ok.length, expiresAt: ok.length === 0 ? undefined : Math.min(...ok.map((r) => r.expiresAt)) }
}

export interface MailCollectorInit {
  libp2p: SottoLibp2p
  identity: IdentityKeys
  receive: (envelope: Uint8Array) => Promise<ReceiveVerdict>
  log: ComponentLogger
  now: () => number
}

export class MailCollector {
  private readonly key: Uint8Array
  private readonly sign: ProofSigner
  private readonly seen = new Set<string>()
  private readonly refused = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private readonly subscriptions = new Map<string, AbortController>()

  constructor (private readonly init: MailCollectorInit) {
    this.key = mailboxKeyFor(init.identity.dhPublicKey)
    this.sign = (op, mailboxPeer, nonce) => signOwnerProof({
      op, signingSeed: init.identity.signingSeed, signingPublicKey: init.identity.signingPublicKey, dhPublicKey: init.identity.dhPublicKey, mailboxPeer, nonce, now: init.now()
    })
  }

  start (): void {
    this.timer = setInterval(() => { void this.collect() }, MAIL_POLL_MS)
    this.timer.unref()
    void this.collect()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const c of this.subscriptions.values()) c.abort()
    this.subscriptions.clear()
  }

  /** Fetches from every mailbox we can reach now; a call during a run asks for one more run after it. */
  async collect (): Promise<void> {
    if (this.running !== undefined) {
      this.again = true
      await this.running
      return
    }
    this.running = (async () => {
      do {
        this.again = false
        await this.collectOnce()
      } while (this.again)
    })().finally(() => { this.running = undefined })
    await this.running
  }

  private again = false

  private async collectOnce (): Promise<void> {
    const { libp2p } = this.init
    const peers = await closestPeers(libp2p, this.key, MAILBOX_REPLICAS)
    for (const p of libp2p.getPeers()) if (peers.length < MAX_MAILBOXES_ASKED && !peers.some((x) => x.equals(p))) peers.push(p)
    await Promise.all(peers.map(async (peer) => {
      try {
        const held = await fetchEnvelopes(libp2p, peer, this.sign)
        const done: Uint8Array[] = []
        for (const e of held) if (await this.handle(e.envelope)) done.push(e.id)
        if (done.length > 0) await ackEnvelopes(libp2p, peer, this.sign, done)
        this.subscribe(peer)
      } catch (err) {
        this.init.log.debug('mailbox fetch failed', { code: (err as { code?: string }).code ?? 'ERR' })
      }
    }))
  }

  /**
   * True when the envelope may be deleted from the mailbox: committed, or a duplicate. A
   * refused one stays (it may only be early, say a message before its session's first) and
   * expires there by its TTL; we do not retry it in this run.
   */
  private async handle (envelope: Uint8Array): Promise<boolean> {
    const id = Buffer.from(envelopeId(envelope)).toString('hex')
    if (this.seen.has(id)) return true
    if (this.refused.has(id)) return false
    const verdict = await this.init.receive(envelope)
    if (this.seen.size > 100_000) this.seen.clear()
    if (this.refused.size > 10_000) this.refused.clear()
    if (verdict === 'refused') { this.refused.add(id); return false }
    this.seen.add(id)
    return true
  }

  private subscribe (peer: PeerId): void {
    const k = peer.toString()
    if (this.subscriptions.has(k)) return
    const controller = new AbortController()
    this.subscriptions.set(k, controller)
    void subscribeEnvelopes(this.init.libp2p, peer, this.sign, async (e) => {
      if (await this.handle(e.envelope)) await ackEnvelopes(this.init.libp2p, peer, this.sign, [e.id]).catch(() => 0)
    }, controller.signal).catch(() => {}).finally(() => { this.subscriptions.delete(k) })
  }
}

/** Mailboxes re-checked per round, so one round stays bounded however much is held. */
const MAX_MAILBOXES_PER_ROUND = 50
export const REBALANCE_INTERVAL_MS = 60_000

/**
 * Churn (issue 7): for each mailbox this node holds, find the k peers now closest to its key
 * and put the envelopes there too (they de-duplicate by envelope id), so replication climbs
 * back towards k when holders leave. A node no longer among the k closest hands its copies
 * on and drops them once at least one peer took them.
 */
export async function rebalanceMailboxes (libp2p: SottoLibp2p, store: MailboxStore, log: ComponentLogger, now: () => number): Promise<{ handedOn: number, dropped: number }> {
  let handedOn = 0
  let dropped = 0
  const self = libp2p.peerId
  for (const mailbox of store.mailboxes().slice(0, MAX_MAILBOXES_PER_ROUND)) {
    const closest = await closestPeers(libp2p, mailbox, MAILBOX_REPLICAS + 1)
    const stillHolder = closest.length < MAILBOX_REPLICAS || closest.slice(0, MAILBOX_REPLICAS).some((p) => p.equals(self)) ||
      (libp2p.services.dht as unknown as { routingTable?: { size: number } }).routingTable?.size === 0
    const targets = closest.filter((p) => !p.equals(self)).slice(0, MAILBOX_REPLICAS)
    let placed = 0
    for (const held of await store.list(mailbox)) {
      const ttl = held.expiresAt - now()
      if (ttl <= 0) continue
      const results = await Promise.all(targets.map(async (p) => await putEnvelope(libp2p, p, mailbox, held.envelope, ttl)))
      const ok = results.filter((r) => r.ok && !r.duplicate).length
      handedOn += ok
      if (results.some((r) => r.ok)) placed++
    }
    if (!stillHolder && placed > 0) dropped += await store.dropMailbox(mailbox)
  }
  if (handedOn > 0 || dropped > 0) log.info('mailboxes rebalanced', { handedOn, dropped })
  return { handedOn, dropped }
}

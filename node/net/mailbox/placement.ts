/**
 * Where envelopes for an offline recipient live: on the k peers closest (in the DHT's XOR
 * metric) to the recipient's mailbox key. A sender puts there when direct delivery fails; a
 * holder re-checks every minute and keeps the copies on the k closest as peers come and go.
 *
 * The holder rule: a node counts itself when ranking peers by distance. It stays a holder
 * while fewer than k known peers are closer to the key than itself. A copy is never deleted
 * because a peer said it took it: PeerIds cost nothing, and a peer can answer "ok" to a put
 * and keep nothing. A node that is no longer a holder lets go of a copy only when all of:
 * - it has been far for RELEASE_GRACE_MS (a lookup cut short or a burst of new peers does not
 *   move mail at once);
 * - each of the k closer peers proved, just now, that it holds that envelope (possession.ts:
 *   a digest over a fresh nonce and the envelope's bytes);
 * - at least MIN_TRUSTED_CLOSER of them are trusted (reputation.ts: they proved possession
 *   before, over time, and never failed recently).
 * Otherwise it keeps the copy; the owner's ack or the expiry removes it.
 *
 * Senders put on the k closest and, when fewer than MIN_TRUSTED_CLOSER of those are trusted,
 * also on trusted peers among the next k, preferring peers from address ranges not yet used.
 * Recipients ask the 2k closest (MAILBOX_COLLECT_PEERS), so those extra copies are found.
 */
import type { PeerId } from '@libp2p/interface'
import type { ComponentLogger } from '../../log.js'
import type { SottoLibp2p } from '../libp2p.js'
import { toHex } from '../../bytes.js'
import { byDistance, closerThan } from '../kad-distance.js'
import { DEFAULT_TTL_MS, MAX_PUT_BATCH } from './constants.js'
import { askHolds } from './possession.js'
import { coalescerFor, type PutCoalescer } from './put-coalescer.js'
import type { MailboxReputation } from './reputation.js'
import type { HeldEnvelope, MailboxStore } from './store.js'

/** Mailboxes per envelope (Session's swarms hold 5–7 copies). */
export const MAILBOX_REPLICAS = 5
/** Peers a recipient asks for its mail: the k closest and the next k, where extra copies go. */
export const MAILBOX_COLLECT_PEERS = 2 * MAILBOX_REPLICAS
/** Trusted peers among the k closest a sender wants, and a far holder needs before it lets go. */
export const MIN_TRUSTED_CLOSER = Math.ceil(MAILBOX_REPLICAS / 2)
/** How long a holder must have been far from a mailbox key before it may let go of a copy. */
export const RELEASE_GRACE_MS = 10 * 60_000
/**
 * A mailbox whose envelopes and closest peers have not changed since its last round is left
 * alone for this long (puts of whole envelopes to k peers every minute were most of a
 * holder's idle traffic); after it, one round checks possession again.
 */
export const RECHECK_UNCHANGED_MS = 10 * 60_000
/** A lookup of the closest peers gives up after this long and uses what it found. */
export const CLOSEST_TIMEOUT_MS = 8_000
/** Mailboxes re-checked per round, so one round stays bounded however much is held. */
export const MAX_MAILBOXES_PER_ROUND = 50
export const REBALANCE_INTERVAL_MS = 60_000

/** What a closest-peers walk gave: the peers, closest first, and whether the walk ended (rather than timed out). */
export interface ClosestWalk { peers: PeerId[], complete: boolean }

/**
 * Up to `count` other peers closest to `key`, closest first. kad-dht names the closest peers
 * only when its walk ends; a walk cut short by the timeout (a loaded machine, a fresh routing
 * table) gives the closest of the peers that answered it so far, which is what it learned.
 */
export async function closestPeersWalk (libp2p: SottoLibp2p, key: Uint8Array, count: number): Promise<ClosestWalk> {
  const final: PeerId[] = []
  const answered: PeerId[] = []
  const add = (list: PeerId[], p: PeerId): void => { if (!p.equals(libp2p.peerId) && !list.some((q) => q.equals(p))) list.push(p) }
  try {
    for await (const event of libp2p.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(CLOSEST_TIMEOUT_MS) })) {
      if (event.name === 'FINAL_PEER') add(final, event.peer.id)
      else if (event.name === 'PEER_RESPONSE') add(answered, event.from)
    }
  } catch {
    // A timeout still leaves whatever peers answered.
  }
  const complete = final.length > 0
  return { peers: byDistance(key, complete ? final : answered).slice(0, count), complete }
}

export async function closestPeers (libp2p: SottoLibp2p, key: Uint8Array, count: number): Promise<PeerId[]> {
  return (await closestPeersWalk(libp2p, key, count)).peers
}

export interface MailboxPlacement {
  count: number
  expiresAt?: number
  refused: string[]
  /** The peers that took it (a sender of many copies to one mailbox may reuse them). */
  holders: PeerId[]
}

/** A peer's address range for spreading copies: the IPv4 /16 or IPv6 /32 it is connected from. */
export function addressRange (libp2p: SottoLibp2p, peer: PeerId): string | undefined {
  for (const c of libp2p.getConnections(peer)) {
    const ip = c.remoteAddr.getComponents()[0]
    if (ip?.name === 'ip4' && ip.value !== undefined) return `4:${ip.value.split('.').slice(0, 2).join('.')}`
    if (ip?.name === 'ip6' && ip.value !== undefined) return `6:${ip.value.split(':').slice(0, 2).join(':')}`
  }
  return undefined
}

/** Up to `n` of `candidates` (closest first), one per address range before any range repeats. */
export function pickSpread<T extends { range?: string }> (candidates: readonly T[], n: number): T[] {
  const chosen: T[] = []
  const used = new Set<string>()
  for (const c of candidates) {
    if (chosen.length >= n) break
    if (c.range === undefined || !used.has(c.range)) { chosen.push(c); if (c.range !== undefined) used.add(c.range) }
  }
  for (const c of candidates) {
    if (chosen.length >= n) break
    if (!chosen.includes(c)) chosen.push(c)
  }
  return chosen
}

/**
 * Sender side: puts the envelope on the k closest and, when fewer than MIN_TRUSTED_CLOSER of
 * them are trusted, on trusted peers among the next k as well; resolves with how many took it.
 * `ttlMs` (at most DEFAULT_TTL_MS) is how long each is asked to keep it. Puts go through the
 * node's coalescer (put-coalescer.ts), which batches them with others for the same peers.
 */
export async function putInMailboxes (libp2p: SottoLibp2p, mailbox: Uint8Array, envelope: Uint8Array, reputation?: MailboxReputation, ttlMs: number = DEFAULT_TTL_MS, coalescer: PutCoalescer = coalescerFor(libp2p)): Promise<MailboxPlacement> {
  // A shorter TTL (a disappearing message's time left) is passed on as is; never a longer one.
  const ttl = Math.min(ttlMs, DEFAULT_TTL_MS)
  const found = await closestPeers(libp2p, mailbox, MAILBOX_COLLECT_PEERS)
  let peers = found.slice(0, MAILBOX_REPLICAS)
  // No DHT answer (a tiny or just-joined network): the connected peers closest to the key,
  // the same ones a recipient's collector falls back to, so the two still meet.
  if (peers.length === 0) peers = byDistance(mailbox, libp2p.getPeers()).slice(0, MAILBOX_REPLICAS)
  const trustedAmongClosest = peers.filter((p) => reputation?.trusted(p.toString()) === true).length
  if (reputation !== undefined && trustedAmongClosest < MIN_TRUSTED_CLOSER) {
    const extra = found.slice(MAILBOX_REPLICAS).filter((p) => reputation.trusted(p.toString())).map((peer) => ({ peer, range: addressRange(libp2p, peer) }))
    peers = [...peers, ...pickSpread(extra, MIN_TRUSTED_CLOSER - trustedAmongClosest).map((c) => c.peer)]
  }
  // Other envelopes put on the same peers meanwhile (an outbox draining) share their requests.
  const results = await Promise.all(peers.map(async (p) => await coalescer.put(p, { mailbox, envelope, ttlMs: ttl })))
  const ok = results.filter((r) => r.ok)
  return {
    count: ok.length,
    expiresAt: ok.length === 0 ? undefined : Math.min(...ok.map((r) => r.expiresAt)),
    refused: results.flatMap((r) => r.ok ? [] : [r.error]),
    holders: peers.filter((_, i) => results[i].ok)
  }
}

/** The decision for one held mailbox, from the peers a lookup found (self excluded). */
export function holderPlan (mailbox: Uint8Array, self: PeerId, found: readonly PeerId[], k: number = MAILBOX_REPLICAS): { holder: boolean, targets: PeerId[] } {
  const holder = closerThan(mailbox, self, found).length < k
  // Counting ourselves, the k closest are k-1 others plus us while we hold; k others once not.
  return { holder, targets: byDistance(mailbox, found).slice(0, holder ? k - 1 : k) }
}

export interface RebalanceResult { handedOn: number, dropped: number }

export interface RebalanceContext {
  libp2p: SottoLibp2p
  store: MailboxStore
  reputation: MailboxReputation
  log: ComponentLogger
  now: () => number
  /** Mailbox (hex) -> since when this node has been far from it; kept between rounds. */
  farSince: Map<string, number>
  /** Mailbox (hex) -> what its last full round saw, to skip rounds where nothing changed. */
  lastRound: Map<string, MailboxRound>
}

/**
 * What one round saw of a mailbox: when, the targets its lookup gave, the store's change
 * count, and `view`, the connected peers closest to the key (what this node knows without a
 * lookup). While the view and the envelopes stay the same, nothing near the key changed that
 * this node could see: the round skips even the lookup until RECHECK_UNCHANGED_MS.
 */
export interface MailboxRound { at: number, targets: string, changes: number, view: string }

function connectedView (libp2p: SottoLibp2p, mailbox: Uint8Array): string {
  return byDistance(mailbox, libp2p.getPeers()).slice(0, MAILBOX_REPLICAS).map((p) => p.toString()).join(',')
}

export async function rebalanceMailboxes (ctx: RebalanceContext): Promise<RebalanceResult> {
  const { libp2p, store, reputation, now } = ctx
  let handedOn = 0
  let dropped = 0
  const held = new Set(store.mailboxes().map((m) => toHex(m)))
  for (const key of [...ctx.farSince.keys()]) if (!held.has(key)) ctx.farSince.delete(key)
  for (const key of [...ctx.lastRound.keys()]) if (!held.has(key)) ctx.lastRound.delete(key)
  for (const mailbox of store.mailboxes().slice(0, MAX_MAILBOXES_PER_ROUND)) {
    const key = toHex(mailbox)
    const view = connectedView(libp2p, mailbox)
    const before = ctx.lastRound.get(key)
    if (!ctx.farSince.has(key) && before !== undefined && before.view === view && before.changes === store.changes(mailbox) && now() - before.at < RECHECK_UNCHANGED_MS) continue
    const found = await closestPeers(libp2p, mailbox, MAILBOX_REPLICAS)
    const { holder, targets } = holderPlan(mailbox, libp2p.peerId, found)
    if (holder) ctx.farSince.delete(key)
    else if (!ctx.farSince.has(key)) ctx.farSince.set(key, now())
    const farLongEnough = !holder && now() - (ctx.farSince.get(key) ?? now()) >= RELEASE_GRACE_MS
    const mayRelease = farLongEnough && targets.length === MAILBOX_REPLICAS &&
      targets.filter((p) => reputation.trusted(p.toString())).length >= MIN_TRUSTED_CLOSER
    const seen: MailboxRound = { at: now(), targets: targets.map((p) => p.toString()).join(','), changes: store.changes(mailbox), view }
    const last = ctx.lastRound.get(key)
    if (!mayRelease && last !== undefined && last.targets === seen.targets && last.changes === seen.changes && seen.at - last.at < RECHECK_UNCHANGED_MS) {
      // The lookup agrees with the last round: the connected view moved without moving the k closest.
      last.view = view
      continue
    }
    ctx.lastRound.set(key, seen)
    const releasable: Uint8Array[] = []
    let sampled = false
    // Copies go on in chunks, each put through the coalescer: a target gets a chunk's copies
    // as one batch rather than one stream per copy.
    const handOn = async (chunk: HeldEnvelope[]): Promise<void> => {
      const coalescer = coalescerFor(libp2p)
      const placed = await Promise.all(chunk.map(async (copy) => await Promise.all(targets.map(async (p) => await coalescer.put(p, { mailbox, envelope: copy.envelope, ttlMs: copy.expiresAt - now() })))))
      for (const [n, copy] of chunk.entries()) {
        const puts = placed[n]
        handedOn += puts.filter((r) => r.ok && !r.duplicate).length
        // Every round checks one envelope on each peer that took it, so peers earn (or lose)
        // trust over time; a round that may release checks every envelope it would let go.
        if (!mayRelease && sampled) continue
        sampled = true
        const answers = await Promise.all(targets.map(async (p, i) => puts[i].ok ? await askHolds(libp2p, p, mailbox, copy.id, copy.envelope) : 'NO_ROUTE'))
        answers.forEach((a, i) => {
          if (a === 'held') reputation.proved(targets[i].toString())
          // "gone" (the owner acked it there) is no failure: that peer did its job.
          else if (puts[i].ok && (a === 'missing' || a === 'WRONG_DIGEST' || a === 'PROTOCOL')) reputation.failed(targets[i].toString())
        })
        if (mayRelease && answers.every((a) => a === 'held')) releasable.push(copy.id)
      }
    }
    let chunk: HeldEnvelope[] = []
    for await (const copy of store.held(mailbox)) {
      chunk.push(copy)
      if (chunk.length === MAX_PUT_BATCH) { await handOn(chunk); chunk = [] }
    }
    if (chunk.length > 0) await handOn(chunk)
    if (releasable.length > 0) dropped += await store.release(mailbox, releasable)
  }
  if (handedOn > 0 || dropped > 0) ctx.log.info('mailboxes rebalanced', { handedOn, dropped })
  return { handedOn, dropped }
}

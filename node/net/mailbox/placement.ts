/**
 * Where envelopes for an offline recipient live: on the k peers closest (in the DHT's XOR
 * metric) to the recipient's mailbox key. A sender puts there when direct delivery fails; a
 * holder re-checks every minute and keeps the copies on the k closest as peers come and go.
 *
 * The holder rule: a node counts itself when ranking peers by distance. It stays a holder
 * while fewer than k known peers are closer to the key than itself. A node that is no longer
 * a holder deletes its copies only after each of the k closer peers confirmed (put answered
 * ok or duplicate) that it holds every one of them; otherwise it keeps them and tries again
 * next round, so a lookup that ends early or a peer that refuses never loses mail.
 */
import type { PeerId } from '@libp2p/interface'
import type { ComponentLogger } from '../../log.js'
import type { SottoLibp2p } from '../libp2p.js'
import { byDistance, closerThan } from '../kad-distance.js'
import { DEFAULT_TTL_MS } from './constants.js'
import { putEnvelope } from './protocol.js'
import type { MailboxStore } from './store.js'

/** Mailboxes per envelope (Session's swarms hold 5–7 copies). */
export const MAILBOX_REPLICAS = 5
/** A lookup of the closest peers gives up after this long and uses what it found. */
export const CLOSEST_TIMEOUT_MS = 8_000
/** Mailboxes re-checked per round, so one round stays bounded however much is held. */
export const MAX_MAILBOXES_PER_ROUND = 50
export const REBALANCE_INTERVAL_MS = 60_000

/** Up to `count` other peers closest to `key`, closest first (a timed-out lookup gives what it found). */
export async function closestPeers (libp2p: SottoLibp2p, key: Uint8Array, count: number): Promise<PeerId[]> {
  const found: PeerId[] = []
  try {
    for await (const event of libp2p.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(CLOSEST_TIMEOUT_MS) })) {
      if (event.name === 'FINAL_PEER' && !event.peer.id.equals(libp2p.peerId) && !found.some((p) => p.equals(event.peer.id))) found.push(event.peer.id)
    }
  } catch {
    // A timeout still leaves whatever peers we found.
  }
  return byDistance(key, found).slice(0, count)
}

export interface MailboxPlacement { count: number, expiresAt?: number, refused: string[] }

/** Sender side: puts the envelope on up to k mailboxes; resolves with how many took it and until when. */
export async function putInMailboxes (libp2p: SottoLibp2p, mailbox: Uint8Array, envelope: Uint8Array): Promise<MailboxPlacement> {
  let peers = await closestPeers(libp2p, mailbox, MAILBOX_REPLICAS)
  // No DHT answer (a tiny or just-joined network): the peers we are connected to still help.
  if (peers.length === 0) peers = libp2p.getPeers().slice(0, MAILBOX_REPLICAS)
  const results = await Promise.all(peers.map(async (p) => await putEnvelope(libp2p, p, mailbox, envelope, DEFAULT_TTL_MS)))
  const ok = results.filter((r) => r.ok)
  return {
    count: ok.length,
    expiresAt: ok.length === 0 ? undefined : Math.min(...ok.map((r) => r.expiresAt)),
    refused: results.flatMap((r) => r.ok ? [] : [r.error])
  }
}

/** The decision for one held mailbox, from the peers a lookup found (self excluded). */
export function holderPlan (mailbox: Uint8Array, self: PeerId, found: readonly PeerId[], k: number = MAILBOX_REPLICAS): { holder: boolean, targets: PeerId[] } {
  const holder = closerThan(mailbox, self, found).length < k
  // Counting ourselves, the k closest are k-1 others plus us while we hold; k others once not.
  return { holder, targets: byDistance(mailbox, found).slice(0, holder ? k - 1 : k) }
}

export interface RebalanceResult { handedOn: number, dropped: number }

export async function rebalanceMailboxes (libp2p: SottoLibp2p, store: MailboxStore, log: ComponentLogger, now: () => number): Promise<RebalanceResult> {
  let handedOn = 0
  let dropped = 0
  for (const mailbox of store.mailboxes().slice(0, MAX_MAILBOXES_PER_ROUND)) {
    const found = await closestPeers(libp2p, mailbox, MAILBOX_REPLICAS)
    const { holder, targets } = holderPlan(mailbox, libp2p.peerId, found)
    const confirmed: Uint8Array[] = []
    for await (const held of store.held(mailbox)) {
      const ttl = held.expiresAt - now()
      const results = await Promise.all(targets.map(async (p) => await putEnvelope(libp2p, p, mailbox, held.envelope, ttl)))
      handedOn += results.filter((r) => r.ok && !r.duplicate).length
      if (targets.length === MAILBOX_REPLICAS && results.every((r) => r.ok)) confirmed.push(held.id)
    }
    // Only what all k closer peers confirmed goes; an envelope that arrived meanwhile stays.
    if (!holder) dropped += await store.release(mailbox, confirmed)
  }
  if (handedOn > 0 || dropped > 0) log.info('mailboxes rebalanced', { handedOn, dropped })
  return { handedOn, dropped }
}

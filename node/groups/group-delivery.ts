/**
 * How one group message leaves this node, and what happens when it cannot: the fan-out
 * (gossip to the topic's mesh, a direct copy to each member not seen subscribed, a sealed
 * copy in today's group mailbox) and its retry policy, which is the 1:1 outbox's (R11):
 * every message is queued in the same batch that records it, and stays queued, retried with
 * backoff and across restarts, until its fan-out is settled. Settled means a member who
 * missed the live copy can still get it: the mailbox copy is stored, or every other member
 * acknowledged a live copy. The wire exchange is node/net/group-transport.ts; this is only
 * the policy (as messaging/outbox.ts is to net/envelope-transport.ts).
 */
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import type { MessageState, StateExtra } from '../messaging/message-log.js'
import { deliveryErrorCode, Outbox, type OutboxEntry } from '../messaging/outbox.js'
import type { DeliveryResult } from '../messaging/ports.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { GROUP_MAILBOX_TTL_MS } from './constants.js'
import { dayOf, mailboxDay, topicFor } from './group-mailbox.js'
import { currentSecret, stateOf, type GroupStore } from './group-store.js'
import { sealForMailbox } from './wire.js'

/** What the group layer needs of the network (node/net/group-transport.ts). */
export interface GroupNet {
  subscribe: (topic: string, handler: (data: Uint8Array) => void) => void
  unsubscribe: (topic: string) => void
  publish: (topic: string, data: Uint8Array) => Promise<string[]>
  subscribers: (topic: string) => Set<string>
  peerIdOf: (member: SessionId) => Promise<string | undefined>
  deliverDirect: (member: SessionId, data: Uint8Array) => Promise<boolean>
  /** `ttlMs`: how long holders may keep it at most (a disappearing message's time left); default their own TTL. */
  put: (mailbox: Uint8Array, envelope: Uint8Array, ttlMs?: number) => Promise<number>
  /** What the holders of a mailbox have for it; `answered`: how many holders answered (0: none reached). */
  fetchAll: (mailbox: Uint8Array, sign: ReturnType<typeof mailboxDay>['sign']) => Promise<{ copies: Array<{ envelope: Uint8Array, expiresAt: number }>, answered: number }>
}

/** How a message went out: peers gossip handed it to, direct copies taken, mailboxes that took the copy; members not confirmed. */
export interface FanOut { gossip: number, direct: number, mailboxes: number, missed: number }

/** The outbox table of group messages: apart from the 1:1 one, whose transport is pairwise. */
export const GROUP_OUTBOX_TABLE = 'group-outbox'

export interface GroupDeliveryInit {
  self: SessionId
  store: SecureStore
  groups: GroupStore
  net: GroupNet
  logger: ComponentLogger
  now: () => number
  /** A message's state moved (settled, given up, or waiting with a reason). */
  onState: (group: string, id: string, state: MessageState, extra: StateExtra) => Promise<void>
}

export class GroupDelivery {
  readonly outbox: Outbox
  /** Fan-out of the last attempt (benchmarks, tests). */
  lastFanOut: FanOut | undefined

  constructor (private readonly init: GroupDeliveryInit) {
    this.outbox = new Outbox({
      store: init.store,
      table: GROUP_OUTBOX_TABLE,
      // The entry's peer is the group id: the outbox only carries it back here.
      // ttlMs: an after-send message's time left (the entry's expiresAt, outbox.ts).
      transport: { deliver: async (group, bytes, options) => await this.attempt(group, bytes, options?.ttlMs) },
      logger: init.logger,
      now: init.now,
      onSettled: async (entry, result, drop) => {
        await init.store.batch([drop])
        await this.init.onState(entry.peer, entry.id, ...settledState(result))
      },
      onAttemptFailed: async (entry, result) => { await this.init.onState(entry.peer, entry.id, 'sending', { lastError: deliveryErrorCode(result.error) }) }
    })
  }

  start (): void { this.outbox.start() }
  stop (): void { this.outbox.stop() }

  /** The entry for a new group message; queue it (queueOp) in the batch that records the message. */
  entry (group: string, id: string, bytes: Uint8Array): OutboxEntry {
    const now = this.init.now()
    return { id, peer: group as SessionId, envelope: Buffer.from(bytes).toString('base64'), createdAt: now, attempts: 0, nextAttemptAt: now }
  }

  queueOp (entry: OutboxEntry): StoreOp { return this.outbox.queueOp(entry) }

  /** The writes that drop every queued message of a group (we left it, or were removed). */
  async dropOps (group: string): Promise<StoreOp[]> { return await this.outbox.dropAllOps(group as SessionId) }

  private async attempt (group: string, bytes: Uint8Array, ttlMs?: number): Promise<DeliveryResult> {
    const r = await this.init.groups.get(group)
    // No longer a member: nobody is left to send it to. REFUSED ends the entry (failed).
    if (r === undefined || r.local !== 'accepted') return { ok: false, error: 'REFUSED' }
    const fan = await this.fanOut(r, bytes, ttlMs)
    this.lastFanOut = fan
    const live = fan.gossip + fan.direct > 0
    if (fan.mailboxes > 0) {
      return { ok: true, via: live ? 'direct' : 'mailbox', mailboxes: fan.mailboxes, expiresAt: this.init.now() + Math.min(ttlMs ?? GROUP_MAILBOX_TTL_MS, GROUP_MAILBOX_TTL_MS) }
    }
    if (fan.missed === 0) return { ok: true, via: 'direct' }
    return { ok: false, error: 'UNREACHABLE' }
  }

  /** Gossip to the topic's mesh; a direct copy to members not seen subscribed; a sealed copy in today's group mailbox. */
  private async fanOut (r: NonNullable<Awaited<ReturnType<GroupStore['get']>>>, bytes: Uint8Array, ttlMs?: number): Promise<FanOut> {
    const { net } = this.init
    const members = stateOf(r).members.filter((m) => m !== this.init.self)
    const secret = currentSecret(r)
    if (secret === undefined) return { gossip: 0, direct: 0, mailboxes: 0, missed: members.length }
    const topic = topicFor(secret)
    const day = mailboxDay(secret, dayOf(this.init.now()), this.init.now)
    const gossip = net.publish(topic, bytes)
    const mailbox = net.put(day.mailbox, sealForMailbox(day.envelopeKey, bytes), ttlMs).catch(() => 0)
    const subscribed = net.subscribers(topic)
    const peers = await Promise.all(members.map(async (m) => await net.peerIdOf(m).catch(() => undefined)))
    const direct = Promise.all(members.map(async (m, i) => {
      const peer = peers[i]
      if (peer !== undefined && subscribed.has(peer)) return false
      return await net.deliverDirect(m, bytes).catch(() => false)
    }))
    const [g, d, mb] = await Promise.all([gossip, direct, mailbox])
    const handed = new Set(g)
    const missed = members.filter((_, i) => !d[i] && !(peers[i] !== undefined && handed.has(peers[i] as string))).length
    return { gossip: g.length, direct: d.filter(Boolean).length, mailboxes: mb, missed }
  }
}

/** A settled entry as the message's state: delivered (a live copy), stored (the mailbox copy only), or failed. */
function settledState (result: DeliveryResult): [MessageState, StateExtra] {
  if (!result.ok) return ['failed', { lastError: deliveryErrorCode(result.error) }]
  if (result.via === 'direct') return ['delivered', { lastError: undefined }]
  return ['stored', { lastError: undefined, mailboxes: result.mailboxes, storedUntil: result.expiresAt }]
}

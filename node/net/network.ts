/**
 * The node's network side: the libp2p node, prekey records in the DHT, direct delivery, the
 * mailbox it serves for others (with expiry and re-replication timers) and the envelope
 * transport the messenger sends through. It runs whether or not an account is unlocked, and
 * knows records and envelopes only as bytes: what makes a record valid is passed in.
 */
import { join } from 'node:path'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.js'
import type { SessionId } from '../identity/session-id.js'
import { createSottoLibp2p, type SottoLibp2p } from './libp2p.js'
import { createRecordSelector, createRecordValidator, findRecord, publishRecord, SequenceMemory, type RecordCheck, type RecordCompare } from './records.js'
import { registerDeliver, type DeliverVerdict } from './deliver.js'
import { decodeRouting, type Routing } from './routing.js'
import { EnvelopeTransport } from './envelope-transport.js'
import { DeliverSender } from './deliver-streams.js'
import { GroupTransport } from './group-transport.js'
import { MailboxStore } from './mailbox/store.js'
import { registerMailbox } from './mailbox/protocol.js'
import { DEFAULT_TOTAL_QUOTA_BYTES, PURGE_INTERVAL_MS } from './mailbox/constants.js'
import { rebalanceMailboxes, type MailboxRound, REBALANCE_INTERVAL_MS, type RebalanceResult } from './mailbox/placement.js'
import { registerHolds } from './mailbox/possession.js'
import { MailboxReputation } from './mailbox/reputation.js'

/** A prekey record lookup gives up after this long. */
export const FIND_RECORD_TIMEOUT_MS = 10_000
/** A record put gives up after this long (it is retried on the next timer or connection). */
export const PUBLISH_TIMEOUT_MS = 30_000

/** What makes a prekey record valid, and where its routing field is; supplied by node/crypto's format. */
export interface RecordRules {
  /** Throws a typed error unless `value` is a valid, unexpired record filed under `sessionId`. */
  check: RecordCheck
  compare: RecordCompare
  sequence: (value: Uint8Array) => number
  /** The signed routing field of a record already checked. */
  routingField: (sessionId: SessionId, value: Uint8Array) => Uint8Array
}

export interface NetworkInit {
  dataDir: string
  /** Serve as a mailbox for others (default true; `--no-mailbox`). */
  mailbox?: boolean
  mailboxQuotaBytes?: number
  privateKey: PrivateKey
  listen?: string[]
  bootstrap?: string[]
  mdns: boolean
  relay: boolean
  records: RecordRules
  /** Peers or addresses to refuse (libp2p's connection gater). */
  connectionGater?: ConnectionGater
  logger: Logger
  now: () => number
}

export interface NetworkStats { peers: number, routingTable: number, mailbox?: { envelopes: number, bytes: number } }

export class Network {
  readonly peerId: string
  readonly transport: EnvelopeTransport
  /** Group fan-out: gossipsub topics, direct copies, group mailboxes (docs/GROUPS.md). */
  readonly groups: GroupTransport
  private envelopeHandler: ((envelope: Uint8Array) => Promise<DeliverVerdict>) | undefined
  private rebalancing: Promise<RebalanceResult> | undefined
  private readonly timers: NodeJS.Timeout[] = []
  /** Mailbox (hex) -> since when this node has been far from it (the holder rule's grace). */
  private readonly farSince = new Map<string, number>()
  private readonly lastRound = new Map<string, MailboxRound>()

  private constructor (
    readonly libp2p: SottoLibp2p,
    private readonly mailboxStore: MailboxStore | undefined,
    private readonly reputation: MailboxReputation,
    private readonly stopMailboxServer: () => void,
    private readonly init: NetworkInit,
    /** The highest record sequence seen per Session ID, kept by the DHT validator. */
    private readonly sequences: SequenceMemory
  ) {
    this.peerId = libp2p.peerId.toString()
    // One delivery stream per peer during a burst, for 1:1 and group envelopes alike.
    const sender = new DeliverSender({ libp2p })
    this.transport = new EnvelopeTransport({
      libp2p,
      sender,
      reputation,
      lookupRouting: async (peer) => await this.routingOf(peer),
      log: init.logger.forComponent('sotto:transport'),
      now: init.now
    })
    this.groups = new GroupTransport({
      libp2p,
      sender,
      lookupRouting: async (peer) => await this.routingOf(peer),
      log: init.logger.forComponent('sotto:groups')
    })
  }

  static async start (init: NetworkInit): Promise<Network> {
    const log = init.logger.forComponent('sotto:net')
    const sequences = new SequenceMemory()
    const libp2p = await createSottoLibp2p({
      privateKey: init.privateKey,
      listen: init.listen,
      bootstrap: init.bootstrap,
      mdns: init.mdns,
      relay: init.relay,
      connectionGater: init.connectionGater,
      validate: createRecordValidator(init.records.check, init.records.sequence, sequences),
      select: createRecordSelector(init.records.compare)
    })
    const mailboxStore = init.mailbox === false
      ? undefined
      : await MailboxStore.open(join(init.dataDir, 'mailbox'), { totalQuotaBytes: init.mailboxQuotaBytes ?? DEFAULT_TOTAL_QUOTA_BYTES, now: init.now })
    const mailboxServer = await registerMailbox(libp2p, { store: mailboxStore, logger: log, now: init.now })
    await registerHolds(libp2p, {
      lookup: async (mailbox, id) => await mailboxStore?.read(mailbox, id),
      acked: (mailbox, id) => mailboxStore?.wasAcked(mailbox, id) ?? false,
      logger: log,
      now: init.now
    })
    const reputation = await MailboxReputation.open(init.dataDir, init.now)
    const network = new Network(libp2p, mailboxStore, reputation, () => { mailboxServer.stop() }, init, sequences)
    await registerDeliver(libp2p, {
      logger: log,
      onEnvelope: async (envelope) => network.envelopeHandler === undefined ? 'locked' : await network.envelopeHandler(envelope)
    })
    network.every(PURGE_INTERVAL_MS, async () => { await mailboxStore?.purgeExpired() })
    network.every(REBALANCE_INTERVAL_MS, async () => { await network.rebalanceMailboxes() })
    return network
  }

  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString())
  }

  stats (): NetworkStats {
    const held = this.mailboxStore?.stats()
    return {
      peers: this.libp2p.getConnections().length,
      routingTable: (this.libp2p.services.dht as unknown as { routingTable?: { size: number } }).routingTable?.size ?? 0,
      mailbox: held === undefined ? undefined : { envelopes: held.envelopes, bytes: held.bytes }
    }
  }

  /** Who receives envelopes delivered directly; without one the node answers "locked". */
  onEnvelope (handler: ((envelope: Uint8Array) => Promise<DeliverVerdict>) | undefined): void {
    this.envelopeHandler = handler
  }

  async publish (sessionId: SessionId, record: Uint8Array): Promise<{ peers: number }> {
    return await publishRecord(this.libp2p.services.dht, sessionId, record, this.init.records.check, { signal: AbortSignal.timeout(PUBLISH_TIMEOUT_MS) })
  }

  async fetchRecord (sessionId: SessionId, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    const signal = AbortSignal.any([AbortSignal.timeout(FIND_RECORD_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
    // A copy at the highest sequence this node has seen for that account needs no second one (D4).
    const sequence = this.sequences.get(sessionId)
    const known = sequence === undefined ? undefined : { sequence, sequenceOf: this.init.records.sequence }
    return await findRecord(this.libp2p.services.dht, sessionId, this.init.records.check, this.init.records.compare, { signal, known })
  }

  async dial (addrs: string[]): Promise<void> {
    const log = this.init.logger.forComponent('sotto:net')
    for (const a of addrs) {
      await this.libp2p.dial(multiaddr(a)).catch((err: unknown) => { log.info('could not dial a bootstrap peer', { code: (err as { name?: string }).name ?? 'ERR' }) })
    }
  }

  /** Re-replicates held envelopes to the peers now closest (runs every minute by itself); one run at a time. */
  async rebalanceMailboxes (): Promise<RebalanceResult> {
    if (this.mailboxStore === undefined) return { handedOn: 0, dropped: 0 }
    const run = this.rebalancing ?? rebalanceMailboxes({
      libp2p: this.libp2p,
      store: this.mailboxStore,
      reputation: this.reputation,
      log: this.init.logger.forComponent('sotto:mailbox'),
      now: this.init.now,
      farSince: this.farSince,
      lastRound: this.lastRound
    })
    this.rebalancing = run
    try { return await run } finally { this.rebalancing = undefined }
  }

  async stop (): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.groups.stop()
    await this.rebalancing?.catch(() => {})
    this.stopMailboxServer()
    // Envelopes still in flight on open delivery streams fail now (the outbox keeps them).
    this.transport.stop()
    await this.libp2p.stop()
    await this.mailboxStore?.close()
    await this.reputation.close()
  }

  /** Where a contact's device is now, from its record in the DHT (attachments fetch from it). */
  async routing (peer: SessionId): Promise<Routing | undefined> {
    return await this.routingOf(peer)
  }

  private async routingOf (peer: SessionId): Promise<Routing | undefined> {
    const record = await this.fetchRecord(peer)
    return record === undefined ? undefined : decodeRouting(this.init.records.routingField(peer, record))
  }

  private every (ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => { void task().catch(() => {}) }, ms)
    timer.unref()
    this.timers.push(timer)
  }
}

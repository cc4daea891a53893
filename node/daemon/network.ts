/**
 * The node's network side, as the daemon sees it: the libp2p node, prekey records in the DHT
 * (validated with node/crypto's record parser), direct delivery, and the transport the
 * messenger sends through. Runs whether or not an account is unlocked.
 */
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.js'
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import { parseRecord, recordSequence } from '../crypto/bundle.js'
import type { EnvelopeTransport, DeliveryResult } from '../messaging/ports.js'
import { createSottoLibp2p, type SottoLibp2p } from '../net/libp2p.js'
import { createRecordSelector, createRecordValidator, findRecord, publishRecord } from '../net/records.js'
import { deliverEnvelope, registerDeliver, type DeliverVerdict } from '../net/deliver.js'
import { decodeRouting, type Routing } from './routing.js'
import type { AccountCrypto } from './session-crypto.js'
import { join } from 'node:path'
import { MailboxStore } from '../net/mailbox/store.js'
import { registerMailbox } from '../net/mailbox/protocol.js'
import { DEFAULT_TOTAL_QUOTA_BYTES, PURGE_INTERVAL_MS } from '../net/mailbox/constants.js'
import { putInMailboxes, rebalanceMailboxes, REBALANCE_INTERVAL_MS } from './mailboxes.js'

/** How long a contact's routing (PeerId, addresses) is reused before asking the DHT again. */
const ROUTING_CACHE_MS = 5 * 60_000
const FIND_RECORD_TIMEOUT_MS = 10_000

export interface Network {
  readonly peerId: string
  readonly libp2p: SottoLibp2p
  addresses: () => string[]
  stats: () => { peers: number, routingTable: number, mailbox?: { envelopes: number, bytes: number } }
  onEnvelope: (handler: (envelope: Uint8Array) => Promise<DeliverVerdict>) => void
  publish: (sessionId: SessionId, record: Uint8Array) => Promise<{ peers: number }>
  fetchRecord: (sessionId: SessionId, options?: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>
  transportFor: (crypto: AccountCrypto) => EnvelopeTransport
  dial: (addrs: string[]) => Promise<void>
  /** Re-replicates held envelopes to the peers now closest (runs every minute by itself). */
  rebalanceMailboxes: () => Promise<{ handedOn: number, dropped: number }>
  stop: () => Promise<void>
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
  logger: Logger
  now: () => number
}

export async function startNetwork (init: NetworkInit): Promise<Network> {
  const log = init.logger.forComponent('sotto:net')
  const check = (sessionId: string, value: Uint8Array): void => { parseRecord(value, parseSessionId(sessionId), init.now()) }
  const compare = (a: Uint8Array, b: Uint8Array): number => recordSequence(a) - recordSequence(b)
  const libp2p = await createSottoLibp2p({
    privateKey: init.privateKey,
    listen: init.listen,
    bootstrap: init.bootstrap,
    mdns: init.mdns,
    relay: init.relay,
    validate: createRecordValidator(check, recordSequence),
    select: createRecordSelector(compare)
  })
  let handler: ((envelope: Uint8Array) => Promise<DeliverVerdict>) | undefined
  await registerDeliver(libp2p, {
    logger: log,
    onEnvelope: async (envelope) => handler === undefined ? 'locked' : await handler(envelope)
  })
  const routingCache = new Map<string, { routing: Routing, at: number }>()
  const mailboxStore = init.mailbox === false ? undefined : await MailboxStore.open(join(init.dataDir, 'mailbox'), { totalQuotaBytes: init.mailboxQuotaBytes ?? DEFAULT_TOTAL_QUOTA_BYTES, now: init.now })
  const mailboxServer = await registerMailbox(libp2p, { store: mailboxStore, logger: log, now: init.now })
  const purgeTimer = setInterval(() => { void mailboxStore?.purgeExpired().catch(() => 0) }, PURGE_INTERVAL_MS)
  purgeTimer.unref()
  let rebalancing: Promise<unknown> | undefined
  const rebalance = async (): Promise<{ handedOn: number, dropped: number }> => {
    if (mailboxStore === undefined) return { handedOn: 0, dropped: 0 }
    const run = rebalancing ?? rebalanceMailboxes(libp2p, mailboxStore, log, init.now)
    rebalancing = run
    try { return await run as { handedOn: number, dropped: number } } finally { rebalancing = undefined }
  }
  const rebalanceTimer = setInterval(() => { void rebalance().catch(() => {}) }, REBALANCE_INTERVAL_MS)
  rebalanceTimer.unref()

  async function fetchRecord (sessionId: SessionId, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    const signal = AbortSignal.any([AbortSignal.timeout(FIND_RECORD_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
    return await findRecord(libp2p.services.dht, sessionId, check, compare, { signal })
  }

  async function routingOf (peer: SessionId, fresh: boolean): Promise<Routing | undefined> {
    const cached = routingCache.get(peer)
    if (!fresh && cached !== undefined && init.now() - cached.at < ROUTING_CACHE_MS) return cached.routing
    const record = await fetchRecord(peer).catch(() => undefined)
    if (record === undefined) return undefined
    const routing = decodeRouting(parseRecord(record, peer, init.now()).routing)
    routingCache.set(peer, { routing, at: init.now() })
    return routing
  }

  return {
    peerId: libp2p.peerId.toString(),
    libp2p,
    addresses: () => libp2p.getMultiaddrs().map((a) => a.toString()),
    stats: () => ({
      peers: libp2p.getConnections().length,
      routingTable: (libp2p.services.dht as unknown as { routingTable?: { size: number } }).routingTable?.size ?? 0,
      mailbox: mailboxStore === undefined ? undefined : { envelopes: mailboxStore.stats().envelopes, bytes: mailboxStore.stats().bytes }
    }),
    onEnvelope (h) { handler = h },
    async publish (sessionId, record) {
      return await publishRecord(libp2p.services.dht, sessionId, record, check, { signal: AbortSignal.timeout(30_000) })
    },
    fetchRecord,
    transportFor (_crypto) {
      return {
        async deliver (peer, envelope, options = {}): Promise<DeliveryResult> {
          for (const fresh of [false, true]) {
            const routing = await routingOf(peer, fresh)
            if (routing === undefined) break
            const result = await deliverEnvelope(libp2p, routing.peerId, routing.addrs, envelope, options)
            if (result.ok) return { ok: true, via: 'direct' }
            if (result.error === 'REFUSED' || result.error === 'PROTOCOL') return { ok: false, error: result.error }
            if (result.error === 'LOCKED') break
          }
          // Not reachable now (offline, or locked): leave it sealed with the mailboxes.
          const stored = await putInMailboxes(libp2p, peer, envelope, log)
          return stored.count > 0 ? { ok: true, via: 'mailbox', mailboxes: stored.count, expiresAt: stored.expiresAt } : { ok: false, error: 'UNREACHABLE' }
        }
      }
    },
    async dial (addrs) {
      for (const a of addrs) await libp2p.dial(multiaddr(a)).catch((err: unknown) => { log.info('could not dial a bootstrap peer', { code: (err as { name?: string }).name ?? 'ERR' }) })
    },
    rebalanceMailboxes: rebalance,
    async stop () {
      clearInterval(purgeTimer)
      clearInterval(rebalanceTimer)
      await rebalancing?.catch(() => {})
      mailboxServer.stop()
      await libp2p.stop()
      await mailboxStore?.close()
    }
  }
}

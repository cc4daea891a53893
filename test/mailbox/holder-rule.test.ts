/**
 * The holder rule on real libp2p nodes (node/net/mailbox/placement.ts): a node that is no
 * longer among the k closest to a mailbox key keeps its copy until it has been far for a
 * grace period and each of the k closer peers proved (not said) that it holds the envelope,
 * with enough of them trusted from earlier proofs. The clock is passed in and moved forward,
 * so grace and trust windows pass without waiting.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import { recordRules } from '../../node/daemon/sotto-node.js'
import { silentLogger } from '../../node/log.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { byDistance } from '../../node/net/kad-distance.js'
import { DEFAULT_TTL_MS } from '../../node/net/mailbox/constants.js'
import { closestPeers, MAILBOX_REPLICAS, RELEASE_GRACE_MS } from '../../node/net/mailbox/placement.js'
import { registerHolds } from '../../node/net/mailbox/possession.js'
import { putEnvelope, registerMailbox } from '../../node/net/mailbox/protocol.js'
import { TRUST_MIN_AGE_MS } from '../../node/net/mailbox/reputation.js'
import { envelopeId, MailboxStore } from '../../node/net/mailbox/store.js'
import { Network } from '../../node/net/network.js'
import { createRecordSelector, createRecordValidator } from '../../node/net/records.js'
import { tempDir } from '../helpers/cli.js'
import { waitFor } from '../helpers/nodes.js'

const HOUR = TRUST_MIN_AGE_MS
let skew = 0
const now = (): number => Date.now() + skew
const dirs: Array<{ remove: () => Promise<void> }> = []
const running: Array<{ stop: () => void | Promise<void> }> = []

afterAll(async () => {
  await Promise.all(running.map(async (n) => { await Promise.resolve(n.stop()).catch(() => {}) }))
  await Promise.all(dirs.map(async (d) => { await d.remove() }))
})

/** `count` fresh keys, closest to `mailbox` first. */
async function keysByDistance (mailbox: Uint8Array, count: number): Promise<PrivateKey[]> {
  const keys = await Promise.all(Array.from({ length: count }, async () => await generateKeyPair('Ed25519')))
  const byPeer = new Map(keys.map((k) => [peerIdFromPrivateKey(k).toString(), k]))
  return byDistance(mailbox, keys.map((k) => peerIdFromPrivateKey(k))).map((p) => byPeer.get(p.toString()) as PrivateKey)
}

async function honestNode (privateKey: PrivateKey, bootstrap: string[], mailbox = true): Promise<Network> {
  const dir = await tempDir('sotto-holder-')
  dirs.push(dir)
  const network = await Network.start({
    dataDir: join(dir.path, 'data'),
    mailbox,
    privateKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    mdns: false,
    relay: false,
    records: recordRules(now),
    logger: silentLogger,
    now
  })
  running.push(network)
  return network
}

/**
 * An attacker's mailbox: answers "ok" to every put and keeps nothing, and answers every
 * possession check with a made-up digest. A fake by nature: it stands for a malicious peer.
 */
async function lyingMailbox (privateKey: PrivateKey, bootstrap: string[]): Promise<SottoLibp2p> {
  const dir = await tempDir('sotto-liar-')
  dirs.push(dir)
  const store = await MailboxStore.open(join(dir.path, 'mailbox'), { totalQuotaBytes: 1 << 20, now })
  store.put = async (_mailbox, envelope) => ({ ok: true, id: envelopeId(envelope), expiresAt: now() + 60_000, duplicate: false })
  const rules = recordRules(now)
  const libp2p = await createSottoLibp2p({ privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, validate: createRecordValidator(rules.check, rules.sequence), select: createRecordSelector(rules.compare) })
  await registerMailbox(libp2p, { store, logger: silentLogger.forComponent('liar'), now })
  await registerHolds(libp2p, { lookup: async () => new Uint8Array(randomBytes(64)), acked: () => false, logger: silentLogger.forComponent('liar'), now })
  running.push(libp2p)
  return libp2p
}

const holds = (n: Network): boolean => (n.stats().mailbox?.envelopes ?? 0) > 0
const routingTable = (l: SottoLibp2p): number => (l.services.dht as unknown as { routingTable: { size: number } }).routingTable.size

describe('mailbox holder rule', () => {
  it('M6: a far holder keeps its copy while a closer peer refuses it, and lets go only after the grace period, once the k closest proved they hold it and enough are trusted', async () => {
    const mailbox = new Uint8Array(randomBytes(32))
    const envelope = new Uint8Array(randomBytes(2048))
    const keys = await keysByDistance(mailbox, MAILBOX_REPLICAS + 3)
    const nodes: Network[] = []
    // The closest peer serves no mailbox: it answers every put with DISABLED.
    for (const [i, k] of keys.entries()) nodes.push(await honestNode(k, nodes.map((n) => n.addresses()[0]), i !== 0))
    await waitFor('routing tables', async () => nodes.every((n) => routingTable(n.libp2p) >= keys.length - 1), 30_000)
    // Six peers are closer than this one: it is not a holder, and its k closest others include the refusing peer.
    const far = nodes[MAILBOX_REPLICAS + 1]
    expect(await putEnvelope(nodes[nodes.length - 1].libp2p, far.libp2p.peerId, mailbox, envelope, DEFAULT_TTL_MS)).toMatchObject({ ok: true, duplicate: false })

    expect((await far.rebalanceMailboxes()).dropped).toBe(0)
    expect(holds(far)).toBe(true)
    // The four accepting peers among the k closest took a copy; the refusing one could not.
    expect(nodes.slice(1, MAILBOX_REPLICAS).every(holds)).toBe(true)
    expect(holds(nodes[0])).toBe(false)

    // Without the refusing peer, the far node's k closest others all accept, but they are not yet trusted.
    const refusing = nodes.shift() as Network
    await refusing.stop()
    await waitFor('the refusing peer out of the far node\'s lookups', async () =>
      !(await closestPeers(far.libp2p, mailbox, MAILBOX_REPLICAS)).some((p) => p.equals(refusing.libp2p.peerId)), 30_000)
    expect((await far.rebalanceMailboxes()).dropped).toBe(0)
    skew += RELEASE_GRACE_MS
    expect((await far.rebalanceMailboxes()).dropped).toBe(0)
    expect(holds(far)).toBe(true)
    // An hour later, every closer peer has proved possession three times: now the far copy goes.
    skew += HOUR
    expect((await far.rebalanceMailboxes()).dropped).toBe(1)
    expect(holds(far)).toBe(false)
    expect(nodes.slice(0, MAILBOX_REPLICAS).every(holds)).toBe(true)
  })

  it('M6: k+1 lying mailboxes closer than every honest holder cannot make it drop its copy, however long they stay', async () => {
    const mailbox = new Uint8Array(randomBytes(32))
    const envelope = new Uint8Array(randomBytes(2048))
    // PeerIds cost nothing: the attacker takes the k+1 keys closest to the victim's mailbox.
    const keys = await keysByDistance(mailbox, 40)
    const honest: Network[] = []
    for (const k of keys.slice(MAILBOX_REPLICAS + 1, MAILBOX_REPLICAS + 8)) honest.push(await honestNode(k, honest.map((n) => n.addresses()[0])))
    const holder = honest[0]
    await waitFor('routing tables', async () => honest.every((n) => routingTable(n.libp2p) >= honest.length - 1), 30_000)
    expect(await putEnvelope(honest[1].libp2p, holder.libp2p.peerId, mailbox, envelope, DEFAULT_TTL_MS)).toMatchObject({ ok: true })
    const liars: SottoLibp2p[] = []
    for (const k of keys.slice(0, MAILBOX_REPLICAS + 1)) liars.push(await lyingMailbox(k, honest.map((n) => n.addresses()[0])))
    await waitFor('the liars in the holder\'s lookups', async () =>
      (await closestPeers(holder.libp2p, mailbox, MAILBOX_REPLICAS)).every((p) => liars.some((l) => l.peerId.equals(p))), 30_000)

    for (let round = 0; round < 6; round++) {
      const r = await holder.rebalanceMailboxes()
      expect(r.dropped).toBe(0)
      expect(holds(holder)).toBe(true)
      skew += HOUR
    }
  })
})

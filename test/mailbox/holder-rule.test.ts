/**
 * The holder rule on real libp2p nodes (node/net/mailbox/placement.ts): a node that is no
 * longer among the k closest to a mailbox key keeps its copy until each of the k closer
 * peers confirmed it holds the envelope. One closer peer that refuses (its mailbox is off)
 * is enough to keep the copy; once the k closest all take it, the far node lets go.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordRules } from '../../node/daemon/sotto-node.js'
import { silentLogger } from '../../node/log.js'
import { byDistance } from '../../node/net/kad-distance.js'
import { closestPeers, MAILBOX_REPLICAS } from '../../node/net/mailbox/placement.js'
import { putEnvelope } from '../../node/net/mailbox/protocol.js'
import { Network } from '../../node/net/network.js'
import { tempDir } from '../helpers/cli.js'
import { waitFor } from '../helpers/nodes.js'

const NODES = MAILBOX_REPLICAS + 3
const mailbox = new Uint8Array(randomBytes(32))
const envelope = new Uint8Array(randomBytes(2048))
/** Closest to the mailbox key first. */
let ordered: Network[] = []
const dirs: Array<{ remove: () => Promise<void> }> = []

beforeAll(async () => {
  const keys: PrivateKey[] = await Promise.all(Array.from({ length: NODES }, async () => await generateKeyPair('Ed25519')))
  const byPeer = new Map(keys.map((k) => [peerIdFromPrivateKey(k).toString(), k]))
  const order = byDistance(mailbox, keys.map((k) => peerIdFromPrivateKey(k))).map((p) => byPeer.get(p.toString()) as PrivateKey)
  for (const [i, privateKey] of order.entries()) {
    const dir = await tempDir('sotto-holder-')
    dirs.push(dir)
    const network = await Network.start({
      dataDir: join(dir.path, 'data'),
      // The closest peer serves no mailbox: it answers every put with DISABLED.
      mailbox: i !== 0,
      privateKey,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      // Everyone dials everyone before it: a small, fully known network.
      bootstrap: ordered.map((n) => n.addresses()[0]),
      mdns: false,
      relay: false,
      records: recordRules(Date.now),
      logger: silentLogger,
      now: Date.now
    })
    ordered.push(network)
  }
  await waitFor('routing tables', async () => ordered.every((n) => n.stats().routingTable >= NODES - 1), 30_000)
}, 60_000)

afterAll(async () => {
  await Promise.all(ordered.map(async (n) => await n.stop().catch(() => {})))
  await Promise.all(dirs.map(async (d) => await d.remove()))
})

const holds = (n: Network): boolean => (n.stats().mailbox?.envelopes ?? 0) > 0

describe('mailbox holder rule', () => {
  it('a far holder keeps its copy while one of the k closer peers refuses it, and lets go once the k closest confirmed', async () => {
    // Six peers are closer than this one: it is not a holder, and its k closest others include the refusing peer.
    const far = ordered[MAILBOX_REPLICAS + 1]
    const sender = ordered[NODES - 1]
    const put = await putEnvelope(sender.libp2p, far.libp2p.peerId, mailbox, envelope, 60_000)
    expect(put).toMatchObject({ ok: true, duplicate: false })

    const first = await far.rebalanceMailboxes()
    expect(first.dropped).toBe(0)
    expect(holds(far)).toBe(true)
    // The four accepting peers among the k closest took a copy; the refusing one could not.
    expect(ordered.slice(1, MAILBOX_REPLICAS).every(holds)).toBe(true)
    expect(holds(ordered[0])).toBe(false)

    // Without the refusing peer, the far node's k closest others all accept.
    const refusing = ordered[0]
    await refusing.stop()
    ordered = ordered.slice(1)
    await waitFor('the refusing peer out of the far node\'s lookups', async () =>
      !(await closestPeers(far.libp2p, mailbox, MAILBOX_REPLICAS)).some((p) => p.equals(refusing.libp2p.peerId)), 30_000)
    const second = await far.rebalanceMailboxes()
    expect(second.dropped).toBe(1)
    expect(holds(far)).toBe(false)
    expect(ordered.slice(0, MAILBOX_REPLICAS).every(holds)).toBe(true)
  })
})

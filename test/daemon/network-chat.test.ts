/**
 * The main path on real nodes: ten libp2p nodes on loopback, A and B not connected to each
 * other; A finds B's prekey record through the DHT, opens a session, B reads it, B replies;
 * both restart and keep talking on the same sessions.
 *
 * In a network this small the DHT would connect every node to every other while it fills its
 * tables (k is 20), A and B included. So A's and B's nodes are given a connection gater (the
 * node's `connectionGater` option, libp2p's own mechanism) that refuses the other one until
 * A sends; nothing else about them changes.
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionId } from '../../node/identity/session-id.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

/** While true, A and B refuse connections with each other; what each refused and accepted from the other. */
const pair = { apart: true, refused: 0, acceptedAfter: 0, peerIds: { A: '', B: '' } }

/** The gater (a real libp2p option of the node) that keeps A and B apart until A sends. */
function keepApartFrom (other: 'A' | 'B'): ConnectionGater {
  const isOther = (peer: PeerId): boolean => peer.toString() === pair.peerIds[other]
  const decide = (peer: PeerId): boolean => {
    if (!isOther(peer)) return false
    if (pair.apart) { pair.refused++; return true }
    pair.acceptedAfter++
    return false
  }
  return { denyDialPeer: async (peer) => decide(peer), denyInboundEncryptedConnection: async (peer) => decide(peer) }
}

const nodes: TestNode[] = []
let a: TestNode
let b: TestNode
let aliceId: SessionId
let bobId: SessionId

beforeAll(async () => {
  // Eight nodes with no account: every node serves the DHT, as R21 says.
  const first = await startTestNode()
  nodes.push(first)
  for (let i = 1; i < 8; i++) nodes.push(await startTestNode({ bootstrapFrom: [nodes[i - 1].node, first.node] }))
  a = await startTestNode({ bootstrapFrom: [nodes[1].node, nodes[2].node], connectionGater: keepApartFrom('B') })
  pair.peerIds.A = a.node.peerId
  b = await startTestNode({ bootstrapFrom: [nodes[6].node, nodes[7].node], connectionGater: keepApartFrom('A') })
  pair.peerIds.B = b.node.peerId
  nodes.push(a, b)
  aliceId = (await a.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  bobId = (await b.node.controller.restoreAccount('legal winner thank year wave sausage worth useful legal winner thank yellow', TEST_PASSPHRASE)).sessionId as SessionId
  await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
}, 120_000)

afterAll(async () => { await Promise.all(nodes.map(async (n) => await n.node.stop())) })

describe('two people chatting over a 10-node network', () => {
  it('A and B start without a direct connection, each on the network through others', async () => {
    // The DHT tried to connect them (it would, in a network this small) and was refused.
    await waitFor('a refused connection between A and B', async () => pair.refused > 0)
    expect(pair.acceptedAfter).toBe(0)
    expect((await a.node.controller.status()).peers).toBeGreaterThan(0)
    expect((await b.node.controller.status()).peers).toBeGreaterThan(0)
  })

  it('A finds B through the DHT and B reads the message; B replies; states reach "delivered" and "read"', async () => {
    // From here on A and B may connect; until now every attempt was refused.
    pair.apart = false
    const sent = await a.node.controller.messenger().send(bobId, 'hello Bob, from Alice')
    // Delivered straight to B: A dialled B with what the DHT told it of B.
    expect(sent.state).toBe('delivered')
    expect(pair.acceptedAfter).toBeGreaterThan(0)
    const inbox = await waitFor('message at B', async () => {
      const msgs = await b.node.controller.messenger().log.inbox(0)
      return msgs.length > 0 ? msgs : undefined
    })
    expect(inbox[0].text).toBe('hello Bob, from Alice')
    expect(inbox[0].peer).toBe(aliceId)
    // A stranger's first message is a request until accepted.
    expect((await b.node.controller.messenger().contacts.get(aliceId))?.state).toBe('request')
    await b.node.controller.messenger().contacts.update(aliceId, { state: 'accepted' })
    const reply = await b.node.controller.messenger().send(aliceId, 'hi Alice!')
    expect(reply.state).toBe('delivered')
    const atAlice = await waitFor('reply at A', async () => (await a.node.controller.messenger().log.inbox(0))[0])
    expect(atAlice.text).toBe('hi Alice!')
    await b.node.controller.messenger().markRead(aliceId)
    await waitFor('read receipt at A', async () => (await a.node.controller.messenger().log.find(bobId, sent.id))?.state === 'read')
  })

  it('after both restart, they keep talking on the same sessions, with history kept', async () => {
    await a.restart({ passphrase: TEST_PASSPHRASE })
    await b.restart({ passphrase: TEST_PASSPHRASE })
    await waitFor('records republished', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
    const history = await a.node.controller.messenger().log.conversation(bobId)
    expect(history.map((m) => m.text)).toEqual(['hello Bob, from Alice', 'hi Alice!'])
    const again = await a.node.controller.messenger().send(bobId, 'still here after a restart')
    expect(again.state).toBe('delivered')
    await waitFor('second message at B', async () => (await b.node.controller.messenger().log.inbox(0)).find((m) => m.text === 'still here after a restart'))
    const back = await b.node.controller.messenger().send(aliceId, 'me too')
    expect(back.state).toBe('delivered')
  })
})

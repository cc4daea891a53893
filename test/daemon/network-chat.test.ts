/**
 * Issue 6's main path on real nodes: ten libp2p nodes on loopback, A and B not connected to
 * each other; A finds B's prekey record through the DHT, opens a session, B reads it, B
 * replies; both restart and keep talking on the same sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionId } from '../../node/identity/session-id.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

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
  a = await startTestNode({ bootstrapFrom: [nodes[1].node, nodes[2].node] })
  b = await startTestNode({ bootstrapFrom: [nodes[6].node, nodes[7].node] })
  nodes.push(a, b)
  aliceId = (await a.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  bobId = (await b.node.controller.restoreAccount('legal winner thank year wave sausage worth useful legal winner thank yellow', TEST_PASSPHRASE)).sessionId as SessionId
  await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
}, 120_000)

afterAll(async () => { await Promise.all(nodes.map(async (n) => await n.node.stop())) })

describe('two people chatting over a 10-node network', () => {
  it('A and B start without a direct connection', async () => {
    const status = await a.node.controller.status()
    expect(status.peers).toBeGreaterThan(0)
    const bPeer = b.node.peerId
    expect((await a.node.controller.status()).addresses.some((x) => x.includes(bPeer))).toBe(false)
  })

  it('A finds B through the DHT and B reads the message; B replies; states reach "delivered" and "read"', async () => {
    const sent = await a.node.controller.messenger().send(bobId, 'hello Bob, from Alice')
    expect(sent.state).toBe('delivered')
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

/**
 * Churn (issue 7): when mailboxes holding an envelope leave, the remaining holders hand it on
 * to the peers now closest to the mailbox key, so replication climbs back towards k, and the
 * recipient still gets the message exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionId } from '../../node/identity/session-id.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

const relays: TestNode[] = []
let a: TestNode
let b: TestNode
let bobId: SessionId

beforeAll(async () => {
  relays.push(await startTestNode())
  for (let i = 1; i < 9; i++) relays.push(await startTestNode({ bootstrapFrom: [relays[i - 1].node, relays[0].node] }))
  a = await startTestNode({ bootstrapFrom: [relays[2].node] })
  b = await startTestNode({ bootstrapFrom: [relays[6].node] })
  await a.node.controller.createAccount(TEST_PASSPHRASE)
  bobId = (await b.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  await waitFor('records', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
}, 120_000)

afterAll(async () => { await Promise.all([...relays, a, b].map(async (n) => await n.node.stop())) })

const holdersOf = async (nodes: TestNode[]): Promise<number> =>
  (await Promise.all(nodes.map(async (r) => ((await r.node.controller.status()).mailbox?.envelopes ?? 0) > 0))).filter(Boolean).length

describe('mailbox churn', () => {
  it('remaining holders re-replicate after two leave; the recipient still gets it once', async () => {
    await b.node.stop()
    const sent = await a.node.controller.messenger().send(bobId, 'survives churn')
    expect(sent.state).toBe('stored')
    const holding = await Promise.all(relays.map(async (r) => ((await r.node.controller.status()).mailbox?.envelopes ?? 0) > 0))
    const holders = holding.map((h, i) => h ? i : -1).filter((i) => i > 0)
    expect(holders.length).toBeGreaterThanOrEqual(3)
    await relays[holders[0]].node.stop()
    await relays[holders[1]].node.stop()
    const alive = relays.filter((_, i) => i !== holders[0] && i !== holders[1])
    const before = await holdersOf(alive)
    for (const r of alive) await r.node.rebalanceMailboxes()
    const after = await holdersOf(alive)
    expect(after).toBeGreaterThan(before)
    expect(after).toBeGreaterThanOrEqual(Math.min(5, alive.length) - 1)
    await b.restart({ passphrase: TEST_PASSPHRASE, bootstrap: [alive[1].node.addresses()[0]] })
    await waitFor('message after churn', async () => (await b.node.controller.messenger().log.inbox(0)).some((m) => m.text === 'survives churn'), 20_000)
    await new Promise((r) => setTimeout(r, 1000))
    expect((await b.node.controller.messenger().log.inbox(0)).filter((m) => m.text === 'survives churn')).toHaveLength(1)
  })
})

/**
 * Soak test with churn, bounded in time: 20 nodes, of which 10 are users; nodes
 * stop and start at random while users send to each other; at the end, with every node back,
 * every message sent is delivered exactly once. Run with `npm run test:soak` (not in npm test).
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { SessionId } from '../../node/identity/session-id.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

const NODES = 20
const USERS = 10
const ROUNDS = 12
const all: TestNode[] = []
afterAll(async () => { await Promise.all(all.map(async (n) => await n.node.stop().catch(() => {}))) })

function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

describe('churn soak', () => {
  it('every message sent among 10 users on 20 churning nodes is delivered exactly once', async () => {
    const random = rng(Number(process.env.SOAK_SEED ?? 7))
    all.push(await startTestNode())
    for (let i = 1; i < NODES; i++) all.push(await startTestNode({ bootstrapFrom: [all[0].node, all[Math.floor(random() * i)].node] }))
    const users = all.slice(NODES - USERS)
    const ids: SessionId[] = []
    for (const u of users) ids.push((await u.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId)
    await waitFor('records', async () => (await Promise.all(users.map(async (u) => (await u.node.controller.status()).dht.recordPublished))).every(Boolean), 60_000, 200)
    const online = new Set(all.map((_, i) => i))
    const sent: Array<{ to: number, text: string }> = []
    const bootstrapOf = () => [...online].slice(0, 3).map((i) => all[i].node.addresses()[0])
    for (let round = 0; round < ROUNDS; round++) {
      // Churn: stop one node, bring one stopped node back (never node 0, the bootstrap).
      const victim = 1 + Math.floor(random() * (NODES - 1))
      if (online.has(victim) && online.size > NODES - 4) {
        await all[victim].node.stop()
        online.delete(victim)
      } else if (!online.has(victim)) {
        await all[victim].restart({ passphrase: victim >= NODES - USERS ? TEST_PASSPHRASE : undefined, bootstrap: bootstrapOf() })
        online.add(victim)
      }
      for (let k = 0; k < 3; k++) {
        const from = NODES - USERS + Math.floor(random() * USERS)
        let to = NODES - USERS + Math.floor(random() * USERS)
        if (to === from) to = NODES - USERS + ((to - (NODES - USERS) + 1) % USERS)
        if (!online.has(from)) continue
        const text = `soak ${round}-${k} from ${from} to ${to}`
        const m = await all[from].node.controller.messenger().send(ids[to - (NODES - USERS)], text)
        if (m.state !== 'failed') sent.push({ to, text })
      }
    }
    for (let i = 0; i < NODES; i++) {
      if (!online.has(i)) {
        await all[i].restart({ passphrase: i >= NODES - USERS ? TEST_PASSPHRASE : undefined, bootstrap: bootstrapOf() })
        online.add(i)
      }
    }
    expect(sent.length).toBeGreaterThan(ROUNDS)
    await waitFor('every message delivered', async () => {
      for (const s of sent) {
        const inbox = await all[s.to].node.controller.messenger().log.inbox(0, 500)
        if (!inbox.some((m) => m.text === s.text)) return false
      }
      return true
    }, 120_000, 1000)
    for (const s of sent) {
      const inbox = await all[s.to].node.controller.messenger().log.inbox(0, 500)
      expect(inbox.filter((m) => m.text === s.text), s.text).toHaveLength(1)
    }
  }, 300_000)
})

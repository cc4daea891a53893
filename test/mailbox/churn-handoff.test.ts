/**
 * Mailbox holders on a stable network and under churn, on real nodes: copies of an envelope
 * for an offline recipient go to the k peers closest to its mailbox key (a holder counts
 * itself); a copy on a peer that is not among them stays until the grace period has passed
 * and the k closest proved they hold it and are trusted, then the copies sit on exactly the
 * k closest and stop moving. When two holders leave, the copies climb back to the peers now
 * closest. The recipient gets the message once. The nodes share a clock the test moves
 * forward, so the grace and trust windows pass without waiting.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionIdToX25519, type SessionId } from '../../node/identity/session-id.js'
import { byDistance } from '../../node/net/kad-distance.js'
import { mailboxKeyFor } from '../../node/net/mailbox/proof.js'
import { MAILBOX_REPLICAS, RECHECK_UNCHANGED_MS, RELEASE_GRACE_MS } from '../../node/net/mailbox/placement.js'
import { TRUST_MIN_AGE_MS } from '../../node/net/mailbox/reputation.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let skew = 0
const now = (): number => Date.now() + skew
const relays: TestNode[] = []
let a: TestNode
let b: TestNode
let bobId: SessionId
let mailbox: Uint8Array

beforeAll(async () => {
  relays.push(await startTestNode({ now }))
  for (let i = 1; i < 10; i++) relays.push(await startTestNode({ now, bootstrapFrom: [relays[i - 1].node, relays[0].node] }))
  a = await startTestNode({ now, bootstrapFrom: [relays[2].node] })
  b = await startTestNode({ now, bootstrapFrom: [relays[6].node] })
  await a.node.controller.createAccount(TEST_PASSPHRASE)
  bobId = (await b.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  mailbox = mailboxKeyFor(sessionIdToX25519(bobId))
  await waitFor('records', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
}, 120_000)

afterAll(async () => { await Promise.all([...relays, a, b].map(async (n) => await n.node.stop())) })

const held = async (n: TestNode): Promise<number> => (await n.node.controller.status()).mailbox?.envelopes ?? 0
/** PeerIds of the nodes that hold a copy, sorted. */
const holders = async (nodes: TestNode[]): Promise<string[]> =>
  (await Promise.all(nodes.map(async (n) => await held(n) > 0 ? n.node.peerId : undefined))).filter((p): p is string => p !== undefined).sort()
/** The k nodes closest to Bob's mailbox key among `nodes`, by kad-dht's metric. */
const trueClosest = (nodes: TestNode[]): string[] =>
  byDistance(mailbox, nodes.map((n) => peerIdFromString(n.node.peerId))).slice(0, MAILBOX_REPLICAS).map((p) => p.toString()).sort()

async function rebalanceRound (nodes: TestNode[]): Promise<{ handedOn: number, dropped: number }> {
  const total = { handedOn: 0, dropped: 0 }
  for (const n of nodes) {
    const r = await n.node.rebalanceMailboxes()
    total.handedOn += r.handedOn
    total.dropped += r.dropped
  }
  return total
}

/**
 * Rounds across the grace period and the trust window: a far copy may go only after both.
 * An unchanged mailbox is checked once per RECHECK_UNCHANGED_MS, so the clock moves by that
 * much between the rounds that earn trust; the last round is the one that may let go.
 */
async function roundsUntilSettled (nodes: TestNode[]): Promise<void> {
  await rebalanceRound(nodes)
  skew += Math.max(RELEASE_GRACE_MS, RECHECK_UNCHANGED_MS)
  await rebalanceRound(nodes)
  skew += TRUST_MIN_AGE_MS
  await rebalanceRound(nodes)
  await rebalanceRound(nodes)
}

async function bobReturnsAndGetsItOnce (text: string, alive: TestNode[]): Promise<void> {
  await b.restart({ passphrase: TEST_PASSPHRASE, bootstrap: [alive[1].node.addresses()[0]] })
  await waitFor(`"${text}" at Bob`, async () => (await b.node.controller.messenger().log.inbox(0)).some((m) => m.text === text), 30_000)
  // Bob acks every copy once it is committed: when none is left anywhere, all copies were handled.
  await waitFor('every copy acked', async () => (await holders(alive)).length === 0, 30_000)
  expect((await b.node.controller.messenger().log.inbox(0)).filter((m) => m.text === text)).toHaveLength(1)
}

describe('mailbox holders', () => {
  it('on a stable 12-node network the copies stay on the k closest through several rebalance rounds; the recipient gets it once', async () => {
    await b.node.stop()
    const alive = [...relays, a]
    const sent = await a.node.controller.messenger().send(bobId, 'stable copies')
    expect(sent.state).toBe('stored')
    expect(await holders(alive)).toHaveLength(MAILBOX_REPLICAS)
    // A sender that is itself among the k closest puts on the next peer instead; the first
    // round gives the sender a copy too, and that far copy stays until grace and trust allow.
    await rebalanceRound(alive)
    expect(await holders(alive)).toEqual(expect.arrayContaining(trueClosest(alive)))
    await roundsUntilSettled(alive)
    expect(await holders(alive)).toEqual(trueClosest(alive))
    for (let round = 0; round < 3; round++) {
      expect(await rebalanceRound(alive)).toEqual({ handedOn: 0, dropped: 0 })
      expect(await holders(alive)).toEqual(trueClosest(alive))
    }
    await bobReturnsAndGetsItOnce('stable copies', alive)
  })

  it('after two holders leave, the copies climb back to k on the peers now closest; the recipient gets it once', async () => {
    await b.node.stop()
    const everyone = [...relays, a]
    const sent = await a.node.controller.messenger().send(bobId, 'survives churn')
    expect(sent.state).toBe('stored')
    const before = await holders(everyone)
    expect(before).toHaveLength(MAILBOX_REPLICAS)
    // Stop two holders that are not Alice (she sends the next message from the same node).
    const leaving = relays.filter((r) => before.includes(r.node.peerId)).slice(0, 2)
    for (const r of leaving) await r.node.stop()
    const alive = everyone.filter((n) => !leaving.includes(n))
    expect(await holders(alive)).toHaveLength(MAILBOX_REPLICAS - 2)
    // One round puts copies on every peer now among the k closest.
    await rebalanceRound(alive)
    expect(await holders(alive)).toEqual(expect.arrayContaining(trueClosest(alive)))
    await roundsUntilSettled(alive)
    expect(await holders(alive)).toEqual(trueClosest(alive))
    await bobReturnsAndGetsItOnce('survives churn', alive)
  })
})

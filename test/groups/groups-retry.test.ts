/**
 * Outgoing group messages are retried like 1:1 texts (R11): on three real nodes (Alice and Bob
 * in a group, one node that only routes and holds mailboxes), a message Alice writes while
 * nobody can take it (Bob's node and the holder are off) stays queued, "sending" with the
 * reason; when a peer that can hold it is back it goes into the group mailbox ("stored"),
 * and Bob reads it when his node starts again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall as call, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let a: TestNode
let b: TestNode
let holder: TestNode
const ids: string[] = []
let groupId = ''

const messagesAt = async (n: TestNode): Promise<any[]> => (await call(n, 'GET', `/api/groups/${groupId}/messages`)).json.messages ?? []

beforeAll(async () => {
  a = await startTestNode({ groupCollectEveryMs: 500 })
  holder = await startTestNode({ bootstrapFrom: [a.node] })
  b = await startTestNode({ bootstrapFrom: [a.node], groupCollectEveryMs: 500 })
  for (const n of [a, b]) ids.push((await call(n, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId)
  await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished, 60_000)
  expect((await call(a, 'POST', '/api/contacts', { sessionId: ids[1] })).status).toBe(200)
  expect((await call(b, 'POST', '/api/contacts', { sessionId: ids[0] })).status).toBe(200)
  groupId = (await call(a, 'POST', '/api/groups', { name: 'Later', members: [ids[1]] })).json.group.id
  await waitFor('Bob has the group', async () => (await call(b, 'GET', '/api/groups')).json.groups?.length === 1)
}, 90_000)

afterAll(async () => {
  await Promise.all([a, b, holder].map(async (n) => await n?.node.stop()))
})

describe('group message retries', () => {
  it('a message nobody could take stays queued, goes to the group mailbox when a holder is back, and reaches the member', async () => {
    await b.node.stop()
    await holder.node.stop()
    const sent = await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: 'into the void' })
    expect(sent.status, JSON.stringify(sent.json)).toBe(200)
    expect(sent.json.message).toMatchObject({ state: 'sending', lastError: 'ERR_NO_MAILBOX_PEER' })
    expect(await a.node.groups().delivery.outbox.entries()).toHaveLength(1)
    // The holder comes back (it dials Alice): the queued message goes into the group mailbox.
    await holder.restart()
    const stored = await waitFor('stored', async () => (await messagesAt(a)).find((m) => m.text === 'into the void' && m.state === 'stored'), 30_000)
    expect(stored.mailboxes).toBeGreaterThanOrEqual(1)
    expect(await a.node.groups().delivery.outbox.entries()).toHaveLength(0)
    await b.restart({ passphrase: TEST_PASSPHRASE })
    await waitFor('Bob reads it', async () => (await messagesAt(b)).some((m) => m.text === 'into the void'), 30_000)
  }, 90_000)
})

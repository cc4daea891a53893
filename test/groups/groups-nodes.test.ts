/**
 * Groups on six real nodes (libp2p on loopback, mDNS off, real level stores): three members
 * (Alice, Bob, Carol) and three other nodes that only route and hold mailboxes. Driven through
 * the local API as the web UI and the CLI drive it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let nodes: TestNode[]
let a: TestNode
let b: TestNode
let c: TestNode
const ids: string[] = []
let groupId = ''

const call = apiCall
const groupAt = async (n: TestNode, id: string): Promise<any> => (await call(n, 'GET', '/api/groups')).json.groups?.find((g: any) => g.id === id)
const messagesAt = async (n: TestNode, id: string): Promise<any[]> => (await call(n, 'GET', `/api/groups/${id}/messages`)).json.messages ?? []

beforeAll(async () => {
  a = await startTestNode()
  nodes = [a]
  for (let i = 1; i < 6; i++) nodes.push(await startTestNode({ bootstrapFrom: [a.node] }))
  ;[, b, c] = nodes
  for (const n of [a, b, c]) ids.push((await call(n, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId)
  await waitFor('records published', async () => {
    for (const n of [a, b, c]) if (!(await n.node.controller.status()).dht.recordPublished) return false
    return true
  }, 60_000)
  // Everyone knows everyone: invites are not requests.
  for (const [n, i] of [[a, 0], [b, 1], [c, 2]] as const) {
    for (let j = 0; j < 3; j++) if (j !== i) expect((await call(n, 'POST', '/api/contacts', { sessionId: ids[j] })).status).toBe(200)
  }
}, 120_000)

afterAll(async () => {
  await Promise.all((nodes ?? []).map(async (n) => await n.node.stop()))
})

describe('groups on six nodes', () => {
  it('creates a group of three; every member sees it with its members and admin', async () => {
    const r = await call(a, 'POST', '/api/groups', { name: 'Climbers', members: [ids[1], ids[2]] })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    groupId = r.json.group.id
    expect(r.json.group).toMatchObject({ name: 'Climbers', members: [...ids].sort(), admins: [ids[0]], unread: 0 })
    for (const n of [b, c]) {
      const g = await waitFor('the group at a member', async () => await groupAt(n, groupId))
      expect(g).toMatchObject({ name: 'Climbers', admins: [ids[0]] })
      expect(g.state).toBeUndefined()
    }
  }, 60_000)

  it('every member gets every other member\'s messages, with who said it', async () => {
    const m = await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: 'hello climbers' })
    expect(m.status, JSON.stringify(m.json)).toBe(200)
    expect(m.json.message).toMatchObject({ group: groupId, from: ids[0], direction: 'out' })
    for (const n of [b, c]) {
      await waitFor('Alice\'s message', async () => (await messagesAt(n, groupId)).some((x) => x.text === 'hello climbers' && x.from === ids[0]))
    }
    // Bob's sender key reached Alice and Carol through their 1:1 sessions.
    await waitFor('Bob can send', async () => (await call(b, 'POST', `/api/groups/${groupId}/messages`, { text: 'hi from bob' })).status === 200)
    for (const n of [a, c]) {
      await waitFor('Bob\'s message', async () => (await messagesAt(n, groupId)).some((x) => x.text === 'hi from bob' && x.from === ids[1]))
    }
  }, 60_000)

  it('G1: after Carol is removed she cannot read anything sent to the group, and her UI says she was removed', async () => {
    // A Carol who ignores her removal keeps what she had: the group record and Alice's and Bob's keys.
    const cStore = (c.node.groups() as any).init.store
    const kept = {
      record: await cStore.get(['group', groupId]),
      alice: await cStore.get(['group-key', groupId, ids[0]]),
      bob: await cStore.get(['group-key', groupId, ids[1]])
    }
    const r = await call(a, 'DELETE', `/api/groups/${groupId}/members/${ids[2]}`)
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    expect(r.json.group.members).toEqual([ids[0], ids[1]].sort())
    await waitFor('Carol sees she was removed', async () => (await groupAt(c, groupId))?.removed === true)
    await waitFor('Bob has the new state', async () => (await groupAt(b, groupId))?.members.length === 2)
    // Capture what Alice sends after the removal, and hand it to Carol's node directly.
    const sent: Uint8Array[] = []
    const net = (a.node.groups() as any).init.net
    const publish = net.publish.bind(net)
    net.publish = async (topic: string, data: Uint8Array) => { sent.push(data); return await publish(topic, data) }
    const m = await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: 'carol must not read this' })
    expect(m.status).toBe(200)
    await waitFor('Bob reads it', async () => (await messagesAt(b, groupId)).some((x) => x.text === 'carol must not read this'))
    expect(sent.length).toBe(1)
    const keyIdOf = (v: Uint8Array): string => JSON.parse(new TextDecoder().decode(v)).current.keyId
    const index = (v: Uint8Array, member: string) => ({ type: 'put', key: ['group-key-index', keyIdOf(v)], value: new TextEncoder().encode(JSON.stringify({ group: groupId, member })) })
    await cStore.batch([
      { type: 'put', key: ['group', groupId], value: kept.record },
      { type: 'put', key: ['group-key', groupId, ids[0]], value: kept.alice },
      { type: 'put', key: ['group-key', groupId, ids[1]], value: kept.bob },
      index(kept.alice, ids[0]),
      index(kept.bob, ids[1])
    ])
    const verdict = await c.node.groups().receive(sent[0], groupId)
    expect(verdict).not.toBe('accepted')
    expect((await messagesAt(c, groupId)).some((x: any) => x.text === 'carol must not read this')).toBe(false)
    // Bob rotated too: his next message is under a key Carol never got.
    await waitFor('Bob sends under his new key', async () => (await call(b, 'POST', `/api/groups/${groupId}/messages`, { text: 'bob after removal' })).status === 200)
    await waitFor('Alice reads Bob', async () => (await messagesAt(a, groupId)).some((x) => x.text === 'bob after removal'))
    expect((await messagesAt(c, groupId)).some((x: any) => x.text === 'bob after removal')).toBe(false)
  }, 90_000)

  it('G2: a member who is not an admin cannot change membership; the signed change is refused everywhere', async () => {
    const before = await groupAt(a, groupId)
    const r = await call(b, 'DELETE', `/api/groups/${groupId}/members/${ids[0]}`)
    expect([r.status, r.json.error?.code]).toEqual([403, 'ERR_GROUP_NOT_ADMIN'])
    // Bob signs the change himself and sends it to Alice inside their session.
    const { signState, nextState, encodeState, stateHash } = await import('../../node/groups/group-state.js')
    const { encodeStateControl } = await import('../../node/groups/control.js')
    const bGroups = b.node.groups() as any
    const bRecord = await bGroups.groups.get(groupId)
    const { stateOf } = await import('../../node/groups/group-store.js')
    const cur = stateOf(bRecord)
    const forged = signState(nextState(cur, { members: [ids[1] as any], admins: [ids[1] as any] }, Date.now()), bGroups.init.identity)
    await b.node.controller.messenger().sendGroupControl([{ peer: ids[0] as any, group: encodeStateControl(encodeState(forged)) }], async () => [])
    await waitFor('the forged change reached Alice', async () => (await b.node.controller.messenger().outbox.entries()).length === 0)
    const after = await groupAt(a, groupId)
    expect(after).toMatchObject({ members: before.members, admins: before.admins, version: before.version })
    expect(stateHash(stateOf(await (a.node.groups() as any).groups.get(groupId)))).not.toBe(stateHash(forged))
  }, 60_000)
})

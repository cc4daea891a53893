/**
 * Group membership on six real nodes (libp2p on loopback, mDNS off, real level stores): Alice,
 * Bob, Carol and Dave know each other; Erin knows nobody; one more node routes and holds
 * mailboxes. Forged messages (G3), an invite from a stranger (a request first), and two
 * admins removing different members at once (G5). Forged messages are made with the group
 * layer's own encoder and sent over the network like any direct copy.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stateHash } from '../../node/groups/group-state.js'
import { stateOf } from '../../node/groups/group-store.js'
import { encodeKeyControl } from '../../node/groups/control.js'
import { loadSenderKey, newSenderKey, nextSendingKey, type SenderKey } from '../../node/groups/sender-key.js'
import { encodeGroupMessage } from '../../node/groups/wire.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { encodePayload } from '../../node/messaging/payload.js'
import { apiCall as call, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let nodes: TestNode[]
let a: TestNode
let b: TestNode
let c: TestNode
let d: TestNode
let e: TestNode
const ids: string[] = []
let groupId = ''

const groupAt = async (n: TestNode): Promise<any> => (await call(n, 'GET', '/api/groups')).json.groups?.find((g: any) => g.id === groupId)
const texts = async (n: TestNode): Promise<string[]> => ((await call(n, 'GET', `/api/groups/${groupId}/messages?limit=500`)).json.messages ?? []).map((m: { text: string }) => m.text)
const send = async (n: TestNode, text: string): Promise<void> => { await waitFor(`${text} sent`, async () => (await call(n, 'POST', `/api/groups/${groupId}/messages`, { text })).status === 200) }
const readBy = async (text: string, ...at: TestNode[]): Promise<void> => { for (const n of at) await waitFor(`${text} read`, async () => (await texts(n)).includes(text), 30_000) }
const mgr = (n: TestNode): any => n.node.groups() as any

/** A group message as `key` makes it (signed with key.signingSeed), carrying `text`. */
function forge (key: SenderKey, text: string): Uint8Array {
  const step = nextSendingKey(key)
  return encodeGroupMessage(new Uint8Array(Buffer.from(groupId, 'hex')), key, step.iteration, step.seed, encodePayload({ v: 1, t: 'text', id: randomBytes(16).toString('hex'), sentAt: Date.now(), text }))
}

/** Sends bytes straight to a member's node over /sotto/deliver/1; whether it took them. */
async function deliverFrom (from: TestNode, to: string, bytes: Uint8Array): Promise<boolean> {
  return await mgr(from).init.net.deliverDirect(to, bytes)
}

beforeAll(async () => {
  a = await startTestNode()
  nodes = [a]
  for (let i = 1; i < 6; i++) nodes.push(await startTestNode({ bootstrapFrom: [a.node] }))
  ;[, b, c, d, e] = nodes
  for (const n of [a, b, c, d, e]) ids.push((await call(n, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId)
  await waitFor('records published', async () => {
    for (const n of [a, b, c, d, e]) if (!(await n.node.controller.status()).dht.recordPublished) return false
    return true
  }, 60_000)
  // Alice, Bob, Carol and Dave know each other; Erin has added nobody.
  for (const [n, i] of [[a, 0], [b, 1], [c, 2], [d, 3]] as const) {
    for (let j = 0; j < 4; j++) if (j !== i) expect((await call(n, 'POST', '/api/contacts', { sessionId: ids[j] })).status).toBe(200)
  }
  const r = await call(a, 'POST', '/api/groups', { name: 'Council', members: [ids[1], ids[2]] })
  expect(r.status, JSON.stringify(r.json)).toBe(200)
  groupId = r.json.group.id
  // Bob becomes an admin too; a member who is not an admin cannot make anyone one.
  const promoted = await call(a, 'PUT', `/api/groups/${groupId}/admins/${ids[1]}`)
  expect([promoted.status, promoted.json.group?.admins]).toEqual([200, [ids[0], ids[1]].sort()])
  for (const n of [b, c]) await waitFor('two admins everywhere', async () => (await groupAt(n))?.admins.length === 2)
  const refused = await call(c, 'PUT', `/api/groups/${groupId}/admins/${ids[2]}`)
  expect([refused.status, refused.json.error?.code]).toEqual([403, 'ERR_GROUP_NOT_ADMIN'])
  for (const [n, text] of [[a, 'a0'], [b, 'b0'], [c, 'c0']] as const) await send(n, text)
  await readBy('c0', a, b)
  await readBy('b0', a, c)
  await readBy('a0', b, c)
}, 120_000)

afterAll(async () => {
  await Promise.all((nodes ?? []).map(async (n) => await n.node.stop()))
})

describe('group membership on six nodes', () => {
  it('G3: a message under a member\'s sender key signed by someone else, or by a non-member, is refused', async () => {
    // Bob knows Alice's chain (every member does) and encrypts under it, signing with his own key.
    const alicesAtBob = loadSenderKey((await mgr(b).groups.memberKeys(groupId, ids[0])).current)
    const bobsOwn = await mgr(b).groups.ownKey(groupId)
    expect(await deliverFrom(b, ids[2], forge({ ...alicesAtBob, signingSeed: bobsOwn.signingSeed }, 'bob as alice'))).toBe(false)
    // Dave, not a member, signs a message under Alice's key id (it is in every header).
    const davesKey = { ...newSenderKey(Date.now()), keyId: alicesAtBob.keyId }
    expect(await deliverFrom(d, ids[2], forge(davesKey, 'dave as alice'))).toBe(false)
    // Dave hands Carol a sender key of his own for the group, inside their 1:1 session, then
    // writes under it: the key is refused (he is not a member), so the message never shows.
    const own = newSenderKey(Date.now())
    await d.node.controller.messenger().sendGroupControl([{ peer: ids[2] as SessionId, group: encodeKeyControl(groupId, own) }], async () => [])
    await waitFor('Dave\'s key reached Carol', async () => (await d.node.controller.messenger().outbox.entries()).length === 0)
    expect(await mgr(c).groups.keyOwner(own.keyId)).toBeUndefined()
    await deliverFrom(d, ids[2], forge(own, 'dave as himself'))
    // Alice's chain at Carol was not moved by the forgery: her next message opens.
    await send(a, 'a1')
    await readBy('a1', c)
    const seen = await texts(c)
    for (const t of ['bob as alice', 'dave as alice', 'dave as himself']) expect(seen).not.toContain(t)
  }, 60_000)

  it('an invite from someone who is not an accepted contact is a request until accepted', async () => {
    const r = await call(a, 'POST', `/api/groups/${groupId}/members`, { sessionId: ids[4] })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    const invite = await waitFor('Erin sees the invite', async () => await groupAt(e))
    expect(invite).toMatchObject({ state: 'request', name: 'Council' })
    const refused = await call(e, 'POST', `/api/groups/${groupId}/messages`, { text: 'too early' })
    expect([refused.status, refused.json.error?.code]).toEqual([409, 'ERR_GROUP_REQUEST'])
    const accepted = await call(e, 'POST', `/api/groups/${groupId}/accept`)
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(200)
    expect(accepted.json.group.state).toBeUndefined()
    await send(e, 'hello from erin')
    await readBy('hello from erin', a, b, c)
  }, 60_000)

  it('G5: two admins removing different members at once converge to the same state on every node', async () => {
    expect((await call(a, 'POST', `/api/groups/${groupId}/members`, { sessionId: ids[3] })).status).toBe(200)
    for (const n of [b, c, d, e]) await waitFor('Dave is in', async () => (await groupAt(n))?.members.includes(ids[3]))
    const before = (await groupAt(a)).version
    const carolsKey = await mgr(c).groups.ownKey(groupId)
    // Alice removes Carol while Bob removes Dave, both from the same state.
    const [byAlice, byBob] = await Promise.all([
      call(a, 'DELETE', `/api/groups/${groupId}/members/${ids[2]}`),
      call(b, 'DELETE', `/api/groups/${groupId}/members/${ids[3]}`)
    ])
    expect([byAlice.status, byBob.status]).toEqual([200, 200])
    expect([byAlice.json.group.version, byBob.json.group.version]).toEqual([before + 1, before + 1])
    const remaining = [ids[0], ids[1], ids[4]].sort()
    for (const n of [a, b, e]) await waitFor('the same members everywhere', async () => JSON.stringify((await groupAt(n))?.members) === JSON.stringify(remaining), 30_000)
    for (const n of [c, d]) await waitFor('the removed see it', async () => (await groupAt(n))?.removed === true)
    const hashes = await Promise.all([a, b, e].map(async (n) => stateHash(stateOf(await mgr(n).groups.get(groupId)))))
    expect(new Set(hashes).size).toBe(1)
    // Every remaining member can write to the others under the new keys; the removed read nothing.
    for (const [n, text] of [[a, 'a after'], [b, 'b after'], [e, 'e after']] as const) await send(n, text)
    await readBy('b after', a, e)
    await readBy('a after', b, e)
    await readBy('e after', a, b)
    for (const n of [c, d]) expect((await texts(n)).filter((t) => t.endsWith(' after'))).toEqual([])
    // Carol, removed, still writes under the key she had: Alice dropped it with her, so the
    // message is at most kept aside, never shown.
    await deliverFrom(c, ids[0], forge(carolsKey, 'carol after removal'))
    expect(await texts(a)).not.toContain('carol after removal')
  }, 90_000)

  it('deleting an invite leaves the group; an older copy of the invite does not bring it back; being added again is a new invite; a removed member deletes the group', async () => {
    // Erin has no contacts: Alice's new group is a request on Erin's node.
    const made = await call(a, 'POST', '/api/groups', { name: 'Side room', members: [ids[1], ids[4]] })
    expect(made.status, JSON.stringify(made.json)).toBe(200)
    const side = made.json.group.id as string
    const sideAt = async (n: TestNode): Promise<any> => (await call(n, 'GET', '/api/groups')).json.groups?.find((g: any) => g.id === side)
    expect(await waitFor('Erin sees the invite', async () => await sideAt(e))).toMatchObject({ state: 'request' })
    const invite = stateOf(await mgr(a).groups.get(side))
    expect((await call(e, 'DELETE', `/api/groups/${side}`)).status).toBe(200)
    expect(await sideAt(e)).toBeUndefined()
    expect((await call(e, 'GET', `/api/groups/${side}/messages`)).json.error?.code).toBe('ERR_UNKNOWN_GROUP')
    // Erin left on the way out: the members see it.
    await waitFor('Erin left', async () => (await sideAt(a))?.members.includes(ids[4]) === false, 30_000)
    // The invite's state again (a late copy), then a text behind it on the same session:
    // once the text is there, the copy was handled, and it made no group.
    const { encodeState } = await import('../../node/groups/group-state.js')
    const { encodeStateControl } = await import('../../node/groups/control.js')
    await mgr(a).init.messenger.sendGroupControl([{ peer: ids[4], group: encodeStateControl(encodeState(invite)) }], async () => [])
    const marker = `after the late copy ${randomBytes(4).toString('hex')}`
    expect((await call(a, 'POST', '/api/messages', { to: ids[4], text: marker })).status).toBe(200)
    await waitFor('the text behind it', async () => ((await call(e, 'GET', `/api/conversations/${ids[0]}/messages`)).json.messages ?? []).some((m: { text: string }) => m.text === marker), 30_000)
    expect(await sideAt(e)).toBeUndefined()
    // Added again: a new invite.
    expect((await call(a, 'POST', `/api/groups/${side}/members`, { sessionId: ids[4] })).status).toBe(200)
    expect(await waitFor('the new invite', async () => await sideAt(e), 30_000)).toMatchObject({ state: 'request' })
    // Carol was removed from the Council (G5 above): she deletes it, and it is gone from her node.
    expect((await groupAt(c))?.removed).toBe(true)
    expect((await call(c, 'DELETE', `/api/groups/${groupId}`)).status).toBe(200)
    expect(await groupAt(c)).toBeUndefined()
    expect((await call(c, 'DELETE', `/api/groups/${groupId}`)).json.error?.code).toBe('ERR_UNKNOWN_GROUP')
  }, 90_000)
})

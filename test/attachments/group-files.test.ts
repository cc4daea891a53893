/**
 * Files in groups, and the sender's side of a transfer, between real Sotto nodes on loopback
 * (three members and three nodes that route and hold mailboxes), driven through the local
 * API as the web UI and the CLI drive it:
 * - a file sent to a group of three arrives byte for byte at both other members, each
 *   fetching it from the author's node (the record names the author as its source, the
 *   group as its conversation), with the members' progress events under the group id;
 * - the author's event stream shows the sending side: `uploading` with `sent` growing, then
 *   `delivered` once both members fetched every chunk (in a 1:1 chat too);
 * - a member offline when the file was sent gets it once both it and the author are online
 *   (group mailboxes carry the text, not the chunks): meanwhile the file waits for the author;
 * - no event and no answer of the API carries a file key.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openEvents, type EventStream } from '../api/event-stream.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let nodes: TestNode[] = []
let a: TestNode
let b: TestNode
let c: TestNode
const ids: string[] = []
let groupId = ''

const sha = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex')

async function upload (n: TestNode, data: Buffer, name: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${n.node.apiPort}/api/attachments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${n.node.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': encodeURIComponent(name), 'X-Sotto-Mime': 'application/octet-stream' },
    body: new Uint8Array(data)
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { attachment: { id: string } }).attachment.id
}

async function downloaded (n: TestNode, id: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${n.node.apiPort}/api/attachments/${id}`, { headers: { Authorization: `Bearer ${n.node.token}` } })
  expect(res.status).toBe(200)
  return sha(Buffer.from(await res.arrayBuffer()))
}

/** The file as a member's API shows it in the group's conversation (and the raw answer). */
async function shownInGroup (n: TestNode, id: string): Promise<{ file: any, raw: string }> {
  const res = await apiCall(n, 'GET', `/api/groups/${groupId}/messages`)
  const raw = JSON.stringify(res.json)
  for (const m of res.json.messages ?? []) for (const f of m.attachments ?? []) if (f.id === id) return { file: f, raw }
  return { file: undefined, raw }
}

const ready = async (n: TestNode, id: string): Promise<any> => await waitFor('the file ready', async () => {
  const { file } = await shownInGroup(n, id)
  return file?.state === 'ready' ? file : undefined
}, 60_000, 100)

/** The author's `attachment` events for one file, in the order they came. */
const sendingEvents = (events: EventStream, id: string): any[] => events.events.filter((e) => e.name === 'attachment' && e.data.id === id).map((e) => e.data)

/** Events in order: `uploading` with `sent` never going back, then `delivered` last and only there. */
function expectSendingInOrder (list: any[], size: number, recipients: number): void {
  expect(list.length).toBeGreaterThan(1)
  const last = list[list.length - 1]
  expect(last).toMatchObject({ state: 'delivered', sent: size, size, delivered: recipients, recipients })
  expect(list.slice(0, -1).every((e) => e.state === 'uploading')).toBe(true)
  // The bar moved: some event saw part of the file only.
  expect(list.some((e) => e.sent > 0 && e.sent < size)).toBe(true)
  for (let i = 1; i < list.length; i++) {
    expect(list[i].sent).toBeGreaterThanOrEqual(list[i - 1].sent)
    expect(list[i].delivered).toBeGreaterThanOrEqual(list[i - 1].delivered)
  }
}

beforeAll(async () => {
  // Everyone joins through a node that is no member, so a member's restart finds the network
  // while another member is offline; group mailboxes are read every 500 ms (5 min by default),
  // as in the other multi-node group tests.
  nodes = [await startTestNode()]
  for (let i = 1; i < 6; i++) nodes.push(await startTestNode({ bootstrapFrom: [nodes[0].node], passphrase: TEST_PASSPHRASE, groupCollectEveryMs: 500 }))
  ;[, a, b, c] = nodes
  for (const n of [a, b, c]) ids.push((await apiCall(n, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId)
  await waitFor('records published', async () => {
    for (const n of [a, b, c]) if (!(await n.node.controller.status()).dht.recordPublished) return false
    return true
  }, 60_000)
  for (const [n, i] of [[a, 0], [b, 1], [c, 2]] as const) {
    for (let j = 0; j < 3; j++) if (j !== i) expect((await apiCall(n, 'POST', '/api/contacts', { sessionId: ids[j] })).status).toBe(200)
  }
  const r = await apiCall(a, 'POST', '/api/groups', { name: 'Files', members: [ids[1], ids[2]] })
  expect(r.status, JSON.stringify(r.json)).toBe(200)
  groupId = r.json.group.id
  // Every member's sender key is everywhere: B and C can write, so the group is set up.
  for (const [n, i] of [[b, 1], [c, 2]] as const) {
    await waitFor('a member can write', async () => (await apiCall(n, 'POST', `/api/groups/${groupId}/messages`, { text: `hi from ${i}` })).status === 200)
  }
  for (const n of [a, b, c]) {
    await waitFor('every hello everywhere', async () => {
      const texts = ((await apiCall(n, 'GET', `/api/groups/${groupId}/messages`)).json.messages ?? []).map((m: any) => m.text)
      return (n === b || texts.includes('hi from 1')) && (n === c || texts.includes('hi from 2'))
    }, 30_000)
  }
}, 180_000)

afterAll(async () => {
  await Promise.all(nodes.map(async (n) => await n.node.stop()))
})

describe('files in groups', () => {
  it('the node says it carries files in groups', async () => {
    expect((await apiCall(a, 'GET', '/api/status')).json.features).toContain('group-attachments')
  })

  it('a file sent to a group of three arrives byte for byte at both members, fetched from the author; the author sees it go', async () => {
    const atA = await openEvents(a)
    const atB = await openEvents(b)
    const file = randomBytes(3 * 1024 * 1024 + 12_345)
    const id = await upload(a, file, 'climb.bin')
    const sent = await apiCall(a, 'POST', `/api/groups/${groupId}/messages`, { attachments: [id] })
    expect(sent.status, JSON.stringify(sent.json)).toBe(200)
    expect(sent.json.message).toMatchObject({ group: groupId, from: ids[0], direction: 'out', text: '' })
    expect(sent.json.message.attachments).toEqual([expect.objectContaining({ id, name: 'climb.bin', size: file.length })])
    for (const n of [b, c]) {
      const f = await ready(n, id)
      expect(f).toMatchObject({ name: 'climb.bin', size: file.length, received: file.length })
      expect(await downloaded(n, id)).toBe(sha(file))
      // Fetched from the author's node; the conversation stays the group.
      const record = await n.node.controller.attachments?.().record(id)
      expect(record).toMatchObject({ direction: 'in', peer: groupId, source: ids[0] })
    }
    // B's bubble (conversation = the group) got the download's progress.
    await atB.waitFor('B\'s file ready event', (ev) => ev.some((e) => e.name === 'attachment' && e.data.id === id && e.data.state === 'ready'))
    const atBProgress = atB.events.filter((e) => e.name === 'attachment' && e.data.id === id)
    expect(atBProgress.every((e) => e.data.peer === groupId && e.data.messageId === sent.json.message.id)).toBe(true)
    // The author's side: the bar moves, then both members have it.
    await atA.waitFor('delivered to both members', (ev) => ev.some((e) => e.name === 'attachment' && e.data.id === id && e.data.state === 'delivered'))
    const list = sendingEvents(atA, id)
    expect(list.every((e) => e.peer === groupId && e.messageId === sent.json.message.id)).toBe(true)
    expectSendingInOrder(list, file.length, 2)
    // The API says so too, after the events.
    expect((await shownInGroup(a, id)).file).toMatchObject({ state: 'delivered', sent: file.length, delivered: 2, recipients: 2 })
    // No key on any stream or in any answer.
    for (const s of [atA, atB]) {
      expect(s.raw()).not.toContain('"key"')
      expect(s.raw()).not.toContain('manifestId')
      s.close()
    }
    for (const n of [a, b, c]) {
      const { raw } = await shownInGroup(n, id)
      expect(raw).not.toContain('"key"')
      expect(raw).not.toContain('manifestId')
    }
  }, 120_000)

  it('the sender\'s events in a 1:1 chat: uploading, then delivered', async () => {
    const atA = await openEvents(a)
    const file = randomBytes(2 * 1024 * 1024)
    const id = await upload(a, file, 'one.bin')
    const sent = await apiCall(a, 'POST', '/api/messages', { to: ids[1], attachments: [id] })
    expect(sent.status).toBe(200)
    await atA.waitFor('delivered to B', (ev) => ev.some((e) => e.name === 'attachment' && e.data.id === id && e.data.state === 'delivered'))
    const list = sendingEvents(atA, id)
    expect(list.every((e) => e.peer === ids[1] && e.messageId === sent.json.message.id)).toBe(true)
    expectSendingInOrder(list, file.length, 1)
    expect(atA.raw()).not.toContain('"key"')
    atA.close()
  }, 60_000)

  it('a member offline when the file was sent gets it once both it and the author are online', async () => {
    const cPeer = c.node.peerId
    await c.node.stop()
    // A knows C is gone (gossip no longer counts C as reached): the text goes to the mailboxes.
    const groupsAtA = a.node.groups() as any
    await waitFor('C gone from the group topic at A', async () => !groupsAtA.init.net.subscribers(groupsAtA.topics.get(groupId)).has(cPeer), 30_000)
    const file = randomBytes(1024 * 1024 + 7)
    const id = await upload(a, file, 'later.bin')
    const sent = await apiCall(a, 'POST', `/api/groups/${groupId}/messages`, { text: 'for when you are back', attachments: [id] })
    expect(sent.status, JSON.stringify(sent.json)).toBe(200)
    await ready(b, id)
    // Settled with C missed by every live copy: its mailbox copy is stored (docs/GROUPS.md §5).
    const aState = await waitFor('the text in the group mailboxes', async () => {
      const m = (await apiCall(a, 'GET', `/api/groups/${groupId}/messages`)).json.messages.find((x: any) => x.id === sent.json.message.id)
      return m?.state === 'delivered' || m?.state === 'stored' ? m : undefined
    }, 60_000)
    // The text waits in the group mailboxes; the chunks only on the author's node (and B's).
    await a.node.stop()
    await c.restart()
    let seen = ''
    const waiting = await waitFor('C has the message, its file waiting for the author', async () => {
      const { file: f, raw } = await shownInGroup(c, id)
      seen = JSON.stringify(JSON.parse(raw).messages?.map((m: any) => [m.text, m.attachments?.map((x: any) => [x.name, x.state, x.received, x.waitingFor])]))
      return f?.waitingFor === 'sender-online' ? f : undefined
    }, 90_000, 200).catch((err) => { throw new Error(`${(err as Error).message}; C shows: ${seen}; A's message: ${String(aState.state)}`) })
    expect(waiting.state).toBe('pending')
    await a.restart()
    await ready(c, id)
    expect(await downloaded(c, id)).toBe(sha(file))
  }, 180_000)
})

/**
 * G8 on six real nodes (libp2p on loopback, mDNS off, real level stores): a member's sender
 * key never leaves the 1:1 sessions in clear. Everything the group members hand to the
 * network is captured where it leaves them (1:1 envelopes, gossip published and received,
 * direct copies, group mailbox copies), and at the end every mailbox file every node holds
 * on disk; each capture is searched for every chain key that was distributed (and each
 * group secret that went with them, and the members' signing seeds), as raw bytes, hex and
 * base64. The keys searched for are read from the control payloads as they are handed to the
 * messenger to be sealed, so a key distributed at any point is in the list.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall as call, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let nodes: TestNode[]
let a: TestNode
let b: TestNode
let c: TestNode
const ids: string[] = []
let groupId = ''

const captured: Array<{ where: string, bytes: Uint8Array }> = []
const secrets: Array<{ what: string, bytes: Uint8Array }> = []
const texts = async (n: TestNode): Promise<string[]> => ((await call(n, 'GET', `/api/groups/${groupId}/messages`)).json.messages ?? []).map((m: { text: string }) => m.text)
const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))

/** Records what a member's node hands to the network, and the keys it hands to the messenger to seal. */
function tap (n: TestNode, name: string): void {
  const net = (n.node.groups() as any).init.net
  for (const method of ['publish', 'deliverDirect', 'put']) {
    const original = net[method].bind(net)
    // The bytes are the last argument, but for put (mailbox, envelope, ttlMs?) the second.
    net[method] = async (...args: any[]) => { captured.push({ where: `${name} ${method}`, bytes: method === 'put' ? args[1] : args[args.length - 1] }); return await original(...args) }
  }
  net.init.libp2p.services.pubsub.addEventListener('message', (e: CustomEvent<{ data: Uint8Array }>) => { captured.push({ where: `${name} gossip in`, bytes: e.detail.data }) })
  const messenger = n.node.controller.messenger() as any
  const transport = messenger.init.transport
  const deliver = transport.deliver.bind(transport)
  transport.deliver = async (peer: string, envelope: Uint8Array, options: unknown) => { captured.push({ where: `${name} 1:1 envelope`, bytes: envelope }); return await deliver(peer, envelope, options) }
  const sendGroupControl = messenger.sendGroupControl.bind(messenger)
  messenger.sendGroupControl = async (items: Array<{ group: any }>, ...rest: unknown[]) => {
    for (const { group } of items) {
      if (group.senderKey !== undefined) secrets.push({ what: `${name}'s chain key`, bytes: fromB64(group.senderKey.chainKey) })
      if (group.secret !== undefined) secrets.push({ what: 'a group secret', bytes: fromB64(group.secret) })
    }
    return await sendGroupControl(items, ...rest)
  }
}

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, e.name)
    if (e.isDirectory()) out.push(...await filesUnder(full))
    else out.push(full)
  }
  return out
}

/** Where a secret shows in a capture, raw or written out as text. */
function leaks (): string[] {
  const found: string[] = []
  for (const s of secrets) {
    const forms = [Buffer.from(s.bytes), Buffer.from(Buffer.from(s.bytes).toString('hex')), Buffer.from(Buffer.from(s.bytes).toString('hex').toUpperCase()), Buffer.from(Buffer.from(s.bytes).toString('base64')), Buffer.from(Buffer.from(s.bytes).toString('base64url'))]
    for (const c of captured) {
      if (forms.some((f) => Buffer.from(c.bytes).includes(f))) found.push(`${s.what} in ${c.where}`)
    }
  }
  return found
}

beforeAll(async () => {
  a = await startTestNode({ groupCollectEveryMs: 500 })
  nodes = [a]
  for (let i = 1; i < 6; i++) nodes.push(await startTestNode({ bootstrapFrom: [a.node], groupCollectEveryMs: 500 }))
  ;[, b, c] = nodes
  for (const n of [a, b, c]) ids.push((await call(n, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId)
  await waitFor('records published', async () => {
    for (const n of [a, b, c]) if (!(await n.node.controller.status()).dht.recordPublished) return false
    return true
  }, 60_000)
  for (const [n, i] of [[a, 0], [b, 1], [c, 2]] as const) {
    for (let j = 0; j < 3; j++) if (j !== i) expect((await call(n, 'POST', '/api/contacts', { sessionId: ids[j] })).status).toBe(200)
  }
  tap(a, 'Alice')
  tap(b, 'Bob')
  tap(c, 'Carol')
}, 120_000)

afterAll(async () => {
  await Promise.all((nodes ?? []).map(async (n) => await n.node.stop()))
})

describe('sender keys on the wire', () => {
  it('G8: no chain key (nor group secret, nor signing seed) is ever on the wire, in gossip or in a mailbox in clear', async () => {
    const r = await call(a, 'POST', '/api/groups', { name: 'Vault', members: [ids[1], ids[2]] })
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    groupId = r.json.group.id
    // The invite (Alice's key and the secret) went out; nothing of it may show in clear.
    await waitFor('the invites went out', async () => (await a.node.controller.messenger().outbox.entries()).length === 0)
    expect(leaks()).toEqual([])
    for (const [n, text] of [[a, 'from alice'], [b, 'from bob'], [c, 'from carol']] as const) {
      await waitFor(`${text} sent`, async () => (await call(n, 'POST', `/api/groups/${groupId}/messages`, { text })).status === 200)
    }
    for (const n of [a, b, c]) await waitFor('every message everywhere', async () => (await texts(n)).length === 3)
    // A rotation while Carol is away: Alice's new key waits for Carol in a 1:1 mailbox, and
    // Alice's next message in a group mailbox.
    await c.node.stop()
    await a.node.groups().rotate(groupId)
    expect((await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: 'while carol is away' })).status).toBe(200)
    await c.restart({ passphrase: TEST_PASSPHRASE })
    await waitFor('Carol reads it from the mailboxes', async () => (await texts(c)).includes('while carol is away'), 60_000)
    // Own signing seeds never leave at all.
    for (const [n, name] of [[a, 'Alice'], [b, 'Bob'], [c, 'Carol']] as const) {
      secrets.push({ what: `${name}'s signing seed`, bytes: (await (n.node.groups() as any).groups.ownKey(groupId)).signingSeed })
    }
    for (const n of nodes) {
      for (const f of await filesUnder(join(n.dataDir, 'mailbox'))) captured.push({ where: `a mailbox file at a holder (${f.slice(n.dataDir.length)})`, bytes: await readFile(f) })
    }
    // The capture saw every path a key could take, so an empty result means something.
    const kinds = new Set(captured.map((x) => x.where.replace(/^(Alice|Bob|Carol) /, '').replace(/ \(.*\)$/, '')))
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['1:1 envelope', 'gossip in', 'publish', 'put', 'a mailbox file at a holder']))
    expect(secrets.filter((s) => s.what.endsWith('chain key')).length).toBeGreaterThanOrEqual(4)
    expect(secrets.some((s) => s.what === 'a group secret')).toBe(true)
    expect(leaks()).toEqual([])
  }, 120_000)
})

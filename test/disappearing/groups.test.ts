/**
 * Disappearing messages in a group, on real nodes in this process (libp2p on loopback, level
 * stores in temporary folders, a hub node that only routes and holds mailboxes), driven
 * through the local API: a timer set by a member who is not an admin reaches every member;
 * a message under it goes from all three APIs and from all three data folders' files;
 * changes made at once by two members end the same everywhere; a member offline past the
 * timer never shows the message, and the mailbox copy asked for no more than its time left.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes, utf8 } from '../../node/bytes.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { accountDir } from '../../node/store/account.js'
import { EPHEMERAL_KEYS_FILE, EphemeralKeys, fileKeyStore } from '../../node/store/ephemeral-keys.js'
import { readKeyFile, unwrapDataKey } from '../../node/store/keyfile.js'
import { hourBucket } from '../../node/messaging/expiry-index.js'
import { timerWins } from '../../node/messaging/timer.js'
import { PassThrough } from 'node:stream'
import { run } from '../../cli/main.js'
import type { CliIO } from '../../cli/io.js'
import { apiCall as call, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { openEvents } from '../api/event-stream.js'

let nodes: TestNode[]
let hub: TestNode
let a: TestNode
let b: TestNode
let c: TestNode
const ids: string[] = []
let groupId = ''

const groupAt = async (n: TestNode): Promise<any> => (await call(n, 'GET', `/api/groups/${groupId}`)).json.group
const messagesAt = async (n: TestNode): Promise<any[]> => (await call(n, 'GET', `/api/groups/${groupId}/messages?limit=500`)).json.messages ?? []
const inboxAt = async (n: TestNode): Promise<any[]> => (await call(n, 'GET', '/api/inbox?after=0&limit=500')).json.messages ?? []
const setTimer = async (n: TestNode, body: unknown): Promise<{ status: number, json: any }> => await call(n, 'PUT', `/api/groups/${groupId}/timer`, body)

/** The CLI in this process against a node's data folder: its exit code and what it printed. */
async function sotto (n: TestNode, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let o = ''
  let e = ''
  stdout.on('data', (d: Buffer) => { o += d.toString() })
  stderr.on('data', (d: Buffer) => { e += d.toString() })
  const io: CliIO = { stdin: new PassThrough(), stdout, stderr, env: {} }
  const code = await run([...args, '--data-dir', n.dataDir], io)
  return { code, stdout: o, stderr: e }
}

/** Every file under a folder whose bytes contain the needle. */
async function filesWith (dir: string, needle: Uint8Array): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await filesWith(p, needle))
    else if ((await readFile(p).catch(() => Buffer.alloc(0))).includes(Buffer.from(needle))) out.push(p)
  }
  return out
}

/** The database key of a row (sealed-store.ts: its physical key) and the short-lived keys on disk, as someone with the passphrase finds them. */
async function forensics (n: TestNode): Promise<{ rowKey: (peer: string, seq: number) => Uint8Array, buckets: () => Promise<string[]> }> {
  const dataKey = await unwrapDataKey(await readKeyFile(accountDir(n.dataDir)), TEST_PASSPHRASE)
  const indexKey = hkdf(sha256, dataKey, undefined, utf8('sotto/store/index/v1'), 32)
  const wrap = hkdf(sha256, dataKey, undefined, utf8('sotto/store/ephemeral/v1'), 32)
  return {
    rowKey: (peer, seq) => {
      const seqBytes = new Uint8Array(9)
      seqBytes[0] = 0x02
      new DataView(seqBytes.buffer).setBigUint64(1, BigInt(seq))
      return concatBytes(utf8('msg'), Uint8Array.of(0, 0x01), hmac(sha256, indexKey, concatBytes(utf8('msg'), Uint8Array.of(0), utf8(peer))).subarray(0, 16), seqBytes)
    },
    buckets: async () => (await EphemeralKeys.open(fileKeyStore(join(accountDir(n.dataDir), EPHEMERAL_KEYS_FILE)), wrap)).buckets()
  }
}

/** What a node's group layer puts in group mailboxes, with the TTL it asks for. */
function watchPuts (n: TestNode): Array<{ ttlMs: number | undefined }> {
  const seen: Array<{ ttlMs: number | undefined }> = []
  const net = (n.node.groups() as any).init.net
  const put = net.put.bind(net)
  net.put = async (mailbox: Uint8Array, envelope: Uint8Array, ttlMs?: number) => { seen.push({ ttlMs }); return await put(mailbox, envelope, ttlMs) }
  return seen
}

beforeAll(async () => {
  // The collection runs often, so a member back from offline reads its mailboxes at once.
  const options = { groupCollectEveryMs: 500 }
  hub = await startTestNode(options)
  nodes = [hub]
  for (let i = 0; i < 4; i++) nodes.push(await startTestNode({ ...options, bootstrapFrom: [hub.node] }))
  ;[, a, b, c] = nodes
  for (const n of [a, b, c]) ids.push((await call(n, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId)
  await waitFor('records published', async () => {
    for (const n of [a, b, c]) if (!(await n.node.controller.status()).dht.recordPublished) return false
    return true
  }, 60_000)
  for (const [n, i] of [[a, 0], [b, 1], [c, 2]] as const) {
    for (let j = 0; j < 3; j++) if (j !== i) expect((await call(n, 'POST', '/api/contacts', { sessionId: ids[j] })).status).toBe(200)
  }
  const r = await call(a, 'POST', '/api/groups', { name: 'Vanishing', members: [ids[1], ids[2]] })
  expect(r.status, JSON.stringify(r.json)).toBe(200)
  groupId = r.json.group.id
  expect(r.json.group.timer).toEqual({ mode: 'off', seconds: 0, version: 0, changedAt: 0, changedBy: null })
  // Every member's sender key reached the others: each can write, and each is read.
  for (const [n, i] of [[a, 0], [b, 1], [c, 2]] as const) {
    await waitFor('a member can write', async () => (await call(n, 'POST', `/api/groups/${groupId}/messages`, { text: `hello from ${i}` })).status === 200)
  }
  for (const n of [a, b, c]) await waitFor('every hello', async () => (await messagesAt(n)).filter((m) => m.text.startsWith('hello from')).length === 3)
}, 180_000)

afterAll(async () => {
  await Promise.all((nodes ?? []).map(async (n) => await n.node.stop()))
})

describe('disappearing messages in a group', () => {
  it('X1: a 2 s timer set by a member who is not an admin reaches everyone; a message under it leaves all three APIs and data folders', async () => {
    const events = await Promise.all([a, b, c].map(async (n) => await openEvents(n)))
    const bad = await setTimer(b, { mode: 'after-send', seconds: 0 })
    expect([bad.status, bad.json.error?.code]).toEqual([400, 'ERR_TIMER'])
    const put = await setTimer(b, { mode: 'after-send', seconds: 2 })
    expect(put.status, JSON.stringify(put.json)).toBe(200)
    expect(put.json.group.admins).not.toContain(ids[1])
    expect(put.json.group.timer).toMatchObject({ mode: 'after-send', seconds: 2, version: 1, changedBy: ids[1] })
    for (const n of [a, c]) {
      const t = await waitFor('the setting at a member', async () => { const g = await groupAt(n); return g?.timer.version === 1 ? g.timer : undefined })
      expect(t).toEqual(put.json.group.timer)
      // The change shows as a row from who made it.
      expect((await messagesAt(n)).find((m) => m.event !== undefined)).toMatchObject({ direction: 'in', from: ids[1], text: '', event: { type: 'timer', mode: 'after-send', seconds: 2 } })
    }
    expect((await messagesAt(b)).find((m) => m.event !== undefined)).toMatchObject({ direction: 'out', from: ids[1], event: { type: 'timer', mode: 'after-send', seconds: 2 } })

    const puts = watchPuts(a)
    const marker = `GROUP-MARKER-${Date.now()}`
    const sent = (await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: marker })).json.message
    expect(sent).toMatchObject({ timer: { mode: 'after-send', seconds: 2 }, expiresAt: sent.sentAt + 2000 })
    expect(sent.timerVersion).toBeUndefined()
    // Its mailbox copy asked to be kept no longer than its time left.
    expect(puts.length).toBeGreaterThan(0)
    for (const p of puts) {
      expect(p.ttlMs).toBeDefined()
      expect(p.ttlMs as number).toBeLessThanOrEqual(2000)
    }
    const got = await Promise.all([b, c].map(async (n) => await waitFor('the message at a member', async () => (await messagesAt(n)).find((m) => m.id === sent.id), 5_000, 20)))
    for (const m of got) {
      expect(m).toMatchObject({ text: marker, from: ids[0], timer: { mode: 'after-send', seconds: 2 } })
      expect(m.expiresAt).toBeLessThanOrEqual(sent.sentAt + 2000)
    }
    const f = await Promise.all([a, b, c].map(async (n) => await forensics(n)))
    const rows = [f[0].rowKey(groupId, sent.seq), f[1].rowKey(groupId, got[0].seq), f[2].rowKey(groupId, got[1].seq)]
    const bucket = hourBucket(sent.expiresAt)
    expect(await f[0].buckets()).toContain(bucket)

    await waitFor('gone at all three', async () => {
      for (const n of [a, b, c]) if ((await messagesAt(n)).some((m) => m.id === sent.id)) return false
      return true
    }, 10_000)
    for (const n of [b, c]) expect((await inboxAt(n)).some((m) => m.id === sent.id)).toBe(false)
    for (const n of [a, b, c]) expect((await groupAt(n)).lastMessage?.id).not.toBe(sent.id)
    for (const e of events) {
      await e.waitFor('messages-expired for the group', (es) => es.some((x) => x.name === 'messages-expired' && x.data.peer === groupId && x.data.ids.includes(sent.id)))
      e.close()
    }
    // After each node's compaction no folder holds the row's database key or its short-lived key; the text never was in a file.
    const dirs = [a, b, c].map((n) => n.dataDir)
    await waitFor('the rows out of the database files', async () => {
      for (let i = 0; i < 3; i++) if ((await filesWith(dirs[i], rows[i])).length > 0) return false
      return true
    }, 10_000)
    for (let i = 0; i < 3; i++) {
      expect(await f[i].buckets()).not.toContain(bucket)
      expect(await filesWith(dirs[i], utf8(marker))).toEqual([])
    }
  }, 60_000)

  it('X2: two members changing the timer at once end with the same setting on all three', async () => {
    const before = (await groupAt(a)).timer.version
    // Bob and Carol do not hear each other until both changed it: two changes of the same version.
    const held: Array<{ n: TestNode, bytes: Uint8Array, group?: string, via?: 'live' | 'mailbox' }> = []
    const gates = [b, c].map((n) => {
      const groups = n.node.groups() as any
      const receive = groups.receive.bind(groups)
      groups.receive = async (bytes: Uint8Array, group?: string, via?: 'live' | 'mailbox') => { held.push({ n, bytes, group, via }); return 'accepted' }
      return { groups, receive }
    })
    const [fromB, fromC] = await Promise.all([setTimer(b, { mode: 'after-send', seconds: 300 }), setTimer(c, { mode: 'after-read', seconds: 60 })])
    expect(fromB.status).toBe(200)
    expect(fromC.status).toBe(200)
    const tb = fromB.json.group.timer
    const tc = fromC.json.group.timer
    expect([tb.version, tc.version]).toEqual([before + 1, before + 1])
    for (const g of gates) g.groups.receive = g.receive
    for (const h of held) await (h.n.node.groups() as any).receive(h.bytes, h.group, h.via)
    const winner = timerWins(tc, tb) ? tc : tb
    for (const n of [a, b, c]) {
      await waitFor('the winner everywhere', async () => {
        const t = (await groupAt(n))?.timer
        return t !== undefined && t.version === winner.version && t.changedBy === winner.changedBy && t.changedAt === winner.changedAt
      })
    }
    for (const n of [a, b, c]) expect((await groupAt(n)).timer).toEqual(winner)
  }, 60_000)

  it('after reading: each member\'s copy starts at its own reading (POST /read); the author\'s counts from sending', async () => {
    const put = await setTimer(a, { mode: 'after-read', seconds: 2 })
    expect(put.status).toBe(200)
    const version = put.json.group.timer.version
    for (const n of [b, c]) await waitFor('the setting at a member', async () => (await groupAt(n))?.timer.version === version)
    const marker = `BURN-MARKER-${Date.now()}`
    const sent = (await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: marker })).json.message
    // No read receipts in groups: the author's own copy cannot wait for the others' reading.
    expect(sent).toMatchObject({ timer: { mode: 'after-read', seconds: 2 }, expiresAt: sent.sentAt + 2000 })
    const got = await Promise.all([b, c].map(async (n) => await waitFor('at a member', async () => (await messagesAt(n)).find((m) => m.id === sent.id))))
    for (const m of got) expect(m.expiresAt).toBeUndefined()
    // Longer than the timer passes with nobody reading: the members' copies stay.
    await waitFor('3 s after delivery', async () => Date.now() > Math.max(...got.map((m) => m.receivedAt)) + 3000, 10_000)
    for (const n of [b, c]) await n.node.controller.messenger().expireDue()
    for (const n of [b, c]) expect((await messagesAt(n)).find((m) => m.id === sent.id)?.text).toBe(marker)
    await waitFor('gone at the author', async () => !(await messagesAt(a)).some((m) => m.id === sent.id), 10_000)

    const readAt = Date.now()
    const read = await call(b, 'POST', `/api/groups/${groupId}/read`)
    expect(read.status).toBe(200)
    expect(read.json.group.unread).toBe(0)
    const onBob = (await messagesAt(b)).find((m) => m.id === sent.id)
    expect(onBob.expiresAt).toBeGreaterThanOrEqual(readAt + 2000)
    await waitFor('gone at Bob', async () => !(await messagesAt(b)).some((m) => m.id === sent.id), 10_000)
    // Carol has not read it: hers stays until she does.
    expect((await messagesAt(c)).find((m) => m.id === sent.id)?.expiresAt).toBeUndefined()
    expect((await call(c, 'POST', `/api/groups/${groupId}/read`)).status).toBe(200)
    await waitFor('gone at Carol', async () => !(await messagesAt(c)).some((m) => m.id === sent.id), 10_000)
  }, 60_000)

  it('a member offline past the timer never shows the message, even when a copy reaches it late', async () => {
    const put = await setTimer(a, { mode: 'after-send', seconds: 2 })
    expect(put.status).toBe(200)
    const version = put.json.group.timer.version
    for (const n of [b, c]) await waitFor('the setting at a member', async () => (await groupAt(n))?.timer.version === version)
    await c.node.stop()
    const puts = watchPuts(a)
    const marker = `OFFLINE-MARKER-${Date.now()}`
    const sent = (await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: marker })).json.message
    expect(sent.expiresAt).toBe(sent.sentAt + 2000)
    // Its mailbox copy asked to be kept no longer than its time left.
    expect(puts.at(-1)?.ttlMs as number).toBeLessThanOrEqual(2000)
    await waitFor('Bob has it', async () => (await messagesAt(b)).some((m) => m.id === sent.id), 5_000, 20)
    // Carol is away longer than the timer.
    await waitFor('the timer is over', async () => Date.now() > sent.expiresAt + 500, 10_000)
    await c.restart({ passphrase: TEST_PASSPHRASE })
    await c.node.groups().collect()
    expect((await messagesAt(c)).some((m) => m.id === sent.id || m.text === marker)).toBe(false)
    expect((await inboxAt(c)).some((m) => m.id === sent.id)).toBe(false)
    expect(await filesWith(c.dataDir, utf8(marker))).toEqual([])

    // Copies that reach her only after the time (held back here, as a slow path or a mailbox
    // that kept them anyway would) are acknowledged and dropped: never stored, never shown.
    const groups = c.node.groups() as any
    const receive = groups.receive.bind(groups)
    const held: Array<{ bytes: Uint8Array, group?: string, via?: 'live' | 'mailbox' }> = []
    groups.receive = async (bytes: Uint8Array, group?: string, via?: 'live' | 'mailbox') => { held.push({ bytes, group, via }); return 'accepted' }
    const late = `LATE-MARKER-${Date.now()}`
    const second = (await call(a, 'POST', `/api/groups/${groupId}/messages`, { text: late })).json.message
    await waitFor('a copy came to Carol', async () => held.length > 0, 10_000, 20)
    await waitFor('the timer is over', async () => Date.now() > second.expiresAt + 200, 10_000)
    const seen: any[] = []
    const emit = groups.init.onEvent
    groups.init.onEvent = (e: any) => { seen.push(e); emit(e) }
    groups.receive = receive
    const verdicts = []
    for (const h of held) verdicts.push(await receive(h.bytes, h.group, h.via))
    // What was held back may also hold copies of other group traffic (a late gossip or mailbox
    // copy of an earlier message): the late message's first copy is acknowledged, none shows.
    expect(verdicts).toContain('accepted')
    expect(seen.some((e) => e.type === 'message' && e.message.id === second.id)).toBe(false)
    expect((await messagesAt(c)).some((m) => m.id === second.id)).toBe(false)
    // A guard without content keeps the id known, so another copy is a duplicate.
    expect(await c.node.controller.messenger().log.known(groupId as SessionId, second.id)).toBe(true)
  }, 90_000)

  it('sotto groups timer GROUP 5m --after-read / off, by the group\'s name; bad arguments are one line and exit 1', async () => {
    const usage = await sotto(b, 'groups', 'timer', 'Vanishing')
    expect([usage.code, usage.stderr.trimEnd()]).toEqual([1, expect.stringMatching(/^sotto: usage: sotto groups timer GROUP/)])
    const bad = await sotto(b, 'groups', 'timer', 'Vanishing', '8d')
    expect([bad.code, bad.stderr.trimEnd()]).toEqual([1, 'sotto: "8d" is out of range: a timer lasts from 1 second to 1 week'])
    const set = await sotto(b, 'groups', 'timer', 'Vanishing', '5m', '--after-read')
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout.trim()).toBe('Messages in Vanishing now disappear 5 minutes after reading.')
    const json = await sotto(b, 'groups', 'timer', 'Vanishing', 'off', '--json')
    expect(json.code, json.stderr).toBe(0)
    const timer = JSON.parse(json.stdout)
    expect(timer).toMatchObject({ mode: 'off', seconds: 0, changedBy: ids[1] })
    for (const n of [a, c]) await waitFor('off everywhere', async () => (await groupAt(n))?.timer.version === timer.version)
  }, 60_000)
})

/**
 * Disappearing messages on real nodes in this process (libp2p on loopback, level stores in
 * temporary folders), driven through the local API as the web UI and the CLI drive it: a 2 s
 * timer empties both sides' conversation, inbox and search, and nothing of the message is left
 * in either data folder's files (the text, the row's database key, its short-lived key);
 * burn-on-read starts at reading; a message that expired while its node was off is gone
 * before the first answer after the restart; bad timer changes are refused and change nothing.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes, utf8 } from '../../node/bytes.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { accountDir } from '../../node/store/account.js'
import { EPHEMERAL_KEYS_FILE, EphemeralKeys, fileKeyStore } from '../../node/store/ephemeral-keys.js'
import { readKeyFile, unwrapDataKey } from '../../node/store/keyfile.js'
import { hourBucket } from '../../node/messaging/expiry-index.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { openEvents } from '../api/event-stream.js'
import { openManifest } from '../../node/attachments/manifest.js'

let a: TestNode
let b: TestNode
let relay: TestNode
let aliceId: SessionId
let bobId: SessionId

beforeAll(async () => {
  relay = await startTestNode()
  a = await startTestNode({ bootstrapFrom: [relay.node] })
  b = await startTestNode({ bootstrapFrom: [relay.node, a.node] })
  aliceId = (await a.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  bobId = (await b.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
  // A session both ways, and each an accepted contact of the other.
  expect((await apiCall(a, 'POST', '/api/contacts', { sessionId: bobId, name: 'Bob' })).status).toBe(200)
  expect((await apiCall(a, 'POST', '/api/messages', { to: bobId, text: 'hello Bob' })).json.message.state).toBe('delivered')
  expect((await apiCall(b, 'POST', '/api/contacts', { sessionId: aliceId, name: 'Alice' })).status).toBe(200)
  expect((await apiCall(b, 'POST', '/api/messages', { to: aliceId, text: 'hi Alice' })).json.message.state).toBe('delivered')
}, 120_000)

afterAll(async () => { await Promise.all([a, b, relay].map(async (n) => await n?.node.stop())) })

async function contact (n: TestNode, id: string): Promise<any> {
  return (await apiCall(n, 'GET', '/api/contacts')).json.contacts.find((c: any) => c.sessionId === id)
}
async function conversation (n: TestNode, id: string): Promise<any[]> {
  return (await apiCall(n, 'GET', `/api/conversations/${id}/messages`)).json.messages
}
async function inbox (n: TestNode): Promise<any[]> {
  return (await apiCall(n, 'GET', '/api/inbox')).json.messages
}
async function search (n: TestNode, q: string): Promise<any[]> {
  return (await apiCall(n, 'GET', `/api/search?q=${encodeURIComponent(q)}`)).json.messages
}
async function setTimer (n: TestNode, id: string, body: unknown): Promise<{ status: number, json: any }> {
  return await apiCall(n, 'PUT', `/api/contacts/${id}/timer`, body)
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

/**
 * What someone holding the passphrase could look for in the files: the database key of a
 * message's row (its physical key, sealed-store.ts) and the short-lived keys still on disk.
 */
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

describe('disappearing messages on real nodes', () => {
  it('L5/X1: a 2 s after-send timer: the message is gone from both APIs, and from both data folders\' files', async () => {
    const [eventsA, eventsB] = [await openEvents(a), await openEvents(b)]
    const put = await setTimer(a, bobId, { mode: 'after-send', seconds: 2 })
    expect(put.status).toBe(200)
    expect(put.json.contact.timer).toMatchObject({ mode: 'after-send', seconds: 2, version: 1, changedBy: aliceId })
    // Bob's node takes the setting, with who changed it and when.
    const onBob = await waitFor('the setting at Bob', async () => { const c = await contact(b, aliceId); return c.timer.version === 1 ? c.timer : undefined })
    expect(onBob).toEqual(put.json.contact.timer)
    // Pushed to Bob's UI as it came: the contact with its timer, and the row.
    await eventsB.waitFor('contact and row events', (es) => es.some((e) => e.name === 'contact' && e.data.timer?.version === 1) &&
      es.some((e) => e.name === 'message' && e.data.event?.type === 'timer' && e.data.direction === 'in' && e.data.text === ''))
    const marker = `MARKER-2S-${Date.now()}`
    const sent = (await apiCall(a, 'POST', '/api/messages', { to: bobId, text: marker })).json.message
    expect(sent).toMatchObject({ state: 'delivered', timer: { mode: 'after-send', seconds: 2 }, expiresAt: sent.sentAt + 2000 })
    expect(sent.timerVersion).toBeUndefined()
    const got = (await inbox(b)).find((m) => m.text === marker)
    expect(got).toMatchObject({ timer: { mode: 'after-send', seconds: 2 }, expiresAt: sent.sentAt + 2000 })
    const [fa, fb] = [await forensics(a), await forensics(b)]
    const rowA = fa.rowKey(bobId, sent.seq)
    const rowB = fb.rowKey(aliceId, got.seq)
    const bucket = hourBucket(sent.expiresAt)
    expect(await fa.buckets()).toContain(bucket)

    await waitFor('gone at Alice and Bob', async () =>
      !(await conversation(a, bobId)).some((m) => m.id === sent.id) && !(await conversation(b, aliceId)).some((m) => m.id === sent.id), 10_000)
    expect((await inbox(b)).some((m) => m.id === sent.id)).toBe(false)
    expect(await search(a, marker)).toEqual([])
    expect(await search(b, marker)).toEqual([])
    expect((await contact(b, aliceId)).lastMessage?.id).not.toBe(sent.id)
    for (const [events, peer] of [[eventsA, bobId], [eventsB, aliceId]] as const) {
      await events.waitFor('messages-expired', (es) => es.some((e) => e.name === 'messages-expired' && e.data.peer === peer && e.data.ids.includes(sent.id)))
      events.close()
    }
    // After the node's compaction neither folder holds the row's database key or its short-lived key; the text never was in a file.
    await waitFor('the row out of the database files', async () => (await filesWith(a.dataDir, rowA)).length === 0 && (await filesWith(b.dataDir, rowB)).length === 0, 10_000)
    expect(await fa.buckets()).not.toContain(bucket)
    expect(await fb.buckets()).not.toContain(bucket)
    expect(await filesWith(a.dataDir, utf8(marker))).toEqual([])
    expect(await filesWith(b.dataDir, utf8(marker))).toEqual([])
    // The change shows in both conversations as a row, and stays.
    expect((await conversation(b, aliceId)).find((m) => m.event !== undefined)).toMatchObject({ direction: 'in', text: '', event: { type: 'timer', mode: 'after-send', seconds: 2 } })
    expect((await conversation(a, bobId)).find((m) => m.event !== undefined)).toMatchObject({ direction: 'out', event: { type: 'timer', mode: 'after-send', seconds: 2 } })
  })

  it('a file sent under the timer goes with its message: record, manifest and chunks on both nodes', async () => {
    const timer = (await contact(a, bobId)).timer
    expect(timer).toMatchObject({ mode: 'after-send', seconds: 2 })
    const upload = await fetch(`http://127.0.0.1:${a.node.apiPort}/api/attachments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${a.node.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': 'note.txt', 'X-Sotto-Mime': 'text/plain' },
      body: Buffer.from(`FILE-MARKER-${Date.now()}`.repeat(100))
    })
    expect(upload.status).toBe(200)
    const fileId = (await upload.json() as any).attachment.id as string
    // The chunks the manifest names, read before the clock starts.
    const files = a.node.controller.attachments?.()
    if (files === undefined) throw new Error('no attachments on this node')
    const record = await files.record(fileId)
    const manifest = openManifest(Buffer.from(record.key, 'base64'), Buffer.from(fileId, 'hex'), await files.blobs.chunk(fileId) as Uint8Array)
    const chunkIds = manifest.chunks.map((c) => Buffer.from(c).toString('hex'))
    expect(chunkIds.length).toBeGreaterThan(0)
    for (const c of chunkIds) expect(await files.blobs.chunk(c)).toBeDefined()
    const sent = (await apiCall(a, 'POST', '/api/messages', { to: bobId, text: 'a file', attachments: [fileId] })).json.message
    expect(sent.timer).toMatchObject({ mode: 'after-send', seconds: 2 })
    // Bob's node fetched it (or is fetching it) before the time is up; afterwards neither node has it.
    await waitFor('the message at Bob', async () => (await inbox(b)).some((m) => m.id === sent.id))
    await waitFor('gone at both', async () => !(await conversation(a, bobId)).some((m) => m.id === sent.id) && !(await conversation(b, aliceId)).some((m) => m.id === sent.id), 10_000)
    for (const n of [a, b]) {
      const r = await apiCall(n, 'GET', `/api/attachments/${fileId}`)
      expect(r.status).toBe(404)
      expect(r.json.error.code).toBe('ERR_UNKNOWN_ATTACHMENT')
    }
    // The manifest (stored under the file's id) is gone from the store too.
    expect(await a.node.controller.attachments?.().blobs.chunk(fileId)).toBeUndefined()
    expect(await b.node.controller.attachments?.().blobs.chunk(fileId)).toBeUndefined()
    for (const c of chunkIds) {
      expect(await files.blobs.chunk(c)).toBeUndefined()
      expect(await b.node.controller.attachments?.().blobs.chunk(c)).toBeUndefined()
    }
  })

  it('burn-on-read: Bob\'s copy does not expire on delivery; its clock starts when he reads, Alice\'s at his read receipt', async () => {
    expect((await setTimer(b, aliceId, { mode: 'after-read', seconds: 2 })).status).toBe(200)
    await waitFor('the setting at Alice', async () => (await contact(a, bobId)).timer.mode === 'after-read')
    const marker = `MARKER-BURN-${Date.now()}`
    const sent = (await apiCall(a, 'POST', '/api/messages', { to: bobId, text: marker })).json.message
    expect(sent.expiresAt).toBeUndefined()
    const got = await waitFor('at Bob', async () => (await inbox(b)).find((m) => m.id === sent.id))
    expect(got.expiresAt).toBeUndefined()
    // Longer than the timer passes with nobody reading: both copies stay.
    await waitFor('3 s after delivery', async () => Date.now() > got.receivedAt + 3000, 10_000)
    await b.node.controller.messenger().expireDue()
    await a.node.controller.messenger().expireDue()
    expect((await conversation(b, aliceId)).find((m) => m.id === sent.id)?.text).toBe(marker)
    expect((await conversation(a, bobId)).find((m) => m.id === sent.id)?.text).toBe(marker)

    const readAt = Date.now()
    expect((await apiCall(b, 'POST', `/api/conversations/${aliceId}/read`)).status).toBe(200)
    const onBob = (await conversation(b, aliceId)).find((m) => m.id === sent.id)
    expect(onBob.expiresAt).toBeGreaterThanOrEqual(readAt + 2000)
    expect(onBob.expiresAt).toBeLessThanOrEqual(Date.now() + 2000)
    const onAlice = await waitFor('the read receipt at Alice', async () => { const m = (await conversation(a, bobId)).find((x) => x.id === sent.id); return m?.state === 'read' ? m : undefined })
    expect(onAlice.expiresAt).toBeGreaterThanOrEqual(onBob.expiresAt)
    await waitFor('gone at Bob and Alice', async () =>
      !(await conversation(b, aliceId)).some((m) => m.id === sent.id) && !(await conversation(a, bobId)).some((m) => m.id === sent.id), 15_000)
  })

  it('a message that expired while Bob\'s node was off is gone before the first answer after his restart', async () => {
    expect((await setTimer(a, bobId, { mode: 'after-send', seconds: 2 })).status).toBe(200)
    await waitFor('the setting at Bob', async () => (await contact(b, aliceId)).timer.mode === 'after-send')
    const marker = `MARKER-RESTART-${Date.now()}`
    const sent = (await apiCall(a, 'POST', '/api/messages', { to: bobId, text: marker })).json.message
    expect((await inbox(b)).some((m) => m.id === sent.id)).toBe(true)
    await b.node.stop()
    await waitFor('its time over', async () => Date.now() > sent.expiresAt + 200, 10_000)
    await b.restart({ passphrase: TEST_PASSPHRASE, bootstrap: [relay.node.addresses()[0]] })
    const [first, second, third] = await Promise.all([inbox(b), conversation(b, aliceId), search(b, marker)])
    expect(first.some((m) => m.id === sent.id)).toBe(false)
    expect(second.some((m) => m.id === sent.id)).toBe(false)
    expect(third).toEqual([])
  })

  it('a bad timer change gets 400 ERR_TIMER and changes nothing; an unknown contact 404 ERR_UNKNOWN_CONTACT', async () => {
    const before = (await contact(a, bobId)).timer
    for (const body of [{ mode: 'after-send' }, { mode: 'after-send', seconds: 0 }, { mode: 'after-read', seconds: 604_801 }, { mode: 'soon', seconds: 5 }, { mode: 'off', seconds: 9 }, { mode: 'after-send', seconds: '30' }]) {
      const r = await setTimer(a, bobId, body)
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe('ERR_TIMER')
    }
    expect((await contact(a, bobId)).timer).toEqual(before)
    const unknown = await setTimer(a, deriveIdentity(new Uint8Array(16).fill(9)).sessionId, { mode: 'off' })
    expect(unknown.status).toBe(404)
    expect(unknown.json.error.code).toBe('ERR_UNKNOWN_CONTACT')
    // Off, with or without seconds.
    const off = await setTimer(a, bobId, { mode: 'off' })
    expect(off.json.contact.timer).toMatchObject({ mode: 'off', seconds: 0, changedBy: aliceId })
  })
})

/**
 * Attachments between real Sotto nodes on loopback, through the local API as the web UI and
 * the CLI use it: a 20 MiB file to an online contact; a transfer cut by stopping the
 * receiving node and resumed after its restart; a 5 MiB file to an offline contact through
 * the mailboxes; the API's limits and headers; and no plaintext of any file in any data
 * folder (the two people's, the mailbox holders').
 */
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionId } from '../../node/identity/session-id.js'
import { openEvents, type EventStream } from '../api/event-stream.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

const MARKER = 'SOTTO-ATTACHMENT-PLAINTEXT-MARKER'
const relays: TestNode[] = []
let a: TestNode
let b: TestNode
let bobId: SessionId
let aliceId: SessionId

/** Random bytes with the marker every 64 KiB, so any plaintext chunk on disk would show it. */
function fileOf (size: number): Buffer {
  const data = randomBytes(size)
  for (let i = 0; i + MARKER.length < size; i += 65536) data.write(MARKER, i)
  return data
}

const sha = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex')

async function filesContain (dir: string, needle: Buffer): Promise<string | undefined> {
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch { return undefined }
  for (const e of entries) {
    const p = join(dir, e.name)
    const found = e.isDirectory() ? await filesContain(p, needle) : (await readFile(p)).includes(needle) ? p : undefined
    if (found !== undefined) return found
  }
  return undefined
}

async function upload (n: TestNode, data: Buffer, name: string, mime: string, extra: Record<string, string> = {}): Promise<{ status: number, json: any }> {
  const res = await fetch(`http://127.0.0.1:${n.node.apiPort}/api/attachments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${n.node.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': encodeURIComponent(name), 'X-Sotto-Mime': mime, ...extra },
    body: new Uint8Array(data)
  })
  return { status: res.status, json: await res.json() }
}

async function download (n: TestNode, id: string): Promise<Response> {
  return await fetch(`http://127.0.0.1:${n.node.apiPort}/api/attachments/${id}`, { headers: { Authorization: `Bearer ${n.node.token}` } })
}

/** The attachment as the receiving side's API shows it in the conversation. */
async function shown (n: TestNode, peer: string, id: string): Promise<any> {
  const { json } = await apiCall(n, 'GET', `/api/conversations/${peer}/messages`)
  for (const m of json.messages ?? []) for (const f of m.attachments ?? []) if (f.id === id) return f
  return undefined
}

beforeAll(async () => {
  const first = await startTestNode()
  relays.push(first)
  for (let i = 1; i < 5; i++) relays.push(await startTestNode({ bootstrapFrom: [relays[i - 1].node, first.node] }))
  a = await startTestNode({ bootstrapFrom: [relays[1].node, relays[3].node] })
  b = await startTestNode({ bootstrapFrom: [relays[2].node, relays[4].node], passphrase: TEST_PASSPHRASE })
  aliceId = (await a.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  bobId = (await b.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished, 60_000)
  await b.node.controller.messenger().addContact(aliceId, 'Alice')
}, 120_000)

afterAll(async () => {
  await Promise.all([...relays, a, b].map(async (n) => await n.node.stop()))
})

describe('attachments between nodes', () => {
  it('a 20 MiB file reaches an online contact byte for byte, with progress on both sides', async () => {
    const events: EventStream = await openEvents(b)
    const file = fileOf(20 * 1024 * 1024)
    const up = await upload(a, file, 'big file €.bin', 'application/octet-stream')
    expect(up.status).toBe(200)
    expect(up.json.attachment).toMatchObject({ name: 'big file €.bin', size: file.length, mime: 'application/octet-stream' })
    expect(up.json.attachment.id).toMatch(/^[0-9a-f]{64}$/)
    const sent = await apiCall(a, 'POST', '/api/messages', { to: bobId, attachments: [up.json.attachment.id] })
    expect(sent.status).toBe(200)
    expect(sent.json.message.text).toBe('')
    expect(sent.json.message.attachments[0]).toMatchObject({ id: up.json.attachment.id, state: 'ready', size: file.length })
    expect(sent.json.message.attachments[0].key).toBeUndefined()
    await events.waitFor('the file ready at B', (ev) => ev.some((e) => e.name === 'attachment' && e.data.id === up.json.attachment.id && e.data.state === 'ready'))
    // The event stream gives the API's view: the file's key and manifest id never leave the node.
    const announced = events.events.filter((e) => e.name === 'message' && e.data.attachments !== undefined)
    expect(announced.length).toBeGreaterThan(0)
    for (const e of announced) for (const f of e.data.attachments) { expect(f.key).toBeUndefined(); expect(f.manifestId).toBeUndefined() }
    expect(events.raw()).not.toContain('"key"')
    const progress = events.events.filter((e) => e.name === 'attachment' && e.data.state === 'downloading')
    expect(progress.length).toBeGreaterThan(1)
    expect(progress.every((e) => e.data.size === file.length && e.data.peer === aliceId && typeof e.data.messageId === 'string')).toBe(true)
    events.close()
    expect(await shown(b, aliceId, up.json.attachment.id)).toMatchObject({ state: 'ready', received: file.length, name: 'big file €.bin' })
    const res = await download(b, up.json.attachment.id)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe("attachment; filename=\"big file _.bin\"; filename*=UTF-8''big%20file%20%E2%82%AC.bin")
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(file))
  }, 120_000)

  it('a transfer cut by stopping the receiving node resumes after its restart, from where it stopped', async () => {
    const file = fileOf(16 * 1024 * 1024)
    const up = await upload(a, file, 'cut.bin', 'application/octet-stream')
    const events = await openEvents(b)
    await apiCall(a, 'POST', '/api/messages', { to: bobId, text: 'a big one', attachments: [up.json.attachment.id] })
    await events.waitFor('some bytes at B', (ev) => ev.some((e) => e.name === 'attachment' && e.data.id === up.json.attachment.id && e.data.received > 2 * 65536))
    events.close()
    await b.restart()
    // What was written before the stop is counted at once after the restart.
    const before = await shown(b, aliceId, up.json.attachment.id)
    expect(before.received).toBeGreaterThan(2 * 65536)
    await waitFor('the file ready at B after the restart', async () => (await shown(b, aliceId, up.json.attachment.id))?.state === 'ready', 60_000, 200)
    const res = await download(b, up.json.attachment.id)
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(file))
  }, 120_000)

  it('a 5 MiB file to an offline contact goes through the mailboxes and arrives while the sender is offline', async () => {
    await b.node.stop()
    const file = fileOf(5 * 1024 * 1024)
    const up = await upload(a, file, 'offline.pdf', 'application/pdf')
    const sent = await apiCall(a, 'POST', '/api/messages', { to: bobId, text: 'while you were away', attachments: [up.json.attachment.id] })
    expect(sent.json.message.state).toBe('stored')
    const service = a.node.controller.attachments?.()
    await waitFor('the chunks in the mailboxes', async () => ((await service?.blobs.record(up.json.attachment.id))?.mailedTo ?? []).includes(bobId), 60_000)
    await a.node.stop()
    await b.restart()
    const f = await waitFor('the file ready at B', async () => { const s = await shown(b, aliceId, up.json.attachment.id); return s?.state === 'ready' ? s : undefined }, 60_000)
    expect(f).toMatchObject({ name: 'offline.pdf', mime: 'application/pdf', size: file.length })
    const res = await download(b, up.json.attachment.id)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(file))
    await a.restart({ passphrase: TEST_PASSPHRASE })
  }, 120_000)

  it('the API: 413 over 100 MiB from Content-Length, 409 until a file is ready, HTML and SVG never inline, uploads only same-origin', async () => {
    // A declared length over the limit is refused before a byte of the body is read.
    const tooBig = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: a.node.apiPort, method: 'POST', path: '/api/attachments', headers: { Authorization: `Bearer ${a.node.token}`, 'Content-Type': 'application/octet-stream', 'Content-Length': String(100 * 1024 * 1024 + 1) } }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => { body += d.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      })
      req.on('error', reject)
      req.write(Buffer.alloc(10))
    })
    expect(tooBig.status).toBe(413)
    expect(JSON.parse(tooBig.body).error.code).toBe('ERR_ATTACHMENT_TOO_LARGE')
    // A file that has not arrived: 409 until it is complete.
    const service = a.node.controller.attachments?.()
    const missing = { manifestId: randomBytes(32).toString('hex'), key: randomBytes(32).toString('base64'), name: 'later.bin', size: 10, mime: 'application/octet-stream' }
    await service?.incoming(bobId, randomBytes(16).toString('hex'), [missing])
    const early = await download(a, missing.manifestId)
    expect(early.status).toBe(409)
    expect((await early.json()).error.code).toBe('ERR_ATTACHMENT_NOT_READY')
    const html = await upload(a, Buffer.from('<script>alert(1)</script>'), 'x.html', 'text/html')
    const got = await download(a, html.json.attachment.id)
    expect(got.headers.get('content-type')).toBe('application/octet-stream')
    expect(got.headers.get('content-disposition')).toMatch(/^attachment;/)
    const svg = await upload(a, Buffer.from('<svg/>'), 'x.svg', 'image/svg+xml')
    expect((await download(a, svg.json.attachment.id)).headers.get('content-disposition')).toMatch(/^attachment;/)
    const png = await upload(a, Buffer.from('not really a png'), 'x.png', 'image/png', { 'X-Sotto-Thumbnail': 'data:image/png;base64,' + Buffer.alloc(16).toString('base64') })
    const inline = await download(a, png.json.attachment.id)
    expect(inline.headers.get('content-type')).toBe('image/png')
    expect(inline.headers.get('content-disposition')).toBe('inline')
    const badThumb = await upload(a, Buffer.from('x'), 'x.png', 'image/png', { 'X-Sotto-Thumbnail': 'data:image/svg+xml;base64,PHN2Zz4=' })
    expect(badThumb.json.error.code).toBe('ERR_BAD_THUMBNAIL')
    const cross = await fetch(`http://127.0.0.1:${a.node.apiPort}/api/attachments`, { method: 'POST', headers: { Authorization: `Bearer ${a.node.token}`, Origin: 'http://evil.example', 'Content-Type': 'application/octet-stream' }, body: new Uint8Array([120]) })
    expect(cross.status).toBe(403)
    expect((await download(a, 'ab'.repeat(32))).status).toBe(404)
  }, 60_000)

  it('F3: no plaintext of any file in any data folder', async () => {
    for (const n of [a, b, ...relays]) expect(await filesContain(n.dataDir, Buffer.from(MARKER))).toBeUndefined()
  }, 60_000)
})

/**
 * Files in a group, in Chromium against three real nodes on loopback (one browser profile
 * each for Alice and Bob; Carol's node fetches without a page). Alice attaches a picture in
 * the group with the attach button: Bob's bubble shows its thumbnail first, then the picture,
 * and the full-size image in a dialog on click. Alice's own bubble shows the members fetching
 * it from her node: its bar moves, and the file ends "delivered" once both have it all. A
 * file still waiting names its author ("Waiting for Alice to come online"). Screenshots
 * (test-output/screenshots/ui-group-files-*.png) and axe (nothing serious or critical).
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { deflateSync, crc32 } from 'node:zlib'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, callApi, launchBrowser, signedInPage } from '../helpers/browser.js'
import { ROOT } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('browser tests')
const webUiDir = join(ROOT, 'dist', 'web-ui')
const SHOTS = join(ROOT, 'test-output', 'screenshots')
const A_PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const B_PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const C_PHRASE = 'letter advice cage absurd amount doctor acoustic avoid letter advice cage above'
/** A file crosses the network in chunks: more than a click. */
const NET_MS = 60_000

const id = (name: keyof typeof IDS) => `#${IDS[name]}`

let browser: Browser
let a: TestNode
let b: TestNode
let c: TestNode
const ids: string[] = []
let groupId = ''
const pages: Page[] = []

const api = async (n: TestNode, method: string, path: string, body?: unknown) => await callApi(n.node, method, path, body)
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/**
 * A PNG of width x height: a gradient with a square, and noise in the low bits so it does not
 * compress much (megabytes: the members take more than one progress step to fetch it).
 */
function makePng (width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  const noise = randomBytes(raw.length)
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1)
    raw[row] = 0
    for (let x = 0; x < width; x++) {
      const inSquare = x > width / 3 && x < width * 2 / 3 && y > height / 3 && y < height * 2 / 3
      const i = row + 1 + x * 3
      raw[i] = ((inSquare ? 250 : Math.round(255 * x / width)) & 0xf0) | (noise[i] & 0x0f)
      raw[i + 1] = ((inSquare ? 200 : Math.round(255 * y / height)) & 0xf0) | (noise[i + 1] & 0x0f)
      raw[i + 2] = ((inSquare ? 40 : 160) & 0xf0) | (noise[i + 2] & 0x0f)
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(data.length, 0)
    head.write(type, 4, 'ascii')
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])) >>> 0, 0)
    return Buffer.concat([head, data, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8
  ihdr[9] = 2
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))])
}

/** Records, in the page, each attachment's phases, states and progress values as they change. */
const WATCH = `(() => {
  const w = window
  if (w.__files) return
  w.__files = {}
  const seen = (id) => w.__files[id] || (w.__files[id] = { phases: [], progress: [], states: [], thumb: '' })
  const scan = () => {
    for (const el of document.querySelectorAll('[data-attachment]')) {
      const f = seen(el.getAttribute('data-attachment'))
      const phase = el.getAttribute('data-phase')
      if (phase && f.phases[f.phases.length - 1] !== phase) f.phases.push(phase)
      const state = el.getAttribute('data-state') || ''
      if (f.states[f.states.length - 1] !== state) f.states.push(state)
      const thumb = el.querySelector('img.att-thumb')
      if (thumb && f.thumb === '') f.thumb = thumb.getAttribute('src') || ''
      const bar = el.querySelector('progress')
      if (bar) {
        const v = Number(bar.value)
        if (f.progress[f.progress.length - 1] !== v) f.progress.push(v)
      }
    }
  }
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true, attributeFilter: ['data-phase', 'data-state', 'value', 'src'] })
  scan()
})()`

interface Seen { phases: string[], progress: number[], states: string[], thumb: string }
async function watched (p: Page, attachmentId: string): Promise<Seen> {
  return await p.evaluate((i) => ((window as unknown as { __files?: Record<string, Seen> }).__files ?? {})[i] ?? { phases: [], progress: [], states: [], thumb: '' }, attachmentId)
}

async function axeProblems (p: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

async function open (n: TestNode): Promise<Page> {
  const p = await signedInPage(browser, n.node)
  pages.push(p)
  await p.waitForSelector(id('ownId'))
  return p
}

async function openGroup (p: Page): Promise<void> {
  await p.click(`${id('conversations')} [data-group="${groupId}"]`, { timeout: NET_MS })
  await p.waitForSelector(`${id('groupView')} ${id('composer')}`)
}

const groupMessages = async (n: TestNode): Promise<any[]> => (await api(n, 'GET', `/api/groups/${groupId}/messages`)).json.messages ?? []

describe.skipIf(!haveBrowser)('files in a group, in the web UI', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    browser = await launchBrowser()
    a = await startTestNode({ webUiDir })
    b = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    c = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    ids.push((await a.node.controller.restoreAccount(A_PHRASE, TEST_PASSPHRASE)).sessionId)
    ids.push((await b.node.controller.restoreAccount(B_PHRASE, TEST_PASSPHRASE)).sessionId)
    ids.push((await c.node.controller.restoreAccount(C_PHRASE, TEST_PASSPHRASE)).sessionId)
    await waitFor('records published', async () => {
      for (const n of [a, b, c]) if (!(await n.node.controller.status()).dht.recordPublished) return false
      return true
    }, 60_000)
    const names = ['Alice', 'Bob', 'Carol']
    for (const [n, self] of [[a, 0], [b, 1], [c, 2]] as const) {
      for (let j = 0; j < 3; j++) if (j !== self) expect((await api(n, 'POST', '/api/contacts', { sessionId: ids[j], name: names[j] })).status).toBe(200)
    }
    const g = await api(a, 'POST', '/api/groups', { name: 'Summit', members: [ids[1], ids[2]] })
    expect(g.status, JSON.stringify(g.json)).toBe(200)
    groupId = g.json.group.id
    // Everyone's sender key everywhere before the file: each member writes once.
    for (const [n, i] of [[b, 1], [c, 2]] as const) {
      await waitFor('a member can write', async () => (await api(n, 'POST', `/api/groups/${groupId}/messages`, { text: `hello from ${names[i]}` })).status === 200, NET_MS)
    }
    await waitFor('the hellos at Alice', async () => (await groupMessages(a)).filter((m) => m.text.startsWith('hello from')).length === 2, NET_MS)
  }, 120_000)

  afterAll(async () => {
    for (const p of pages) await p.context().close().catch(() => {})
    await browser?.close()
    for (const n of [a, b, c]) await n?.node.stop()
  })

  it('Alice attaches a picture in the group: Bob sees the thumbnail, then the picture, and opens it; Alice\'s bar moves and ends delivered', async () => {
    const png = makePng(1600, 1200)
    const alice = await open(a)
    const bob = await open(b)
    await alice.evaluate(WATCH)
    await bob.evaluate(WATCH)
    await openGroup(bob)
    await openGroup(alice)
    // The node says it carries files in groups: the attach button is there.
    await alice.waitForSelector(`${id('groupView')} ${id('attachButton')}`)
    await alice.setInputFiles(id('attachInput'), { name: 'summit.png', mimeType: 'image/png', buffer: png })
    await alice.waitForSelector(`${id('fileChip')} img.chip-thumb[src^="data:image/"]`, { timeout: NET_MS })
    await alice.fill(id('composer'), 'made it to the top')
    await alice.press(id('composer'), 'Enter')
    await alice.waitForSelector(`.bubble.out:has-text("made it to the top") .att-image`, { timeout: NET_MS })
    await alice.waitForSelector(id('fileChip'), { state: 'detached' })
    expect(await alice.$('#composer-error')).toBeNull()

    const sent = (await groupMessages(a)).find((m) => m.text === 'made it to the top')
    expect(sent.attachments).toHaveLength(1)
    const att = sent.attachments[0]
    expect(att).toMatchObject({ name: 'summit.png', size: png.length, mime: 'image/png', recipients: 2 })
    expect(att.thumbnail).toMatch(/^data:image\/(webp|jpeg);base64,/)

    // Bob: the thumbnail first, then the picture from his node, then the dialog.
    const sel = `${id('groupView')} .bubble.in .att-image[data-attachment="${att.id}"]`
    await bob.waitForSelector(sel, { timeout: NET_MS })
    await bob.waitForSelector(`${sel}[data-phase="full"]`, { timeout: NET_MS })
    const atBob = await watched(bob, att.id)
    expect(atBob.phases).toEqual(['thumb', 'full'])
    expect(atBob.thumb).toBe(att.thumbnail)
    expect(await bob.$eval(`${sel} img.att-full`, (img) => (img as HTMLImageElement).naturalWidth)).toBe(1600)
    await bob.click(`${sel} .att-open`)
    await bob.waitForSelector(`${id('imageViewer')}[open] img.viewer-image`)
    await bob.waitForFunction((viewer) => {
      const img = document.querySelector(`#${viewer} img.viewer-image`) as HTMLImageElement | null
      return img !== null && img.complete && img.naturalWidth > 0
    }, IDS.imageViewer)
    expect(await bob.$eval(`${id('imageViewer')} img.viewer-image`, (img) => [(img as HTMLImageElement).naturalWidth, img.getAttribute('alt')])).toEqual([1600, 'summit.png'])
    await bob.screenshot({ path: join(SHOTS, 'ui-group-files-viewer-1280-light.png') })
    await bob.keyboard.press('Escape')
    await bob.waitForSelector(id('imageViewer'), { state: 'detached' })
    // The bytes Bob's node serves are the picture's (hashed in the page: megabytes stay there).
    const served = await bob.evaluate(async (u) => {
      const digest = await crypto.subtle.digest('SHA-256', await (await fetch(u)).arrayBuffer())
      return Array.from(new Uint8Array(digest), (x) => x.toString(16).padStart(2, '0')).join('')
    }, `/api/attachments/${att.id}`)
    expect(served).toBe(sha256(png))

    // Alice: her bubble followed the members fetching from her node, and ends delivered.
    const mine = `${id('groupView')} .bubble.out .att-image[data-attachment="${att.id}"]`
    await alice.waitForSelector(`${mine}[data-state="delivered"]`, { timeout: NET_MS })
    const atAlice = await watched(alice, att.id)
    expect(atAlice.progress.some((v) => v > 0 && v < png.length), `sender's bar: ${atAlice.progress.join(', ')}`).toBe(true)
    expect(atAlice.states[atAlice.states.length - 1]).toBe('delivered')
    expect(atAlice.states.indexOf('uploading')).toBeGreaterThanOrEqual(0)
    expect(atAlice.states.indexOf('uploading')).toBeLessThan(atAlice.states.indexOf('delivered'))
    expect(await alice.$(`${mine} progress`)).toBeNull()
    // Her own picture shows in full from her node all along.
    expect(await alice.$eval(`${mine} img.att-full`, (img) => (img as HTMLImageElement).naturalWidth)).toBe(1600)
    await alice.screenshot({ path: join(SHOTS, 'ui-group-files-1280-light.png') })
    expect(await axeProblems(alice)).toEqual([])
  }, 180_000)

  it('a file in a group still waiting for its author names the author; the author\'s bubble says how far the members got', async () => {
    const file = randomBytes(100_000)
    const res = await fetch(`http://127.0.0.1:${a.node.apiPort}/api/attachments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${a.node.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': 'plan.pdf', 'X-Sotto-Mime': 'application/pdf' },
      body: new Uint8Array(file)
    })
    const fileId = ((await res.json()) as { attachment: { id: string } }).attachment.id
    expect((await api(a, 'POST', `/api/groups/${groupId}/messages`, { text: 'the plan', attachments: [fileId] })).status).toBe(200)
    await waitFor('the plan at Bob', async () => (await groupMessages(b)).some((m) => m.attachments?.some((f: any) => f.id === fileId && f.state === 'ready')), NET_MS)
    // The node's answer is changed on its way to the page to the state a loopback test cannot
    // hold still: the author away.
    const bob = await open(b)
    await bob.route('**/api/groups/*/messages?*', async (route) => {
      const r = await route.fetch()
      const json = await r.json()
      for (const m of json.messages ?? []) for (const f of m.attachments ?? []) if (f.id === fileId) Object.assign(f, { state: 'pending', received: 0, waitingFor: 'sender-online' })
      await route.fulfill({ response: r, json })
    })
    await openGroup(bob)
    const wait = await bob.waitForSelector(`${id('groupView')} .bubble.in [data-attachment="${fileId}"] .att-status`)
    expect(await wait.textContent()).toBe('Waiting for Alice to come online')
    expect(await bob.$(`[data-attachment="${fileId}"] a.att-download`)).toBeNull()
    await bob.screenshot({ path: join(SHOTS, 'ui-group-files-waiting-1280-light.png') })
    expect(await axeProblems(bob)).toEqual([])

    // Alice's bubble while the members fetch (held still the same way): half-way, one member done.
    const alice = await open(a)
    await alice.route('**/api/groups/*/messages?*', async (route) => {
      const r = await route.fetch()
      const json = await r.json()
      for (const m of json.messages ?? []) for (const f of m.attachments ?? []) if (f.id === fileId) Object.assign(f, { state: 'uploading', sent: 50_000, delivered: 1, recipients: 2 })
      await route.fulfill({ response: r, json })
    })
    await openGroup(alice)
    const going = await alice.waitForSelector(`${id('groupView')} .bubble.out [data-attachment="${fileId}"] .att-status`)
    expect(await going.$eval('progress', (el) => [el.getAttribute('aria-label'), (el as HTMLProgressElement).value, (el as HTMLProgressElement).max])).toEqual(['Sending plan.pdf', 50_000, 100_000])
    expect(await going.$eval('span', (el) => el.textContent)).toBe('48.8 KB of 97.7 KB · Sent to 1 of 2')
    // Her own file is there to open all along.
    expect(await alice.$(`[data-attachment="${fileId}"] a.att-download`)).not.toBeNull()
    await alice.screenshot({ path: join(SHOTS, 'ui-group-files-sending-1280-light.png') })
    expect(await axeProblems(alice)).toEqual([])
  }, 120_000)
})

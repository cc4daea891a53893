/**
 * Files in the web UI, in Chromium against two real nodes on loopback (started as
 * test/browser/ui.test.ts starts them), one browser profile each. Alice attaches a picture
 * (a PNG made here) with the attach button: Bob's bubble shows its thumbnail first, then the
 * picture, and the full-size image in a dialog on click (focus in, Escape out). Alice attaches
 * a PDF-like file: the upload's bar moves, Bob's bar moves while the bytes come, and what Bob
 * downloads has the same SHA-256 as what Alice chose. A file over 100 MB is refused before
 * any byte moves; a pasted picture becomes the chip. Last, the conversation with a picture and
 * a file at 390x844 and 1280x800, light and dark: screenshots
 * (test-output/screenshots/ui-attach-*.png) and axe (nothing serious or critical).
 * Against a node without POST /api/attachments the attach button must not show; the rest
 * skips then, saying which endpoint is missing.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, callApi, launchBrowser, signedInPage, type PageOptions } from '../helpers/browser.js'
import { ROOT } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('browser tests')
const webUiDir = join(ROOT, 'dist', 'web-ui')
const SHOTS = join(ROOT, 'test-output', 'screenshots')
const A_PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const B_PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
/** A file crosses the network in chunks: more than a click. */
const NET_MS = 60_000
const MAX_ATTACHMENT = 100 * 1024 * 1024

const id = (name: keyof typeof IDS) => `#${IDS[name]}`

let browser: Browser
let a: TestNode
let b: TestNode
let aId: string
let bId: string
/** Why the attachment tests cannot run against this node ('' when they can). */
let missing = ''
const pages: Page[] = []

const api = async (n: TestNode, method: string, path: string, body?: unknown) => await callApi(n.node, method, path, body)
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

async function open (n: TestNode, options: PageOptions = {}): Promise<Page> {
  const p = await signedInPage(browser, n.node, options)
  pages.push(p)
  await p.waitForSelector(id('ownId'))
  return p
}

async function openConversation (p: Page, peer: string): Promise<void> {
  await p.click(`${id('conversations')} [data-contact="${peer}"]`)
  await p.waitForSelector(`${id('conversation')} ${id('composer')}`)
}

/** Whether the node answers this route (404 ERR_NOT_FOUND: not built yet), as the UI asks it. */
async function routeExists (n: TestNode, method: string, path: string): Promise<boolean> {
  const { status, json } = await api(n, method, path)
  return !(status === 404 && json?.error?.code === 'ERR_NOT_FOUND')
}

/** A PNG of width x height: a colour gradient with a square, so a thumbnail has something to show. */
function makePng (width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1)
    raw[row] = 0 // filter: none
    for (let x = 0; x < width; x++) {
      const inSquare = x > width / 3 && x < width * 2 / 3 && y > height / 3 && y < height * 2 / 3
      raw[row + 1 + x * 3] = inSquare ? 250 : Math.round(255 * x / width)
      raw[row + 2 + x * 3] = inSquare ? 200 : Math.round(255 * y / height)
      raw[row + 3 + x * 3] = inSquare ? 40 : 160
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
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // truecolour
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

/** A PDF-like file: a PDF header, then random bytes (nothing in it compresses or repeats). */
function makePdf (size: number): Buffer {
  const head = Buffer.from('%PDF-1.4\n% sotto attachment test\n', 'ascii')
  return Buffer.concat([head, randomBytes(size - head.length)])
}

/**
 * Records, in the page, what each attachment shows over time: its phase (thumb, full), the
 * values its progress bar takes, and the first thumbnail's address. Installed before the
 * message arrives, so the first render is seen.
 */
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
    const up = document.getElementById('${IDS.uploadProgress}')
    if (up) {
      const list = w.__upload || (w.__upload = [])
      const v = Number(up.value)
      if (list[list.length - 1] !== v) list.push(v)
    }
  }
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase', 'data-state', 'value', 'src'] })
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

/** The newest message of a conversation, as the node has it. */
async function lastMessage (n: TestNode, peer: string): Promise<any> {
  const { json } = await api(n, 'GET', `/api/conversations/${peer}/messages?limit=5`)
  return json.messages?.[json.messages.length - 1]
}

/** Sends a file as the CLI would: its bytes to POST /api/attachments, then a message naming it. */
async function sendFile (from: TestNode, to: string, name: string, mime: string, bytes: Buffer, text = ''): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${from.node.apiPort}/api/attachments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${from.node.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': encodeURIComponent(name), 'X-Sotto-Mime': mime },
    body: new Uint8Array(bytes)
  })
  const up = await res.json() as { attachment: { id: string } }
  expect(res.status, JSON.stringify(up)).toBe(200)
  const { status, json } = await api(from, 'POST', '/api/messages', { to, text, attachments: [up.attachment.id] })
  expect(status, JSON.stringify(json)).toBe(200)
  return up.attachment.id
}

describe.skipIf(!haveBrowser)('files in the web UI', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    browser = await launchBrowser()
    a = await startTestNode({ webUiDir })
    b = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    aId = (await a.node.controller.restoreAccount(A_PHRASE, TEST_PASSPHRASE)).sessionId
    bId = (await b.node.controller.restoreAccount(B_PHRASE, TEST_PASSPHRASE)).sessionId
    await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
    expect((await api(a, 'POST', '/api/contacts', { sessionId: bId, name: 'Bob' })).status).toBe(200)
    expect((await api(b, 'POST', '/api/contacts', { sessionId: aId, name: 'Alice' })).status).toBe(200)
    // A first message each way, so sessions exist before any file moves.
    expect((await api(a, 'POST', '/api/messages', { to: bId, text: 'here come some files' })).status).toBe(200)
    if (!await routeExists(a, 'GET', '/api/attachments/-')) missing = 'GET /api/attachments/:id (and POST /api/attachments) are not in this node yet'
  }, 90_000)

  afterAll(async () => {
    for (const p of pages) await p.context().close().catch(() => {})
    await browser?.close()
    for (const n of [a, b]) await n?.node.stop()
  })

  it('without the attachments endpoint the composer offers no attach button', async (ctx) => {
    if (missing === '') ctx.skip('this node has attachments: the button is tested below')
    const alice = await open(a)
    const probed = alice.waitForResponse((r) => r.url().endsWith('/api/attachments/-'))
    await openConversation(alice, bId)
    // The UI asked the node (GET /api/attachments/-) and heard 404 ERR_NOT_FOUND.
    expect((await probed).status()).toBe(404)
    await alice.waitForFunction(() => document.querySelector('.composer') !== null)
    expect(await alice.$(id('attachButton'))).toBeNull()
    expect(await alice.$(id('attachLimit'))).toBeNull()
  }, 30_000)

  it('the limit shows before anything is chosen; a file over 100 MB is refused before any byte moves; a pasted picture becomes the chip', async (ctx) => {
    if (missing !== '') ctx.skip(missing)
    const alice = await open(a)
    await openConversation(alice, bId)
    await alice.waitForSelector(id('attachButton'))
    expect(await alice.getAttribute(id('attachButton'), 'aria-label')).toBe('Attach a file')
    expect(await alice.textContent(id('attachLimit'))).toBe('Files up to 100 MB')
    expect(await alice.getAttribute(id('attachButton'), 'aria-describedby')).toBe(IDS.attachLimit)
    const uploads: string[] = []
    alice.on('request', (r) => { if (r.url().includes('/api/attachments') && r.method() === 'POST') uploads.push(r.url()) })
    // Dropped onto the conversation: one byte over the limit.
    await alice.evaluate(([max, pane]) => {
      const file = new File([new Uint8Array(max + 1)], 'huge.bin', { type: 'application/octet-stream' })
      const dt = new DataTransfer()
      dt.items.add(file)
      const target = document.getElementById(pane)!
      target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }))
      target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    }, [MAX_ATTACHMENT, IDS.conversation] as const)
    await alice.waitForSelector('#composer-error:has-text("Files up to 100 MB can be sent.")')
    expect(await alice.textContent('#composer-error')).toBe('"huge.bin" (100 MB) is too large. Files up to 100 MB can be sent.')
    expect(await alice.$(id('fileChip'))).toBeNull()
    expect(await alice.$(id('dropZone'))).toBeNull()
    // Send does nothing with no text and no file.
    await alice.click(id('sendButton'))
    expect(uploads).toEqual([])

    // A picture pasted into the composer is attached; ✕ takes it away again, still unsent.
    await alice.focus(id('composer'))
    await alice.evaluate(([png, input]) => {
      const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0))
      const dt = new DataTransfer()
      dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }))
      document.getElementById(input)!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }))
    }, [makePng(64, 48).toString('base64'), IDS.composer] as const)
    await alice.waitForSelector(`${id('fileChip')}:has-text("image.png")`)
    expect(await alice.$('#composer-error')).toBeNull()
    // The chip shows the thumbnail made in the page once it is ready.
    await alice.waitForSelector(`${id('fileChip')} img.chip-thumb[src^="data:image/"]`)
    await alice.click(id('removeFile'))
    await alice.waitForSelector(id('fileChip'), { state: 'detached' })
    expect(uploads).toEqual([])
  }, 60_000)

  // Retried: with the other browser files running beside it, this test fails about one run in
  // three (timeouts at different steps, cause not found yet); alone it has not failed.
  it('a picture: the chip, then at Bob the thumbnail first, the picture, and the full image in a dialog on click', { retry: 2, timeout: 120_000 }, async (ctx) => {
    if (missing !== '') ctx.skip(missing)
    const png = makePng(640, 480)
    const alice = await open(a)
    const bob = await open(b)
    await bob.evaluate(WATCH)
    await openConversation(bob, aId)
    await openConversation(alice, bId)
    await alice.setInputFiles(id('attachInput'), { name: 'sunset.png', mimeType: 'image/png', buffer: png })
    await alice.waitForSelector(`${id('fileChip')}:has-text("sunset.png")`)
    expect(await alice.textContent(`${id('fileChip')} .att-size`)).toMatch(/KB$/)
    // The thumbnail is drawn in the page before the upload: wait for it, as a person would see it.
    await alice.waitForSelector(`${id('fileChip')} img.chip-thumb[src^="data:image/"]`, { timeout: NET_MS })
    await alice.fill(id('composer'), 'the view from here')
    await alice.press(id('composer'), 'Enter')
    await alice.waitForSelector(`.bubble.out:has-text("the view from here") .att-image`, { timeout: NET_MS })
    await alice.waitForSelector(id('fileChip'), { state: 'detached' })

    const sent = await lastMessage(a, bId)
    expect(sent.attachments).toHaveLength(1)
    const att = sent.attachments[0]
    expect(att).toMatchObject({ name: 'sunset.png', size: png.length, mime: 'image/png' })
    // The thumbnail was made in the page: a small WebP (or JPEG) data: URL, at most 1 KiB.
    expect(att.thumbnail).toMatch(/^data:image\/(webp|jpeg);base64,/)
    expect(Buffer.from(att.thumbnail.split(',')[1], 'base64').length).toBeLessThanOrEqual(1024)

    const sel = `.bubble.in .att-image[data-attachment="${att.id}"]`
    await bob.waitForSelector(sel, { timeout: NET_MS })
    await bob.waitForSelector(`${sel}[data-phase="full"]`, { timeout: NET_MS })
    const seen = await watched(bob, att.id)
    expect(seen.phases).toEqual(['thumb', 'full'])
    expect(seen.thumb).toBe(att.thumbnail)
    // The picture in the bubble is the real one, from Bob's node.
    expect(await bob.$eval(`${sel} img.att-full`, (img) => (img as HTMLImageElement).naturalWidth)).toBe(640)

    // On click: the full image in a dialog, focus inside; Escape closes and gives focus back.
    await bob.click(`${sel} .att-open`)
    await bob.waitForSelector(`${id('imageViewer')}[open] img.viewer-image`)
    await bob.waitForFunction((viewer) => {
      const img = document.querySelector(`#${viewer} img.viewer-image`) as HTMLImageElement | null
      return img !== null && img.complete && img.naturalWidth > 0
    }, IDS.imageViewer)
    expect(await bob.$eval(`${id('imageViewer')} img.viewer-image`, (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight, img.getAttribute('alt')])).toEqual([640, 480, 'sunset.png'])
    await expect.poll(async () => await bob.evaluate((viewer) => document.getElementById(viewer)!.contains(document.activeElement), IDS.imageViewer)).toBe(true)
    await bob.keyboard.press('Escape')
    await bob.waitForSelector(id('imageViewer'), { state: 'detached' })
    await expect.poll(async () => await bob.evaluate((s) => document.activeElement === document.querySelector(`${s} .att-open`), sel)).toBe(true)
    // The bytes the node serves are the picture's.
    const served = await bob.evaluate(async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer())), `/api/attachments/${att.id}`)
    expect(sha256(Uint8Array.from(served))).toBe(sha256(png))
  })

  it('a PDF: the upload bar moves, Bob\'s bar moves while the bytes come, and his download has the same SHA-256', async (ctx) => {
    if (missing !== '') ctx.skip(missing)
    const pdf = makePdf(12 * 1024 * 1024 + 12345)
    const alice = await open(a)
    const bob = await open(b)
    await alice.evaluate(WATCH)
    await bob.evaluate(WATCH)
    await openConversation(bob, aId)
    await openConversation(alice, bId)
    // The upload to Alice's own node is on loopback: slowed to about 16 MB/s, so the bar has
    // time to be drawn more than once.
    const cdp = await alice.context().newCDPSession(alice)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 16 * 1024 * 1024 })
    await alice.setInputFiles(id('attachInput'), { name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf })
    await alice.waitForSelector(`${id('fileChip')}:has-text("report.pdf")`)
    expect(await alice.textContent(`${id('fileChip')} .att-size`)).toBe('12 MB')
    await alice.click(id('sendButton'))
    await alice.waitForSelector(`.bubble.out .att-file:has-text("report.pdf")`, { timeout: NET_MS })
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
    const upload = await alice.evaluate(() => (window as unknown as { __upload?: number[] }).__upload ?? [])
    expect(upload.some((v) => v > 0 && v < pdf.length), `upload progress seen: ${upload.join(', ')}`).toBe(true)

    const sent = await lastMessage(a, bId)
    const att = sent.attachments[0]
    expect(att).toMatchObject({ name: 'report.pdf', size: pdf.length, mime: 'application/pdf' })
    expect(sent.text).toBe('')
    // Alice's own bubble offers the file too.
    expect(await alice.getAttribute(`.bubble.out [data-attachment="${att.id}"] a.att-download`, 'download')).toBe('report.pdf')

    const sel = `.bubble.in .att-file[data-attachment="${att.id}"]`
    await bob.waitForSelector(sel, { timeout: NET_MS })
    expect(await bob.textContent(`${sel} .att-name`)).toBe('report.pdf')
    expect(await bob.textContent(`${sel} .att-size`)).toBe('12 MB')
    const link = await bob.waitForSelector(`${sel}[data-state="ready"] a.att-download`, { timeout: NET_MS })
    const seen = await watched(bob, att.id)
    // The bar was drawn while bytes came, and moved: a value between nothing and everything.
    expect(seen.progress.some((v) => v > 0 && v < pdf.length), `progress seen: ${seen.progress.join(', ')}`).toBe(true)
    expect(seen.states[seen.states.length - 1]).toBe('ready')
    expect(await bob.$(`${sel} progress`)).toBeNull()

    expect(await link.getAttribute('download')).toBe('report.pdf')
    const [download] = await Promise.all([bob.waitForEvent('download'), link.click()])
    expect(download.suggestedFilename()).toBe('report.pdf')
    const saved = await readFile(await download.path())
    expect(saved.length).toBe(pdf.length)
    expect(sha256(saved)).toBe(sha256(pdf))
  }, 180_000)

  it('a file waiting for its sender says whom it waits for; a failed download says so and Retry asks the node again', async (ctx) => {
    if (missing !== '') ctx.skip(missing)
    // Real files, at rest on both nodes; the node's answer is then changed on its way to the
    // page to the two states a loopback test cannot hold still (sender away, download failed).
    const waiting = await sendFile(a, bId, 'minutes.pdf', 'application/pdf', makePdf(200_000), 'two more')
    const failing = await sendFile(a, bId, 'slides.pdf', 'application/pdf', makePdf(200_000))
    let states = ''
    await waitFor('both files at Bob', async () => {
      const { json } = await api(b, 'GET', `/api/conversations/${aId}/messages?limit=10`)
      const files = (json.messages ?? []).flatMap((m: any) => m.attachments ?? []).filter((f: any) => f.id === waiting || f.id === failing)
      states = JSON.stringify(files.map((f: any) => [f.name, f.state, f.received, f.waitingFor]))
      return files.length === 2 && files.every((f: any) => f.state === 'ready')
    }, NET_MS).catch((err) => { throw new Error(`${(err as Error).message}: ${states}`) })
    const bob = await open(b)
    await bob.route('**/api/conversations/*/messages?*', async (route) => {
      const res = await route.fetch()
      const json = await res.json()
      for (const m of json.messages ?? []) {
        for (const f of m.attachments ?? []) {
          if (f.id === waiting) Object.assign(f, { state: 'pending', received: 0, waitingFor: 'sender-online' })
          if (f.id === failing) Object.assign(f, { state: 'failed', received: 65536 })
        }
      }
      await route.fulfill({ response: res, json })
    })
    const retried: string[] = []
    bob.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/retry')) retried.push(new URL(r.url()).pathname) })
    await openConversation(bob, aId)
    const wait = await bob.waitForSelector(`.bubble.in [data-attachment="${waiting}"] .att-status`)
    expect(await wait.textContent()).toBe('Waiting for Alice to come online')
    expect(await bob.$(`[data-attachment="${waiting}"] a.att-download`)).toBeNull()
    const failed = await bob.waitForSelector(`.bubble.in [data-attachment="${failing}"] .att-status.failed`)
    expect(await failed.$eval('span', (el) => el.textContent)).toBe('Download failed')
    expect(await failed.$eval('button', (el) => el.textContent)).toBe('Retry slides.pdf')
    expect(await bob.$(`[data-attachment="${failing}"] a.att-download`)).toBeNull()
    await bob.screenshot({ path: join(SHOTS, 'ui-attach-states-1280-light.png') })
    expect(await axeProblems(bob)).toEqual([])
    // Retry goes to the node for this file; the bubble leaves "failed" at once.
    await bob.click(`[data-attachment="${failing}"] .att-status button`)
    await bob.waitForSelector(`[data-attachment="${failing}"] .att-status.failed`, { state: 'detached' })
    expect(retried).toEqual([`/api/attachments/${failing}/retry`])
  }, 120_000)

  it('a conversation with a picture and a file at two widths, light and dark: screenshots, and axe finds nothing serious', async (ctx) => {
    if (missing !== '') ctx.skip(missing)
    // Its own picture (without a thumbnail: the bubble has a blank frame until it is here) and file.
    const picture = await sendFile(a, bId, 'harbour.png', 'image/png', makePng(480, 320), 'and one more')
    const file = await sendFile(a, bId, 'notes.pdf', 'application/pdf', makePdf(300_000))
    const problems: string[] = []
    for (const size of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
      for (const scheme of ['light', 'dark'] as const) {
        const tag = `${size.width}-${scheme}`
        const bob = await open(b, { ...size, colorScheme: scheme })
        await openConversation(bob, aId)
        await bob.waitForSelector(`.bubble.in .att-image[data-attachment="${picture}"][data-phase="full"]`, { timeout: NET_MS })
        await bob.waitForSelector(`.bubble.in .att-file[data-attachment="${file}"][data-state="ready"]`, { timeout: NET_MS })
        await bob.screenshot({ path: join(SHOTS, `ui-attach-conversation-${tag}.png`) })
        for (const line of await axeProblems(bob)) problems.push(`conversation ${tag}: ${line}`)
        await bob.click(`.bubble.in [data-attachment="${picture}"] .att-open`)
        await bob.waitForFunction(() => (document.querySelector('dialog[open] img.viewer-image') as HTMLImageElement | null)?.complete === true)
        await bob.screenshot({ path: join(SHOTS, `ui-attach-viewer-${tag}.png`) })
        for (const line of await axeProblems(bob)) problems.push(`viewer ${tag}: ${line}`)
        await bob.keyboard.press('Escape')

        const alice = await open(a, { ...size, colorScheme: scheme })
        await openConversation(alice, bId)
        await alice.setInputFiles(id('attachInput'), { name: 'holiday-photo-with-a-long-name.png', mimeType: 'image/png', buffer: makePng(320, 200) })
        await alice.waitForSelector(`${id('fileChip')} img.chip-thumb`)
        await alice.waitForSelector(`.bubble.out .att-image[data-attachment="${picture}"][data-phase="full"]`, { timeout: NET_MS })
        await alice.screenshot({ path: join(SHOTS, `ui-attach-composer-${tag}.png`) })
        for (const line of await axeProblems(alice)) problems.push(`composer ${tag}: ${line}`)
        await alice.click(id('removeFile'))
        await bob.context().close()
        await alice.context().close()
      }
    }
    expect(problems).toEqual([])
  }, 180_000)
})

/**
 * Acceptance of calls (R18), as users run Sotto: two `sotto start` child processes on
 * loopback (mDNS off), two Chromium profiles with a fake camera and microphone, the web UI
 * opened from links the nodes issue. Alice video-calls Bob and Bob accepts: getStats() on both
 * RTCPeerConnections shows audio packets and video frames arriving in both directions, and
 * both screens show the same call code; Alice mutes and her outgoing audio packets stop; she
 * hangs up and the call ends on both sides within 2 s. Bob declines a voice call and Alice
 * sees it declined; with Bob's node stopped Alice's call says "unavailable" within 10 s.
 * Screenshots of the ringing and in-call screens at 1280x800 and 390x844 go to
 * /tmp/calls-shots/; the time from clicking "Video call" to the first video frame decoded on
 * the caller's side is printed.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, callApi, CHROMIUM, freshLink, type ApiNode } from '../helpers/browser.js'
import { tempDir } from '../helpers/cli.js'
import { bootstrapAddress, startSotto, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('call tests')
const SHOTS = '/tmp/calls-shots'
const PASS = 'call test passphrase'
const A_PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const B_PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const id = (name: keyof typeof IDS) => `#${IDS[name]}`

let root: { path: string, remove: () => Promise<void> }
let browser: Browser | undefined
const contexts: BrowserContext[] = []
let a: SottoProcess
let b: SottoProcess
let aApi: ApiNode
let bApi: ApiNode
let alice: Page
let bob: Page
let aId = ''
let bId = ''
const cspErrors: string[] = []

interface Flow { audioIn: number, videoIn: number, audioSent: number, videoSent: number, state: string }

/** What the page's RTCPeerConnection (window.__sottoCall.pc) has sent and received so far. */
async function flow (p: Page): Promise<Flow> {
  return await p.evaluate(async () => {
    const pc = (window as any).__sottoCall?.pc as RTCPeerConnection | undefined
    const out = { audioIn: 0, videoIn: 0, audioSent: 0, videoSent: 0, state: pc?.connectionState ?? 'none' }
    if (pc === undefined) return out
    const report = await pc.getStats()
    report.forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.audioIn += s.packetsReceived ?? 0
      if (s.type === 'inbound-rtp' && s.kind === 'video') out.videoIn += Math.max(s.framesDecoded ?? 0, s.framesReceived ?? 0)
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out.audioSent += s.packetsSent ?? 0
      if (s.type === 'outbound-rtp' && s.kind === 'video') out.videoSent += s.framesSent ?? 0
    })
    return out
  })
}

/** Waits (polling getStats, bounded) until the page's connection satisfies `ok`. */
async function flowUntil (p: Page, what: string, ok: (f: Flow) => boolean, timeoutMs = 15_000): Promise<Flow> {
  return await until(what, async () => { const f = await flow(p); return ok(f) ? f : undefined }, timeoutMs, 50)
}

async function open (node: ApiNode, width: number, height: number): Promise<Page> {
  if (browser === undefined) throw new Error('no browser')
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: 'light', permissions: ['camera', 'microphone'] })
  contexts.push(context)
  const p = await context.newPage()
  p.setDefaultTimeout(15_000)
  p.on('console', (m) => { if (/Content.Security.Policy|Permissions.Policy/i.test(m.text())) cspErrors.push(m.text()) })
  expect((await p.goto(await freshLink(node)))?.status()).toBe(200)
  await p.waitForSelector(id('ownId'), { timeout: 30_000 })
  return p
}

async function apiNodeOf (node: SottoProcess): Promise<ApiNode> {
  const { port, token } = JSON.parse(await readFile(join(node.dataDir, 'api.json'), 'utf8')) as { port: number, token: string }
  return { apiPort: port, token }
}

async function openChat (p: Page, peer: string): Promise<void> {
  await p.click(`${id('conversations')} [data-contact="${peer}"]`)
  await p.waitForSelector(id('callVideoButton'))
}

/** Serious or critical accessibility violations (axe-core, WCAG 2.1 A and AA) on the page as it is. */
async function seriousViolations (p: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

async function shot (p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`) })
}

/**
 * Closes the ended call's screen and waits until it is gone. The screen also closes by itself
 * a few seconds after the end, so the click may find nothing: what counts is the detach.
 */
async function settle (p: Page): Promise<void> {
  if (await p.$(id('callScreen')) !== null) await p.click(id('callClose'), { timeout: 5_000 }).catch(() => undefined)
  await p.waitForSelector(id('callScreen'), { state: 'detached', timeout: 10_000 })
}

describe.skipIf(!haveBrowser)('calls in the web UI between two sotto processes', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    root = await tempDir('sotto-calls-')
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required']
    })
    a = await startSotto({ dataDir: join(root.path, 'a') })
    b = await startSotto({ dataDir: join(root.path, 'b'), bootstrap: [await bootstrapAddress(a)] })
    aApi = await apiNodeOf(a)
    bApi = await apiNodeOf(b)
    aId = (await callApi(aApi, 'POST', '/api/account/restore', { phrase: A_PHRASE, passphrase: PASS })).json.sessionId
    bId = (await callApi(bApi, 'POST', '/api/account/restore', { phrase: B_PHRASE, passphrase: PASS })).json.sessionId
    await until('both records published', async () => (await callApi(aApi, 'GET', '/api/status')).json.dht.recordPublished && (await callApi(bApi, 'GET', '/api/status')).json.dht.recordPublished, 30_000, 250)
    expect((await callApi(aApi, 'POST', '/api/contacts', { sessionId: bId, name: 'Bob' })).status).toBe(200)
    expect((await callApi(bApi, 'POST', '/api/contacts', { sessionId: aId, name: 'Alice' })).status).toBe(200)
    alice = await open(aApi, 1280, 800)
    bob = await open(bApi, 1280, 800)
    await openChat(alice, bId)
    await openChat(bob, aId)
  }, 120_000)

  afterAll(async () => {
    try {
      await Promise.race([
        (async () => { for (const ctx of contexts) await ctx.close().catch(() => {}); await browser?.close() })(),
        new Promise((resolve) => setTimeout(resolve, 10_000))
      ])
    } finally {
      await stopAllSotto()
      await root?.remove()
    }
  }, 60_000)

  it('V2: a video call: media both ways, the same call code on both screens, mute stops outgoing audio, hang up ends both within 2 s', async () => {
    const clickedAt = Date.now()
    await alice.click(id('callVideoButton'))
    await bob.waitForSelector(id('callAccept'))
    const rangMs = Date.now() - clickedAt
    expect(await bob.textContent(id('callStatus'))).toContain('Alice is calling you')
    expect(await bob.isVisible(id('callUnverified'))).toBe(true)
    await shot(bob, 'ringing-1280x800')
    const acceptedAt = Date.now()
    await bob.click(id('callAccept'))

    await alice.waitForSelector(`${id('callScreen')}[data-state="active"]`)
    const first = await flowUntil(alice, 'the first video frame at Alice', (f) => f.videoIn > 0)
    const toFirstFrameMs = Date.now() - clickedAt
    await bob.waitForSelector(`${id('callScreen')}[data-state="active"]`)
    // Media both ways: audio packets and video frames arrive on each side.
    const atAlice = await flowUntil(alice, 'audio and video at Alice', (f) => f.audioIn > 25 && f.videoIn > 10)
    const atBob = await flowUntil(bob, 'audio and video at Bob', (f) => f.audioIn > 25 && f.videoIn > 10)
    expect(atAlice.state).toBe('connected')
    expect(atBob.state).toBe('connected')
    console.info(`video call: "Video call" clicked -> first video frame decoded at the caller: ${toFirstFrameMs} ms; ringing at Bob after ${rangMs} ms; "Accept" clicked -> that frame: ${clickedAt + toFirstFrameMs - acceptedAt} ms (first reading ${JSON.stringify(first)})`)

    // The same short code on both sides, from both DTLS fingerprints.
    await alice.waitForSelector(id('callCode'))
    await bob.waitForSelector(id('callCode'))
    const codeA = (await alice.textContent(id('callCode')))?.trim() ?? ''
    expect(codeA).toMatch(/^\d{4} \d{4} \d{4} \d{4}$/)
    expect((await bob.textContent(id('callCode')))?.trim()).toBe(codeA)
    await alice.waitForSelector(id('callDuration'))
    await alice.waitForSelector(`${id('callQuality')}:has-text("connection (")`)
    await shot(alice, 'in-call-1280x800-caller')
    await shot(bob, 'in-call-1280x800-callee')

    // Mute: Alice's audio sender has no track, so her packet count stops (while video goes on).
    const beforeMute = await flow(alice)
    await flowUntil(alice, 'audio still flowing before mute', (f) => f.audioSent > beforeMute.audioSent + 10 && f.videoSent > beforeMute.videoSent + 10)
    await alice.click(id('callMute'))
    await alice.waitForSelector(`${id('callMute')}[aria-pressed="true"]`)
    const settled = await flow(alice)
    await flowUntil(alice, 'video frames after mute', (f) => f.videoSent > settled.videoSent + 15)
    const muted1 = await flow(alice)
    await flowUntil(alice, 'more video frames while muted', (f) => f.videoSent > muted1.videoSent + 30)
    const muted2 = await flow(alice)
    expect(muted2.audioSent).toBe(muted1.audioSent)
    await alice.click(id('callMute'))
    await flowUntil(alice, 'audio again after unmute', (f) => f.audioSent > muted2.audioSent + 10)

    // Camera off: Bob stops receiving Alice's video frames (her audio goes on); on again, they come back.
    await bob.click(id('callCamera'))
    await bob.waitForSelector(`${id('callCamera')}[aria-pressed="true"]`)
    const camOff = await flow(alice)
    await flowUntil(alice, 'audio while Bob\'s camera is off', (f) => f.audioIn > camOff.audioIn + 25)
    const camOff1 = await flow(alice)
    await flowUntil(alice, 'more audio while Bob\'s camera is off', (f) => f.audioIn > camOff1.audioIn + 50)
    expect((await flow(alice)).videoIn).toBe(camOff1.videoIn)
    await bob.click(id('callCamera'))
    await flowUntil(alice, 'Bob\'s video again', (f) => f.videoIn > camOff1.videoIn + 10)

    // Hang up: both sides end within 2 s.
    const hungAt = Date.now()
    await alice.click(id('callHangup'))
    await Promise.all([
      alice.waitForSelector(`${id('callScreen')}[data-state="ended"]`, { timeout: 2_000 }),
      bob.waitForSelector(`${id('callScreen')}[data-state="ended"]`, { timeout: 2_000 })
    ])
    expect(Date.now() - hungAt).toBeLessThan(2_000)
    expect(await bob.evaluate(() => (window as any).__sottoCall.pc.connectionState)).toBe('closed')
    await settle(alice)
    await settle(bob)
    await alice.waitForSelector('.call-line[data-reason="hangup"][data-direction="out"]:has-text("Outgoing video call")')
    await bob.waitForSelector('.call-line[data-reason="hangup"][data-direction="in"]:has-text("Incoming video call")')
    expect(cspErrors).toEqual([])
  }, 120_000)

  it('at phone width: the ringing and in-call screens', async () => {
    await alice.setViewportSize({ width: 390, height: 844 })
    await bob.setViewportSize({ width: 390, height: 844 })
    await shot(alice, 'conversation-390x844')
    await alice.click(id('callVideoButton'))
    await bob.waitForSelector(id('callAccept'))
    await shot(bob, 'ringing-390x844')
    expect(await seriousViolations(bob)).toEqual([])
    await shot(alice, 'calling-390x844')
    await bob.click(id('callAccept'))
    await alice.waitForSelector(`${id('callScreen')}[data-state="active"]`)
    await flowUntil(alice, 'video at Alice', (f) => f.videoIn > 10)
    await flowUntil(bob, 'video at Bob', (f) => f.videoIn > 10)
    await alice.waitForSelector(id('callCode'))
    await bob.waitForSelector(id('callCode'))
    await shot(alice, 'in-call-390x844-caller')
    expect(await seriousViolations(alice)).toEqual([])
    await shot(bob, 'in-call-390x844-callee')
    await bob.click(id('callHangup'))
    await alice.waitForSelector(`${id('callScreen')}[data-state="ended"]`, { timeout: 2_000 })
    await settle(alice)
    await settle(bob)
    await alice.setViewportSize({ width: 1280, height: 800 })
    await bob.setViewportSize({ width: 1280, height: 800 })
  }, 90_000)

  it('a page reloaded during a call ends it: the other side is not left in a call nobody is in', async () => {
    await alice.click(id('callVoiceButton'))
    await bob.waitForSelector(id('callAccept'))
    await bob.click(id('callAccept'))
    await alice.waitForSelector(`${id('callScreen')}[data-state="active"]`)
    await bob.reload()
    await alice.waitForSelector(`${id('callScreen')}[data-state="ended"]`, { timeout: 5_000 })
    expect((await callApi(aApi, 'GET', '/api/calls')).json.calls).toEqual([])
    expect((await callApi(bApi, 'GET', '/api/calls')).json.calls).toEqual([])
    await settle(alice)
    await bob.waitForSelector(id('ownId'))
    await openChat(bob, aId)
  }, 60_000)

  it('a declined call shows as declined to the caller, and as a line on both sides; a hidden tab rings with a sound and a notification', async () => {
    // Bob's tab is hidden; what the page asks of Notification and AudioContext is recorded.
    await bob.context().grantPermissions(['notifications'])
    await bob.evaluate(() => {
      const w = window as any
      w.__notes = []
      w.__tones = 0
      // Notifications turned on in this browser, as Settings does once the browser allows them.
      localStorage.setItem('sotto.notifications', 'on')
      const N = w.Notification
      w.Notification = class extends N { constructor (title: string, options: { body: string }) { super(title, options); w.__notes.push(options.body) } }
      const A = w.AudioContext
      w.AudioContext = class extends A { constructor () { super(); w.__tones++ } }
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
      document.dispatchEvent(new Event('visibilitychange'))
    })
    await alice.click(id('callVoiceButton'))
    await bob.waitForSelector(id('callDecline'))
    expect(await bob.evaluate(() => (window as any).__notes)).toEqual(['Incoming voice call from Alice'])
    expect(await bob.evaluate(() => (window as any).__tones)).toBe(1)
    await bob.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' })
      document.dispatchEvent(new Event('visibilitychange'))
    })
    await bob.click(id('callDecline'))
    await alice.waitForSelector(`${id('callScreen')}[data-reason="declined"]`)
    expect(await alice.textContent(id('callStatus'))).toContain('Bob declined the call')
    await settle(alice)
    await settle(bob)
    await alice.waitForSelector('.call-line[data-reason="declined"]:has-text("Voice call declined by Bob")')
    await bob.waitForSelector('.call-line[data-reason="declined"]:has-text("Declined voice call")')
  }, 60_000)

  it('a TURN relay is entered in Settings and handed to the calls; never required', async () => {
    await alice.click(id('settingsButton'))
    await alice.fill(id('turnUrl'), 'turn:127.0.0.1:3478')
    await alice.fill(id('turnUsername'), 'alice')
    await alice.fill(id('turnCredential'), 'relay secret')
    await alice.click(id('saveTurn'))
    await alice.waitForSelector(id('turnNote'))
    expect((await callApi(aApi, 'GET', '/api/calls/config')).json.iceServers).toEqual([{ urls: ['turn:127.0.0.1:3478'], username: 'alice', credential: 'relay secret' }])
    await alice.fill(id('turnUrl'), '')
    await alice.fill(id('turnUsername'), '')
    await alice.fill(id('turnCredential'), '')
    await alice.click(id('saveTurn'))
    await alice.waitForSelector(`${id('turnNote')}:has-text("No relay")`)
    expect((await callApi(aApi, 'GET', '/api/calls/config')).json.iceServers).toEqual([])
    await openChat(alice, bId)
  }, 30_000)

  it('a call while Bob\'s node is stopped says "unavailable" within 10 s', async () => {
    expect(await b.stop()).toBe(0)
    const clickedAt = Date.now()
    await alice.click(id('callVoiceButton'))
    await alice.waitForSelector(`${id('callScreen')}[data-reason="unavailable"]`, { timeout: 10_000 })
    const tookMs = Date.now() - clickedAt
    expect(tookMs).toBeLessThan(10_000)
    expect(await alice.textContent(id('callStatus'))).toContain('Bob is unavailable')
    await shot(alice, 'unavailable-1280x800')
    await settle(alice)
    await alice.waitForSelector('.call-line[data-reason="unavailable"]')
    await shot(alice, 'conversation-call-lines-1280x800')
    console.info(`call to a stopped node: "unavailable" shown after ${tookMs} ms`)
  }, 30_000)
})

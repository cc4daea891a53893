/**
 * The bundled web UI in Debian's Chromium, driven by playwright-core, against two real nodes
 * on loopback: one person creates an account in the browser, the other restores one from a
 * phrase; they add each other, chat both ways and see "delivered" then "read"; one verifies
 * the other's safety number; a message with HTML/script shows as text and runs nothing; after
 * a node restart the UI asks for the passphrase. Screenshots go to test-output/screenshots.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, launchBrowser } from '../helpers/browser.js'
import { ROOT, runSotto } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('browser tests')

const SHOTS = join(ROOT, 'test-output', 'screenshots')
const BOB_PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const webUiDir = join(ROOT, 'dist', 'web-ui')
let browser: Browser
let a: TestNode
let b: TestNode
const dialogs: string[] = []

/** A new one-time link, as `sotto open` asks for it: POST /api/link with the API token. */
async function freshLink (node: TestNode): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${node.node.apiPort}/api/link`, { method: 'POST', headers: { Authorization: `Bearer ${node.node.token}`, 'Content-Type': 'application/json' }, body: '{}' })
  expect(res.status).toBe(200)
  return ((await res.json()) as { url: string }).url
}

/** A fresh browser profile, signed in with a link of its own (each link signs in once). */
async function page (node: TestNode, width = 1280, height = 800): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } })
  const p = await context.newPage()
  p.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss() })
  expect((await p.goto(await freshLink(node)))?.status()).toBe(200)
  return p
}

const id = (name: keyof typeof IDS) => `#${IDS[name]}`

describe.skipIf(!haveBrowser)('web UI in Chromium', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    browser = await launchBrowser()
    a = await startTestNode({ webUiDir })
    b = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await a?.node.stop()
    await b?.node.stop()
  })

  it('create, restore, add each other, chat both ways, delivered then read, verify, HTML stays text, restart asks for the passphrase', async () => {
    const alice = await page(a)
    expect(alice.url()).not.toContain('token=')
    await alice.waitForSelector(id('welcome'))
    await alice.screenshot({ path: join(SHOTS, 'welcome-1280.png') })
    const phone = await page(a, 390, 844)
    await phone.waitForSelector(id('welcome'))
    await phone.screenshot({ path: join(SHOTS, 'welcome-390.png') })

    // Alice creates an account: the phrase once, three words confirmed.
    await alice.click(id('createButton'))
    await alice.fill(id('passphrase'), TEST_PASSPHRASE)
    await alice.fill(id('passphrase2'), TEST_PASSPHRASE)
    await alice.click(id('submit'))
    await alice.waitForSelector(id('phraseGrid'))
    const words = await alice.$$eval(`${id('phraseGrid')} li`, (lis) => lis.map((li) => li.textContent ?? ''))
    expect(words).toHaveLength(12)
    await alice.click(id('phraseDone'))
    for (const input of await alice.$$(`${id('confirmInputs')} input`)) {
      await input.fill(words[Number(await input.getAttribute('data-index'))])
    }
    await alice.click(id('confirmButton'))
    await alice.waitForSelector(id('ownId'))
    const aliceId = (await alice.textContent(id('ownId')))?.trim() ?? ''
    expect(aliceId).toMatch(/^05[0-9a-f]{64}$/)
    expect(await alice.content()).not.toContain(a.node.token)
    await alice.click(id('showQr'))
    expect(await alice.$eval(id('ownQr'), (img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(50)
    await alice.keyboard.press('Escape')

    // Bob restores from a phrase, with a typo first.
    const bob = await page(b)
    await bob.click(id('restoreButton'))
    await bob.fill(id('restorePhrase'), BOB_PHRASE.replace('thank', 'thnak') + ' ')
    await bob.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').includes('thnak'), id('restoreHint'))
    await bob.fill(id('restorePhrase'), BOB_PHRASE)
    await bob.fill(id('passphrase'), TEST_PASSPHRASE)
    await bob.fill(id('passphrase2'), TEST_PASSPHRASE)
    await bob.click(id('submit'))
    await bob.waitForSelector(id('ownId'))
    const bobId = (await bob.textContent(id('ownId')))?.trim() ?? ''

    await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)

    // They add each other; a bad ID is explained as it is typed.
    await alice.fill(id('addContactId'), '05zz')
    expect(await alice.textContent(id('addContactError'))).toMatch(/0-9 and letters a-f/)
    await alice.fill(id('addContactId'), bobId)
    await alice.fill(id('addContactName'), 'Bob')
    await alice.click(id('addContactButton'))
    await alice.waitForSelector(id('composer'))
    // Bob adds Alice by pasting her invite: it fills the Session ID and the name.
    await bob.fill(id('addContactId'), `sotto:${aliceId}?name=Alice`)
    expect(await bob.inputValue(id('addContactId'))).toBe(aliceId)
    expect(await bob.inputValue(id('addContactName'))).toBe('Alice')
    await bob.click(id('addContactButton'))
    await bob.waitForSelector(id('composer'))

    // Alice writes; Bob has the conversation open, so it is delivered and then read.
    await alice.fill(id('composer'), 'Hello Bob!')
    await alice.press(id('composer'), 'Enter')
    await bob.waitForSelector('.bubble.in:has-text("Hello Bob!")')
    await alice.waitForSelector('.bubble.out[data-state="read"]', { timeout: 20_000 })
    await bob.fill(id('composer'), 'Hi Alice, got it.')
    await bob.click(id('sendButton'))
    await alice.waitForSelector('.bubble.in:has-text("Hi Alice, got it.")')
    await bob.waitForSelector('.bubble.out[data-state="delivered"], .bubble.out[data-state="read"]')

    // A hostile text is shown as text and runs nothing (A5).
    const payload = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await bob.fill(id('composer'), payload)
    await bob.click(id('sendButton'))
    const shown = await alice.waitForSelector(`.bubble.in:has-text("${'<script>'}")`)
    expect(await shown.textContent()).toContain(payload)
    expect(await alice.$$('.bubble img')).toHaveLength(0)
    await alice.waitForTimeout(300)
    expect(dialogs).toEqual([])
    await alice.screenshot({ path: join(SHOTS, 'chat-1280.png') })

    // Verify: 60 digits in 12 groups, the same on both sides.
    await alice.click(id('verifyButton'))
    // The dialog fills in its digits once the node answered: wait for them, not the box.
    await alice.waitForSelector(`${id('safetyNumber')} span`)
    const aliceDigits = await alice.$$eval(`${id('safetyNumber')} span`, (s) => s.map((x) => x.textContent).join(' '))
    // The QR code is drawn (a real image, loaded under the CSP).
    expect(await alice.$eval(id('safetyQr'), (img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(50)
    expect(aliceDigits.split(' ')).toHaveLength(12)
    await alice.screenshot({ path: join(SHOTS, 'verify-1280.png') })
    await bob.click(id('verifyButton'))
    await bob.waitForSelector(`${id('safetyNumber')} span`)
    const bobDigits = await bob.$$eval(`${id('safetyNumber')} span`, (s) => s.map((x) => x.textContent).join(' '))
    expect(bobDigits).toBe(aliceDigits)
    await alice.click(id('markVerified'))
    await alice.waitForSelector(`${id('verifyButton')}:has-text("Verified")`)

    // Phone width: chat and verify screens.
    const phoneChat = await page(a, 390, 844)
    await phoneChat.click(`[data-contact="${bobId}"]`)
    await phoneChat.waitForSelector(id('composer'))
    await phoneChat.screenshot({ path: join(SHOTS, 'chat-390.png') })
    await phoneChat.click(id('verifyButton'))
    await phoneChat.waitForSelector(id('safetyNumber'))
    await phoneChat.screenshot({ path: join(SHOTS, 'verify-390.png') })

    // After a restart the node is locked; the UI asks for the passphrase; a wrong one says so.
    await a.restart({ webUiDir })
    const again = await page(a)
    await again.waitForSelector(id('unlock'))
    await again.fill(id('unlockPassphrase'), 'not my passphrase')
    await again.click(id('unlockButton'))
    await again.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '') === 'Wrong passphrase.', id('unlockError'))
    // The node now makes the next try wait (1 s after one failure); try until it lets us in.
    // The key derivation takes seconds on a loaded machine: each try waits for the form to be
    // usable again (the button is disabled while a try runs), never a fixed time for the result.
    for (let i = 0; i < 20 && await again.$(id('ownId')) === null; i++) {
      await again.waitForTimeout(600) // pacing only: the node refuses tries within its back-off
      if (await again.$(id('unlockPassphrase')) === null) break
      await again.waitForSelector(`${id('ownId')}, ${id('unlockButton')}:not([disabled])`, { timeout: 60_000 })
      if (await again.$(id('ownId')) !== null) break
      await again.fill(id('unlockPassphrase'), TEST_PASSPHRASE)
      await again.click(id('unlockButton'))
      await again.waitForSelector(`${id('ownId')}, ${id('unlockError')}:has-text("Too many")`, { timeout: 60_000 }).catch(() => {})
    }
    await again.waitForSelector(id('ownId'), { timeout: 60_000 })
    expect((await again.textContent(id('ownId')))?.trim()).toBe(aliceId)
  }, 240_000)

  it('A4: the printed link signs in once; opened again elsewhere it says it was used; `sotto open` prints a new one, good once', async () => {
    const c = await startTestNode({ webUiDir })
    try {
      const first = await (await browser.newContext()).newPage()
      expect((await first.goto(c.node.url))?.status()).toBe(200)
      await first.waitForSelector(id('welcome'))
      expect(first.url()).not.toContain('token=')

      // Another profile (or anyone who finds the link in the history) gets a page saying why.
      const other = await (await browser.newContext()).newPage()
      const reused = await other.goto(c.node.url)
      expect(reused?.status()).toBe(401)
      expect(await other.textContent('body')).toMatch(/This link was already used.*sotto open/s)
      expect(await other.$(id('welcome'))).toBeNull()
      // The profile that used it is still signed in: the old link just leads to the app.
      expect((await first.goto(c.node.url))?.status()).toBe(200)
      await first.waitForSelector(id('welcome'))

      // `sotto open`, authenticated by the data folder's api.json, prints a fresh link.
      const opened = await runSotto(['open', '--data-dir', c.dataDir])
      expect(opened.code, opened.stderr).toBe(0)
      const fresh = opened.stdout.trim()
      expect(fresh).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${c.node.apiPort}/\\?token=[A-Za-z0-9_-]{43}$`))
      expect(fresh).not.toBe(c.node.url)
      expect(fresh).not.toContain(c.node.token)
      expect((await other.goto(fresh))?.status()).toBe(200)
      await other.waitForSelector(id('welcome'))
      const third = await (await browser.newContext()).newPage()
      expect((await third.goto(fresh))?.status()).toBe(401)
      const json = await runSotto(['open', '--json', '--data-dir', c.dataDir])
      expect(JSON.parse(json.stdout).url).toMatch(/\?token=/)
      for (const p of [first, other, third]) await p.context().close()
    } finally {
      await c.node.stop()
    }
  })

  it('A4/A5: the page sets CSP and no-referrer, and an injected inline script does not run', async () => {
    const p = await page(b)
    const res = await p.goto(`http://127.0.0.1:${b.node.apiPort}/`)
    const headers = res?.headers() ?? {}
    expect(headers['content-security-policy']).toContain("script-src 'self'")
    expect(headers['referrer-policy']).toBe('no-referrer')
    const ran = await p.evaluate(() => {
      const s = document.createElement('script')
      s.textContent = 'window.__pwned = true'
      document.body.append(s)
      return (window as unknown as { __pwned?: boolean }).__pwned === true
    })
    expect(ran).toBe(false)
  })
})

/**
 * Acceptance: Sotto as people use it. Every node is a child process of the real bin
 * (`sotto start`), its link is read from what it prints, Chromium opens that link, and the
 * CLI (`sotto status|contacts|send|inbox`) runs against the same data dirs.
 *
 * Nodes: C (no account; a plain DHT and mailbox peer), A (--bootstrap C) and B (--bootstrap A).
 * 4. C's printed link shows the welcome screen.
 * 1. A and B restore accounts in the browser, add each other, chat both ways; the sender sees
 *    "delivered" then "read"; the CLI sees the same conversation and can send into it.
 * 2. B's node stops; A's message is "stored" (held by C); B starts again and gets it once.
 * 3. A's node restarts --locked; its new link shows the unlock screen; a wrong passphrase is
 *    refused; the right one opens the chats with their history.
 * Screenshots: test-output/screenshots/e2e-*.png.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, launchBrowser } from '../helpers/browser.js'
import { ROOT, tempDir } from '../helpers/cli.js'
import { bootstrapAddress, inboxOf, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('e2e tests')

const SHOTS = join(ROOT, 'test-output', 'screenshots')
const A_PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const B_PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const A_PASS = 'alice e2e passphrase'
const B_PASS = 'bob e2e passphrase'
/** Read receipts leave 2-30 s after the message is read, on purpose (E5). */
const READ_WAIT_MS = 45_000

const id = (name: keyof typeof IDS) => `#${IDS[name]}`
/** A CSS string literal for :has-text(). */
const q = (text: string) => JSON.stringify(text)
const bubble = (dir: 'in' | 'out', text: string, state?: string) => `.bubble.${dir}${state !== undefined ? `[data-state="${state}"]` : ''}:has-text(${q(text)})`

let root: { path: string, remove: () => Promise<void> }
let browser: Browser | undefined
const contexts: BrowserContext[] = []
let a: SottoProcess
let b: SottoProcess
let c: SottoProcess
let cAddr: string
let aId = ''
let bId = ''
let alice: Page
let bob: Page
/** What each scenario left for the next: the texts sent so far. */
const sent = { aToB: 'Hello Bob, from the browser', bToA: 'Hi Alice, got it.', cliAToB: 'Sent with sotto send', offline: 'Written while your node was off' }

/** A fresh browser profile (own cookies) opened at a node's printed link. */
async function openLink (node: SottoProcess, width = 1280, height = 800): Promise<Page> {
  if (browser === undefined) throw new Error('no browser')
  const context = await browser.newContext({ viewport: { width, height } })
  contexts.push(context)
  const p = await context.newPage()
  p.setDefaultTimeout(15_000)
  const res = await p.goto(node.url)
  expect(res?.status(), `the printed link ${node.url.replace(/token=.*/, 'token=…')} answers`).toBe(200)
  // The token is traded for a cookie and leaves the address bar (A4).
  expect(p.url()).not.toContain('token=')
  return p
}

async function shot (p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `e2e-${name}.png`) })
}

async function restoreInBrowser (p: Page, phrase: string, passphrase: string): Promise<string> {
  await p.waitForSelector(id('welcome'), { state: 'visible' })
  await p.click(id('restoreButton'))
  await p.fill(id('restorePhrase'), phrase)
  await p.fill(id('passphrase'), passphrase)
  await p.fill(id('passphrase2'), passphrase)
  await p.click(id('submit'))
  await p.waitForSelector(id('ownId'), { state: 'visible', timeout: 30_000 })
  return (await p.textContent(id('ownId')))?.trim() ?? ''
}

async function addContact (p: Page, sessionId: string, name: string): Promise<void> {
  await p.fill(id('addContactId'), sessionId)
  await p.fill(id('addContactName'), name)
  await p.click(id('addContactButton'))
  await p.waitForSelector(`${id('conversationTitle')}:has-text(${q(name)})`)
  await p.waitForSelector(id('composer'))
}

/**
 * Records, in the page, every data-state each outgoing bubble shows (bubbles are replaced on
 * each change, so a watcher of the DOM sees every step): the order "delivered" then "read" is
 * then checked on the record, not on a race with the page. A string, so no bundler helper
 * leaks into the function Chromium runs.
 */
const RECORD_STATES = `(() => {
  const seen = window.__states = {}
  const scan = () => {
    for (const el of document.querySelectorAll('.bubble.out')) {
      const text = el.firstChild ? el.firstChild.textContent : ''
      const s = el.getAttribute('data-state') || ''
      const list = seen[text] || (seen[text] = [])
      if (list[list.length - 1] !== s) list.push(s)
    }
  }
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] })
  scan()
})()`

async function statesSeen (p: Page, text: string): Promise<string[]> {
  return await p.evaluate((t) => ((window as unknown as { __states?: Record<string, string[]> }).__states ?? {})[t] ?? [], text)
}

async function countBubbles (p: Page, dir: 'in' | 'out', text: string): Promise<number> {
  return await p.$$eval(`.bubble.${dir}`, (els, t) => els.filter((el) => el.firstChild?.textContent === t).length, text)
}

async function openConversation (p: Page, peer: string): Promise<void> {
  await p.click(`[data-contact="${peer}"]`)
  await p.waitForSelector(id('composer'))
}

describe.skipIf(!haveBrowser)('acceptance: sotto start processes, the web UI in Chromium, the CLI', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    root = await tempDir('sotto-e2e-')
    browser = await launchBrowser()
    c = await startSotto({ dataDir: join(root.path, 'c') })
    cAddr = await bootstrapAddress(c)
    a = await startSotto({ dataDir: join(root.path, 'a'), bootstrap: [cAddr] })
    b = await startSotto({ dataDir: join(root.path, 'b'), bootstrap: [await bootstrapAddress(a)] })
  }, 90_000)

  afterAll(async () => {
    // Everything is stopped even when a test (or beforeAll) failed halfway.
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

  it('4. the printed link of a node with no account shows the welcome screen', async () => {
    expect((await statusOf(c)).state).toBe('no-account')
    const p = await openLink(c)
    // Not just a 200: the app itself ran and drew its first screen.
    await p.waitForSelector(id('welcome'), { state: 'visible', timeout: 10_000 })
    expect(await p.textContent(`${id('welcome')} h1`)).toBe('Welcome to Sotto')
    expect(await p.isVisible(id('createButton'))).toBe(true)
    expect(await p.isVisible(id('restoreButton'))).toBe(true)
    await shot(p, 'welcome')
    await p.context().close()
  }, 30_000)

  it('1. two people restore in the browser, add each other, chat both ways (delivered, then read); the CLI sees and sends', async () => {
    alice = await openLink(a)
    bob = await openLink(b)
    aId = await restoreInBrowser(alice, A_PHRASE, A_PASS)
    bId = await restoreInBrowser(bob, B_PHRASE, B_PASS)
    expect(aId).toMatch(/^05[0-9a-f]{64}$/)
    expect(bId).toMatch(/^05[0-9a-f]{64}$/)
    expect(bId).not.toBe(aId)
    // The CLI talks to the same node: same account, unlocked.
    expect(await statusOf(a)).toMatchObject({ state: 'unlocked', sessionId: aId })
    expect(await statusOf(b)).toMatchObject({ state: 'unlocked', sessionId: bId })

    // Both prekey records in the DHT before anyone writes.
    await until('both prekey records published', async () => (await statusOf(a)).dht.recordPublished && (await statusOf(b)).dht.recordPublished, 30_000, 250)

    await addContact(alice, bId, 'Bob')
    await addContact(bob, aId, 'Alice')
    const contactsA = JSON.parse((await a.cli(['contacts', 'list', '--json'])).stdout) as Array<{ sessionId: string, name: string, state: string }>
    expect(contactsA).toEqual([expect.objectContaining({ sessionId: bId, name: 'Bob', state: 'accepted' })])

    // Alice writes; Bob has the conversation open, so it is delivered at once, read 2-30 s later.
    await alice.evaluate(RECORD_STATES)
    await alice.fill(id('composer'), sent.aToB)
    await alice.press(id('composer'), 'Enter')
    await bob.waitForSelector(bubble('in', sent.aToB), { timeout: 20_000 })
    await alice.waitForSelector(bubble('out', sent.aToB, 'read'), { timeout: READ_WAIT_MS })
    const steps = await statesSeen(alice, sent.aToB)
    expect(steps, `states Alice's bubble went through: ${steps.join(' -> ')}`).toContain('delivered')
    expect(steps.indexOf('delivered')).toBeLessThan(steps.indexOf('read'))
    expect(steps.at(-1)).toBe('read')
    expect(await alice.textContent(`${bubble('out', sent.aToB)} .meta`)).toMatch(/· read$/)

    // Bob answers with the Send button.
    await bob.evaluate(RECORD_STATES)
    await bob.fill(id('composer'), sent.bToA)
    await bob.click(id('sendButton'))
    await alice.waitForSelector(bubble('in', sent.bToA), { timeout: 20_000 })
    await bob.waitForSelector(`${bubble('out', sent.bToA, 'delivered')}, ${bubble('out', sent.bToA, 'read')}`)

    // The CLI on A's data dir: the inbox has Bob's message, once.
    const inbox = await until('Bob\'s message in sotto inbox --json', async () => {
      const lines = await inboxOf(a)
      return lines.some((m) => m.text === sent.bToA) ? lines : undefined
    }, 10_000)
    expect(inbox.filter((m) => m.text === sent.bToA)).toEqual([expect.objectContaining({ from: bId, text: sent.bToA })])
    expect(inbox.some((m) => m.text === sent.aToB)).toBe(false)

    // `sotto send` by contact name: delivered, and Bob's browser shows it (Alice's too).
    const send = await a.cli(['send', 'Bob', sent.cliAToB])
    expect(send.code, send.stderr).toBe(0)
    expect(send.stdout.trim()).toBe('delivered')
    await bob.waitForSelector(bubble('in', sent.cliAToB), { timeout: 20_000 })
    await alice.waitForSelector(bubble('out', sent.cliAToB))
    await shot(alice, 'chat-a')

    // Bob's reply was read by Alice (her conversation is open): Bob sees it, after "delivered".
    await bob.waitForSelector(bubble('out', sent.bToA, 'read'), { timeout: READ_WAIT_MS })
    const bobSteps = await statesSeen(bob, sent.bToA)
    expect(bobSteps.indexOf('delivered'), `states Bob's bubble went through: ${bobSteps.join(' -> ')}`).toBeGreaterThanOrEqual(0)
    expect(bobSteps.indexOf('delivered')).toBeLessThan(bobSteps.indexOf('read'))
    await shot(bob, 'chat-b')
  }, 180_000)

  it('2. B\'s node is off: A\'s message is stored by mailbox C; B starts again and gets it exactly once', async () => {
    expect(bId, 'scenario 1 made the accounts').not.toBe('')
    const oldUrl = b.url
    expect(await b.stop()).toBe(0)
    await bob.context().close()

    // A writes from the browser while B is off: held by a mailbox, said as "stored".
    await alice.fill(id('composer'), sent.offline)
    await alice.press(id('composer'), 'Enter')
    await alice.waitForSelector(bubble('out', sent.offline, 'stored'), { timeout: 30_000 })
    expect(await alice.textContent(`${bubble('out', sent.offline)} .meta`)).toMatch(/stored for later$/)
    expect((await statusOf(c)).mailbox?.envelopes).toBeGreaterThanOrEqual(1)
    await shot(alice, 'stored')

    // B's node comes back on the same data dir, the passphrase through SOTTO_PASSPHRASE.
    b = await startSotto({ dataDir: b.dataDir, bootstrap: [await bootstrapAddress(a)], passphrase: B_PASS })
    expect(b.url).not.toBe(oldUrl)
    expect(await statusOf(b)).toMatchObject({ state: 'unlocked', sessionId: bId })
    bob = await openLink(b)
    await bob.waitForSelector(id('ownId'), { state: 'visible' })
    await openConversation(bob, aId)
    await bob.waitForSelector(bubble('in', sent.offline), { timeout: 30_000 })

    // Done when A hears it arrived and no mailbox holds it any more; only then count.
    await alice.waitForSelector(`${bubble('out', sent.offline, 'delivered')}, ${bubble('out', sent.offline, 'read')}`, { timeout: READ_WAIT_MS })
    await until('mailboxes emptied', async () => {
      const held = await Promise.all([a, c].map(async (n) => (await statusOf(n)).mailbox?.envelopes ?? 0))
      return held.every((x) => x === 0)
    }, 45_000, 500) // a copy handed on by the minutely rebalance is fetched by B's next 15 s poll
    expect(await countBubbles(bob, 'in', sent.offline)).toBe(1)
    await shot(bob, 'after-offline')
    // A fresh load of the conversation (what the node has stored) says once too.
    await bob.reload()
    await openConversation(bob, aId)
    await bob.waitForSelector(bubble('in', sent.offline))
    expect(await countBubbles(bob, 'in', sent.offline)).toBe(1)
    const inbox = await inboxOf(b)
    expect(inbox.filter((m) => m.text === sent.offline)).toEqual([expect.objectContaining({ from: aId })])
    // The earlier messages are neither lost nor doubled by the restart.
    expect(inbox.filter((m) => m.text === sent.aToB)).toHaveLength(1)
    expect(inbox.filter((m) => m.text === sent.cliAToB)).toHaveLength(1)
  }, 150_000)

  it('3. a node restarted --locked shows the unlock screen at its new link; a wrong passphrase is refused; the right one opens the chats', async () => {
    expect(aId, 'scenario 1 made the accounts').not.toBe('')
    const oldUrl = a.url
    expect(await a.stop()).toBe(0)
    await alice.context().close()
    a = await startSotto({ dataDir: a.dataDir, bootstrap: [cAddr], locked: true })
    expect(a.url).not.toBe(oldUrl)
    expect((await statusOf(a)).state).toBe('locked')

    const p = await openLink(a)
    await p.waitForSelector(id('unlock'), { state: 'visible' })
    expect(await p.isVisible(id('ownId'))).toBe(false)
    await shot(p, 'unlock')

    await p.fill(id('unlockPassphrase'), 'not my passphrase')
    await p.click(id('unlockButton'))
    await p.waitForSelector(`${id('unlockError')}:has-text("Wrong passphrase.")`, { state: 'visible', timeout: 20_000 })
    expect(await p.isVisible(id('ownId'))).toBe(false)
    expect((await statusOf(a)).state).toBe('locked')
    await shot(p, 'unlock-wrong')

    // After a failure the node makes the next try wait (about a second): try again, bounded,
    // each time waiting for the page's answer (success, or the field cleared by a refusal).
    let refused: string | undefined
    await until('the right passphrase unlocks', async () => {
      if (refused !== undefined) throw new Error(`the right passphrase was refused: ${refused}`)
      if (await p.isVisible(id('ownId'))) return true
      await p.fill(id('unlockPassphrase'), A_PASS)
      await p.click(id('unlockButton'))
      await p.waitForFunction(([own, field]) => document.getElementById(own) !== null || (document.getElementById(field) as HTMLInputElement | null)?.value === '', [IDS.ownId, IDS.unlockPassphrase], { timeout: 20_000 })
      if (await p.isVisible(id('ownId'))) return true
      const error = await (await p.$(id('unlockError')))?.textContent()
      // Only "too many tries" may stand between the right passphrase and the chats.
      if (!/^Too many tries/.test(error ?? '')) refused = error ?? '(no message)'
      return false
    }, 30_000, 500)
    expect((await p.textContent(id('ownId')))?.trim()).toBe(aId)
    expect(await statusOf(a)).toMatchObject({ state: 'unlocked', sessionId: aId })

    // The chats and their history are there.
    await openConversation(p, bId)
    expect(await p.textContent(id('conversationTitle'))).toBe('Bob')
    for (const text of [sent.aToB, sent.cliAToB, sent.offline]) await p.waitForSelector(bubble('out', text))
    await p.waitForSelector(bubble('in', sent.bToA))
    expect(await countBubbles(p, 'out', sent.aToB)).toBe(1)
    await shot(p, 'unlocked-history')
  }, 90_000)
})

/**
 * Acceptance of the web UI's newer parts, with nodes started as users start them (child
 * processes of `sotto start`, the printed link in Chromium):
 * 1. Alice creates her account in the browser with a display name; Bob restores his and adds
 *    her by Session ID alone. When Alice writes, Bob's list and title show her shared name;
 *    Bob's own name for her then wins. Bob finds her message with the search box.
 * 2. Alice's node stops: her open tab says it is reconnecting; the node starts again (same
 *    data folder, same port, locked): the same tab, without a new link, asks for the
 *    passphrase and then shows the conversation with its history.
 */
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, launchBrowser } from '../helpers/browser.js'
import { tempDir } from '../helpers/cli.js'
import { bootstrapAddress, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('e2e tests')

const B_PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const A_PASS = 'alice ui passphrase'
const B_PASS = 'bob ui passphrase'
const id = (name: keyof typeof IDS) => `#${IDS[name]}`
const q = (text: string) => JSON.stringify(text)

let root: { path: string, remove: () => Promise<void> }
let browser: Browser | undefined
const contexts: BrowserContext[] = []
let a: SottoProcess
let b: SottoProcess
let alice: Page
let bob: Page
let aId = ''
let bId = ''

async function openLink (node: SottoProcess): Promise<Page> {
  if (browser === undefined) throw new Error('no browser')
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  contexts.push(context)
  const p = await context.newPage()
  p.setDefaultTimeout(15_000)
  expect((await p.goto(node.url))?.status()).toBe(200)
  return p
}

describe.skipIf(!haveBrowser)('acceptance: display names, search and a node restart in the web UI', () => {
  beforeAll(async () => {
    root = await tempDir('sotto-e2e-ui-')
    browser = await launchBrowser()
    a = await startSotto({ dataDir: join(root.path, 'a') })
    b = await startSotto({ dataDir: join(root.path, 'b'), bootstrap: [await bootstrapAddress(a)] })
  }, 90_000)

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

  it('1. a display name set at onboarding reaches the contact inside the session; the local name wins; search finds the message', async () => {
    alice = await openLink(a)
    bob = await openLink(b)

    await alice.click(id('createButton'))
    await alice.fill(id('onboardingName'), 'Alice Liddell')
    await alice.fill(id('passphrase'), A_PASS)
    await alice.fill(id('passphrase2'), A_PASS)
    await alice.click(id('submit'))
    await alice.waitForSelector(id('phraseGrid'))
    const words = await alice.$$eval(`${id('phraseGrid')} li`, (lis) => lis.map((li) => li.textContent ?? ''))
    await alice.click(id('phraseDone'))
    for (const input of await alice.$$(`${id('confirmInputs')} input`)) await input.fill(words[Number(await input.getAttribute('data-index'))])
    await alice.click(id('confirmButton'))
    await alice.waitForSelector(id('ownId'), { timeout: 30_000 })
    aId = (await alice.textContent(id('ownId')))?.trim() ?? ''

    await bob.click(id('restoreButton'))
    await bob.fill(id('restorePhrase'), B_PHRASE)
    await bob.fill(id('passphrase'), B_PASS)
    await bob.fill(id('passphrase2'), B_PASS)
    await bob.click(id('submit'))
    await bob.waitForSelector(id('ownId'), { timeout: 30_000 })
    bId = (await bob.textContent(id('ownId')))?.trim() ?? ''
    await until('both prekey records published', async () => (await statusOf(a)).dht.recordPublished && (await statusOf(b)).dht.recordPublished, 30_000, 250)

    // Bob adds Alice by her Session ID only: until she writes he knows no name for her.
    await bob.fill(id('addContactId'), aId)
    await bob.click(id('addContactButton'))
    await bob.waitForSelector(`${id('conversationTitle')}:has-text(${q(aId.slice(0, 10))})`)

    await alice.fill(id('addContactId'), bId)
    await alice.fill(id('addContactName'), 'Bob')
    await alice.click(id('addContactButton'))
    await alice.waitForSelector(id('composer'))
    await alice.fill(id('composer'), 'Meet me by the rabbit hole')
    await alice.press(id('composer'), 'Enter')

    // Her shared name arrives with (before) the text, inside the encrypted session.
    await bob.waitForSelector(`.bubble.in:has-text("Meet me by the rabbit hole")`, { timeout: 20_000 })
    await bob.waitForSelector(`${id('conversationTitle')}:has-text("Alice Liddell")`)
    expect(await bob.textContent(`[data-contact="${aId}"]`)).toContain('Alice Liddell')
    const seenByCli = JSON.parse((await b.cli(['contacts', 'list', '--json'])).stdout) as Array<{ sessionId: string, displayName: string }>
    expect(seenByCli.find((c) => c.sessionId === aId)?.displayName).toBe('Alice Liddell')

    // Bob's own name for her wins over the one she shares.
    await bob.click(id('contactInfoButton'))
    await bob.fill(id('renameInput'), 'Ally')
    await bob.click(id('renameButton'))
    await bob.waitForSelector(`[data-contact="${aId}"]:has-text("Ally")`)
    expect(await bob.textContent(`[data-contact="${aId}"]`)).not.toContain('Alice Liddell')

    // Search runs in Bob's node over his decrypted messages.
    await bob.fill(id('search'), 'rabbit')
    await bob.waitForSelector(`${id('searchResults')} [data-result-message]:has-text("rabbit hole")`)
  }, 120_000)

  it('2. the open tab rides out a node restart: "reconnecting", then the passphrase, then the same conversation, with no new link', async () => {
    expect(aId, 'scenario 1 made the accounts').not.toBe('')
    await alice.click(`[data-contact="${bId}"]`)
    await alice.waitForSelector(`.bubble.out:has-text("Meet me by the rabbit hole")`)
    const port = a.apiPort
    expect(await a.stop()).toBe(0)
    await alice.waitForSelector(id('reconnecting'), { state: 'visible', timeout: 20_000 })

    a = await startSotto({ dataDir: a.dataDir, apiPort: port, locked: true, bootstrap: [await bootstrapAddress(b)] })
    await alice.waitForSelector(id('unlockPassphrase'), { state: 'visible', timeout: 30_000 })
    expect(await alice.isVisible(id('reconnecting'))).toBe(false)
    await alice.fill(id('unlockPassphrase'), A_PASS)
    await alice.click(id('unlockButton'))
    await alice.waitForSelector(`[data-contact="${bId}"]`, { timeout: 20_000 })
    await alice.click(`[data-contact="${bId}"]`)
    await alice.waitForSelector(`.bubble.out:has-text("Meet me by the rabbit hole")`)
    expect(await statusOf(a)).toMatchObject({ state: 'unlocked', sessionId: aId })
  }, 120_000)
})

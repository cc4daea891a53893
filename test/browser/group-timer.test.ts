/**
 * Disappearing messages in a group, in the web UI: Debian's Chromium against two nodes in this
 * process serving the built page. Bob, who is not the group's admin, sets a custom 2 s timer
 * with the stopwatch in the group's header (the same dialog as in a 1:1 conversation); both
 * pages show the change as a line naming who made it and the header's 2 s; Alice's next
 * message shows on both pages with its countdown, then disappears from both, and from both
 * nodes. A screenshot of the group with the timer goes to test-output/screenshots/.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, callApi, launchBrowser, signedInPage } from '../helpers/browser.js'
import { ROOT } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('browser tests')
const webUiDir = join(ROOT, 'dist', 'web-ui')
const SHOTS = join(ROOT, 'test-output', 'screenshots')
/** Group changes and first messages cross the network (1:1 sessions, gossip): more than a click. */
const NET_MS = 30_000

const id = (name: keyof typeof IDS) => `#${IDS[name]}`
const q = (text: string) => JSON.stringify(text)

let browser: Browser
let a: TestNode
let b: TestNode
let aId: string
let bId: string
let groupId = ''
const pages: Page[] = []

const api = async (n: TestNode, method: string, path: string, body?: unknown) => await callApi(n.node, method, path, body)

async function open (n: TestNode): Promise<Page> {
  const p = await signedInPage(browser, n.node, {})
  pages.push(p)
  await p.waitForSelector(id('ownId'))
  await p.click(`${id('conversations')} [data-group="${groupId}"]`, { timeout: NET_MS })
  await p.waitForSelector(`${id('composer')}:not([disabled])`)
  return p
}

/** Remembers every bubble the page ever shows with this text, however briefly, and whether it had a countdown. */
async function watchFor (p: Page, text: string): Promise<void> {
  await p.evaluate((wanted) => {
    const w = window as unknown as { seen?: string[] }
    w.seen = []
    new MutationObserver(() => {
      for (const el of Array.from(document.querySelectorAll('.bubble'))) {
        if ((el.textContent ?? '').includes(wanted)) w.seen?.push(el.querySelector('.countdown') !== null ? 'with countdown' : 'without countdown')
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true })
  }, text)
}

const seen = async (p: Page): Promise<string[]> => await p.evaluate(() => (window as unknown as { seen?: string[] }).seen ?? [])

describe.skipIf(!haveBrowser)('disappearing messages in a group, in the web UI', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    browser = await launchBrowser()
    a = await startTestNode({ webUiDir })
    b = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    aId = (await a.node.controller.createAccount(TEST_PASSPHRASE)).sessionId
    bId = (await b.node.controller.createAccount(TEST_PASSPHRASE)).sessionId
    await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished, 60_000)
    expect((await api(a, 'POST', '/api/contacts', { sessionId: bId, name: 'Bob' })).status).toBe(200)
    expect((await api(b, 'POST', '/api/contacts', { sessionId: aId, name: 'Alice' })).status).toBe(200)
    const made = await api(a, 'POST', '/api/groups', { name: 'Ephemeral', members: [bId] })
    expect(made.status, JSON.stringify(made.json)).toBe(200)
    groupId = made.json.group.id
    // Bob's sender key reached Alice: what he sends in the group opens there.
    await waitFor('the group at Bob', async () => (await api(b, 'GET', `/api/groups/${groupId}`)).status === 200)
    await waitFor('Bob can write', async () => (await api(b, 'POST', `/api/groups/${groupId}/messages`, { text: 'hi all' })).status === 200)
    await waitFor('Alice reads Bob', async () => ((await api(a, 'GET', `/api/groups/${groupId}/messages`)).json.messages ?? []).some((m: any) => m.text === 'hi all'), NET_MS)
  }, 120_000)

  afterAll(async () => {
    for (const p of pages) await p.context().close().catch(() => {})
    await browser?.close()
    await Promise.all([a, b].map(async (n) => await n?.node.stop()))
  }, 60_000)

  it('a member sets 2 s in the group header; both pages show who set it; a message counts down and disappears on both', async () => {
    const alice = await open(a)
    const bob = await open(b)
    await alice.waitForSelector(`${id('timerButton')}:has-text("off")`)

    // Bob is no admin; any member may set it, with the same dialog as in a 1:1 conversation.
    await bob.click(id('timerButton'))
    await bob.waitForSelector(`${id('timerDialog')}[open]`)
    expect(await bob.textContent(id('timerNote'))).toContain('each member')
    await bob.selectOption(id('timerChoice'), 'custom')
    await bob.fill(id('timerAmount'), '2')
    await bob.selectOption(id('timerUnit'), '1')
    await bob.check(id('timerAfterSend'))
    await bob.click(id('timerSave'))
    await bob.waitForSelector(id('timerDialog'), { state: 'detached' })
    await bob.waitForSelector('.timer-line[data-direction="out"]:has-text("You set disappearing messages to 2 seconds (after sending)")')
    await alice.waitForSelector('.timer-line[data-direction="in"]:has-text("Bob set disappearing messages to 2 seconds (after sending)")', { timeout: NET_MS })
    await alice.waitForSelector(`${id('timerButton')}:has-text("2 s")`)
    await bob.waitForSelector(`${id('timerButton')}:has-text("2 s")`)
    expect((await api(a, 'GET', `/api/groups/${groupId}`)).json.group.timer).toMatchObject({ mode: 'after-send', seconds: 2, changedBy: bId })

    const text = `Gone from the group in two seconds ${Date.now()}`
    await watchFor(alice, text)
    await watchFor(bob, text)
    await alice.fill(id('composer'), text)
    await alice.press(id('composer'), 'Enter')
    for (const p of [alice, bob]) {
      await p.waitForFunction(() => ((window as unknown as { seen?: string[] }).seen ?? []).length > 0, undefined, { timeout: NET_MS })
      await p.waitForSelector(`.bubble:has-text(${q(text)})`, { state: 'detached', timeout: 15_000 })
      expect(await seen(p)).toContain('with countdown')
    }
    await alice.screenshot({ path: join(SHOTS, 'group-timer-1280.png') })
    // The nodes deleted it too (they are the authority): a reload does not bring it back.
    await waitFor('gone from both nodes', async () => {
      for (const n of [a, b]) if (((await api(n, 'GET', `/api/groups/${groupId}/messages`)).json.messages ?? []).some((m: any) => m.text === text)) return false
      return true
    }, 15_000)
    await bob.reload()
    await bob.click(`${id('conversations')} [data-group="${groupId}"]`)
    await bob.waitForSelector('.bubble.in:has-text("hi all"), .bubble.out:has-text("hi all")')
    expect(await bob.$$(`.bubble:has-text(${q(text)})`)).toHaveLength(0)
  }, 120_000)
})

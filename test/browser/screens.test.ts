/**
 * Every screen of the web UI at phone (390x844) and desktop (1280x800) width, light and dark:
 * a screenshot of each into test-output/screenshots/ui-<screen>-<width>-<scheme>.png, and an
 * axe-core check (WCAG 2.1 A/AA rules) on welcome, chat, contact, verify and settings that
 * must find no serious or critical violation.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { browserAvailable, callApi, freshLink, launchBrowser } from '../helpers/browser.js'
import { ROOT } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { IDS } from '../../web-ui/ids.js'

const haveBrowser = browserAvailable('browser tests')
const SHOTS = join(ROOT, 'test-output', 'screenshots')
const webUiDir = join(ROOT, 'dist', 'web-ui')
const A_PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const B_PHRASE = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about'
const SIZES = [{ width: 390, height: 844 }, { width: 1280, height: 800 }] as const
const SCHEMES = ['light', 'dark'] as const
const id = (name: keyof typeof IDS) => `#${IDS[name]}`

let browser: Browser
let a: TestNode
let b: TestNode
let fresh: TestNode
let bId: string

type Size = typeof SIZES[number]
type Scheme = typeof SCHEMES[number]

async function pageAt (node: TestNode, size: Size, scheme: Scheme): Promise<Page> {
  const context = await browser.newContext({ viewport: size, colorScheme: scheme })
  const p = await context.newPage()
  p.setDefaultTimeout(15_000)
  expect((await p.goto(await freshLink(node.node)))?.status()).toBe(200)
  return p
}

async function shot (p: Page, screen: string, size: Size, scheme: Scheme): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `ui-${screen}-${size.width}-${scheme}.png`) })
}

/** Serious and critical axe violations, as readable lines (rule: the elements it found). */
async function axeProblems (p: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

describe.skipIf(!haveBrowser)('every screen at two widths, light and dark; axe finds nothing serious', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    browser = await launchBrowser()
    a = await startTestNode({ webUiDir })
    b = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    fresh = await startTestNode({ webUiDir })
    const aId = (await a.node.controller.restoreAccount(A_PHRASE, TEST_PASSPHRASE)).sessionId
    bId = (await b.node.controller.restoreAccount(B_PHRASE, TEST_PASSPHRASE)).sessionId
    await waitFor('records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
    await callApi(a.node, 'POST', '/api/contacts', { sessionId: bId, name: 'Bob Example' })
    await callApi(b.node, 'POST', '/api/contacts', { sessionId: aId, name: 'Alice' })
    for (const [from, to, text] of [
      [a, bId, 'Hi Bob! Are we still on for Saturday?'],
      [b, aId, 'Yes. The map is at https://example.org/map, see you at ten.'],
      [a, bId, 'Great, see you there.']
    ] as const) {
      const { status } = await callApi(from.node, 'POST', '/api/messages', { to, text })
      expect(status).toBe(200)
    }
    await waitFor('Bob\'s reply at Alice', async () => (await callApi(a.node, 'GET', `/api/conversations/${bId}/messages`)).json.messages.length === 3)
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    for (const n of [a, b, fresh]) await n?.node.stop()
  })

  for (const size of SIZES) {
    for (const scheme of SCHEMES) {
      it(`${size.width}x${size.height} ${scheme}`, async () => {
        const problems: string[] = []
        const check = async (p: Page, screen: string) => {
          await shot(p, screen, size, scheme)
          for (const line of await axeProblems(p)) problems.push(`${screen}: ${line}`)
        }

        const w = await pageAt(fresh, size, scheme)
        await w.waitForSelector(id('welcome'))
        await check(w, 'welcome')
        await w.click(id('createButton'))
        await w.fill(id('passphrase'), 'short')
        await w.click(id('submit'))
        await w.waitForSelector(`${id('formError')}:has-text("at least")`)
        await shot(w, 'create-error', size, scheme)
        await w.click('button:has-text("Back")')
        await w.click(id('restoreButton'))
        await w.fill(id('restorePhrase'), 'legal winner thnak ')
        await w.waitForSelector(`${id('restoreHint')}:has-text("thnak")`)
        await shot(w, 'restore', size, scheme)
        await w.context().close()

        const p = await pageAt(a, size, scheme)
        await p.waitForSelector(id('ownId'))
        await shot(p, 'list', size, scheme)
        await p.click(`${id('conversations')} [data-contact="${bId}"]`)
        await p.waitForSelector('.bubble.in:has-text("The map")')
        await check(p, 'chat')
        await p.click(id('verifyButton'))
        await p.waitForSelector(`${id('safetyNumber')} span`)
        await p.waitForFunction((qr) => ((document.getElementById(qr) as HTMLImageElement | null)?.naturalWidth ?? 0) > 0, IDS.safetyQr)
        await check(p, 'verify')
        await p.keyboard.press('Escape')
        await p.waitForSelector(id('verifyDialog'), { state: 'detached' })
        await p.click(id('contactInfoButton'))
        await p.waitForSelector(id('contactView'))
        await check(p, 'contact')
        if (size.width < 720) {
          // On a phone the list is a screen of its own: back to the conversation, then the list.
          await p.click(`${id('contactView')} .back`)
          await p.click(`${id('conversation')} .back`)
        }
        await p.click(id('settingsButton'))
        await p.waitForSelector(id('networkStatus'))
        await check(p, 'settings')
        await p.context().close()

        // Signed out: a browser with no session (its link never opened).
        const out = await (await browser.newContext({ viewport: size, colorScheme: scheme })).newPage()
        await out.goto(`http://127.0.0.1:${a.node.apiPort}/`)
        await out.waitForSelector(id('signedOut'))
        await shot(out, 'signed-out', size, scheme)
        await out.context().close()

        expect(problems).toEqual([])
      }, 120_000)
    }
  }

  it('the unlock screen, at both widths, light and dark', async () => {
    await a.node.controller.lock()
    for (const size of SIZES) {
      for (const scheme of SCHEMES) {
        const p = await pageAt(a, size, scheme)
        await p.waitForSelector(id('unlock'))
        await shot(p, 'unlock', size, scheme)
        expect(await axeProblems(p)).toEqual([])
        await p.context().close()
      }
    }
  }, 60_000)
})

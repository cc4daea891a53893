/**
 * Disappearing messages in the web UI. First the words (web-ui/src/timer.js, no browser). Then
 * Debian's Chromium against two nodes started as users start them (child processes of
 * `sotto start`, the printed link opened): Alice opens the timer control (the note on what it
 * protects against shows this once), sets 5 minutes after reading; both sides show who set
 * it; her message counts down at Bob once he has read it. Bob sets a custom 2 s timer; Alice's
 * next message shows on both sides, counts down, and disappears on both, from the list's
 * preview too, and from both nodes. Screenshots at 1280x800 (light) and 390x844 (dark) go to
 * /tmp/disappearing-shots/; axe finds nothing serious in the dialog or the conversation.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readApiFile } from '../../node/daemon/api-file.js'
import { browserAvailable, callApi, launchBrowser, signedInPage, type ApiNode } from '../helpers/browser.js'
import { runSotto, tempDir } from '../helpers/cli.js'
import { bootstrapAddress, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'
import { IDS } from '../../web-ui/ids.js'

// The page's own module, loaded by path (plain JavaScript, typed here).
const TIMER = '../../web-ui/src/timer.js'
const t = await import(TIMER) as {
  durationWords: (s: number) => string
  durationShort: (s: number) => string
  timerWords: (timer: unknown) => string
  timerChangeText: (event: { mode: string, seconds: number }, who: string) => string
  timerChangeSummary: (event: { mode: string, seconds: number }) => string
  timeLeft: (ms: number) => string
  timeLeftWords: (ms: number) => string
  customSeconds: (amount: string, unit: number) => { seconds?: number, error?: string }
  expired: (m: { expiresAt?: number }, now: number) => boolean
  TIMER_CHOICES: number[]
}

describe('disappearing messages in words', () => {
  it('offers off, 30 s, 5 min, 1 h, 1 day and 1 week', () => {
    expect(t.TIMER_CHOICES).toEqual([0, 30, 300, 3600, 86_400, 604_800])
    expect(t.TIMER_CHOICES.slice(1).map(t.durationWords)).toEqual(['30 seconds', '5 minutes', '1 hour', '1 day', '1 week'])
    expect(t.TIMER_CHOICES.slice(1).map(t.durationShort)).toEqual(['30 s', '5 min', '1 h', '1 d', '1 w'])
    expect(t.durationWords(2)).toBe('2 seconds')
    expect(t.durationWords(5400)).toBe('90 minutes')
  })

  it('says a timer change as a line of the conversation, and for the list', () => {
    expect(t.timerChangeText({ mode: 'after-read', seconds: 300 }, 'You')).toBe('You set disappearing messages to 5 minutes (after reading)')
    expect(t.timerChangeText({ mode: 'after-send', seconds: 604_800 }, 'Bob')).toBe('Bob set disappearing messages to 1 week (after sending)')
    expect(t.timerChangeText({ mode: 'off', seconds: 0 }, 'Bob')).toBe('Bob turned off disappearing messages')
    expect(t.timerChangeSummary({ mode: 'after-send', seconds: 30 })).toBe('Disappearing messages: 30 seconds (after sending)')
    expect(t.timerWords(undefined)).toBe('Off')
    expect(t.timerWords({ mode: 'after-read', seconds: 3600 })).toBe('1 hour after reading')
  })

  it.each([
    [400, '1 s', 'disappears in 1 second'], [45_000, '45 s', 'disappears in 45 seconds'], [240_000, '4 min', 'disappears in 4 minutes'],
    [3 * 3_600_000, '3 h', 'disappears in 3 hours'], [3 * 86_400_000, '3 d', 'disappears in 3 days'], [-10, '1 s', 'disappears in 1 second']
  ])('a countdown at %i ms says %j (%j)', (ms, short, words) => {
    expect(t.timeLeft(ms)).toBe(short)
    expect(t.timeLeftWords(ms)).toBe(words)
  })

  it('takes a custom time from 1 second to 1 week, in whole units', () => {
    expect(t.customSeconds('2', 1)).toEqual({ seconds: 2 })
    expect(t.customSeconds('3', 86_400)).toEqual({ seconds: 259_200 })
    expect(t.customSeconds('1', 604_800)).toEqual({ seconds: 604_800 })
    expect(t.customSeconds('8', 86_400).error).toBe('A timer lasts from 1 second to 1 week.')
    for (const bad of ['', '0', '-1', '1.5', 'x']) expect(t.customSeconds(bad, 60).error).toBe('Write a whole number, 1 or more.')
  })

  it('a message is expired from its expiresAt on, never without one', () => {
    expect(t.expired({ expiresAt: 1000 }, 1000)).toBe(true)
    expect(t.expired({ expiresAt: 1001 }, 1000)).toBe(false)
    expect(t.expired({}, 1000)).toBe(false)
  })
})

const haveBrowser = browserAvailable('browser tests')
const SHOTS = '/tmp/disappearing-shots'
const PASS = 'disappearing ui passphrase'
const id = (name: keyof typeof IDS) => `#${IDS[name]}`
const q = (text: string) => JSON.stringify(text)

let root: { path: string, remove: () => Promise<void> }
let browser: Browser
const pages: Page[] = []
const users: Record<'Alice' | 'Bob', { node: SottoProcess, id: string, api: ApiNode }> = {} as any

async function open (who: 'Alice' | 'Bob', width = 1280, height = 800, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
  const p = await signedInPage(browser, users[who].api, { width, height, colorScheme })
  pages.push(p)
  await p.waitForSelector(id('ownId'))
  return p
}

async function openChat (p: Page, with_: 'Alice' | 'Bob'): Promise<void> {
  await p.click(`[data-contact="${users[with_].id}"]`)
  await p.waitForSelector(id('composer'))
}

async function write (p: Page, text: string): Promise<void> {
  await p.fill(id('composer'), text)
  await p.press(id('composer'), 'Enter')
}

async function axeProblems (p: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** Remembers every bubble the page ever shows with this text, however briefly. */
async function watchFor (p: Page, text: string): Promise<void> {
  await p.evaluate((wanted) => {
    const w = window as unknown as { seen?: string[] }
    w.seen = []
    new MutationObserver(() => {
      for (const b of Array.from(document.querySelectorAll('.bubble'))) {
        if ((b.textContent ?? '').includes(wanted)) w.seen?.push(b.querySelector('.countdown') !== null ? 'with countdown' : 'without countdown')
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true })
  }, text)
}

const seen = async (p: Page): Promise<string[]> => await p.evaluate(() => (window as unknown as { seen?: string[] }).seen ?? [])

async function conversationTexts (who: 'Alice' | 'Bob', other: 'Alice' | 'Bob'): Promise<string[]> {
  const r = await callApi(users[who].api, 'GET', `/api/conversations/${users[other].id}/messages?limit=200`)
  expect(r.status).toBe(200)
  return (r.json.messages as Array<{ text: string }>).map((m) => m.text)
}

describe.skipIf(!haveBrowser)('disappearing messages in the web UI', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    root = await tempDir('sotto-disappearing-ui-')
    for (const name of ['Alice', 'Bob'] as const) {
      const dataDir = join(root.path, name.toLowerCase())
      const init = await runSotto(['init', '--json', '--data-dir', dataDir], { env: { SOTTO_PASSPHRASE: PASS } })
      expect(init.code, init.stderr).toBe(0)
      const bootstrap = name === 'Bob' ? [await bootstrapAddress(users.Alice.node)] : []
      const node = await startSotto({ dataDir, passphrase: PASS, bootstrap })
      const file = await readApiFile(dataDir)
      if (file === undefined) throw new Error('no api.json')
      users[name] = { node, id: JSON.parse(init.stdout).sessionId, api: { apiPort: file.port, token: file.token } }
    }
    await until('both records published', async () => (await statusOf(users.Alice.node)).dht.recordPublished && (await statusOf(users.Bob.node)).dht.recordPublished, 60_000, 250)
    for (const [who, other] of [['Alice', 'Bob'], ['Bob', 'Alice']] as const) {
      const r = await users[who].node.cli(['contacts', 'add', users[other].id, '--name', other])
      expect(r.code, r.stderr).toBe(0)
    }
    browser = await launchBrowser()
  }, 120_000)

  afterAll(async () => {
    try {
      for (const p of pages) await p.context().close().catch(() => {})
      await browser?.close()
    } finally {
      await stopAllSotto()
      await root?.remove()
    }
  }, 60_000)

  it('set in the UI, shown on both sides with who set it; a message under 2 s counts down and disappears on both sides', async () => {
    const alice = await open('Alice')
    const bob = await open('Bob')
    await openChat(alice, 'Bob')
    await openChat(bob, 'Alice')
    // A first message opens the session both ways.
    await write(alice, 'Hello Bob')
    await bob.waitForSelector('.bubble.in:has-text("Hello Bob")', { timeout: 30_000 })

    // The first time the control opens it says what it does and does not protect against.
    await alice.click(id('timerButton'))
    await alice.waitForSelector(`${id('timerDialog')}[open]`)
    expect(await alice.textContent(id('timerNote'))).toMatch(/screenshot.*camera|photo of the screen/)
    expect(await alice.textContent(id('timerCurrent'))).toContain('Now: Off.')
    expect(await axeProblems(alice)).toEqual([])
    await alice.screenshot({ path: join(SHOTS, 'dialog-first-1280.png') })
    // Keyboard: the choice, the mode and Save are reached and worked with keys alone.
    await alice.focus(id('timerChoice'))
    await alice.selectOption(id('timerChoice'), '300')
    await alice.check(id('timerAfterRead'))
    await alice.focus(id('timerSave'))
    await alice.keyboard.press('Enter')
    await alice.waitForSelector(id('timerDialog'), { state: 'detached' })

    await alice.waitForSelector(`.timer-line[data-direction="out"]:has-text("You set disappearing messages to 5 minutes (after reading)")`)
    await bob.waitForSelector(`.timer-line[data-direction="in"]:has-text("Alice set disappearing messages to 5 minutes (after reading)")`, { timeout: 30_000 })
    expect(await alice.textContent(id('timerButton'))).toContain('5 min')
    await bob.waitForSelector(`${id('timerButton')}:has-text("5 min")`)
    // Not a message: no unread badge, nothing in the composer's way.
    expect(await bob.$$(`[data-contact="${users.Alice.id}"] .badge`)).toHaveLength(0)

    // Once only: the second time the note is not there.
    await alice.click(id('timerButton'))
    await alice.waitForSelector(`${id('timerDialog')}[open]`)
    expect(await alice.$(id('timerNote'))).toBeNull()
    expect(await alice.textContent(id('timerCurrent'))).toMatch(/Now: 5 minutes after reading\. Set by you/)
    await alice.keyboard.press('Escape')
    await alice.waitForSelector(id('timerDialog'), { state: 'detached' })

    // After reading: Bob has the conversation open, so he reads it and its clock starts.
    await write(alice, 'Lunch at noon?')
    const lunch = await bob.waitForSelector('.bubble.in:has-text("Lunch at noon?") .countdown[data-expires]', { timeout: 30_000 })
    expect(await lunch.textContent()).toMatch(/· +(5|4) min, disappears in (5|4) minutes/)
    await alice.waitForSelector('.bubble.out:has-text("Lunch at noon?") .countdown')
    expect(await axeProblems(bob)).toEqual([])
    await alice.screenshot({ path: join(SHOTS, 'alice-5min-1280.png') })
    await bob.screenshot({ path: join(SHOTS, 'bob-5min-1280.png') })

    // Bob on a phone, in the dark: the same conversation, and his first look at the control.
    const phone = await open('Bob', 390, 844, 'dark')
    await openChat(phone, 'Alice')
    await phone.waitForSelector('.timer-line:has-text("Alice set disappearing messages")')
    await phone.screenshot({ path: join(SHOTS, 'bob-conversation-390.png') })
    await phone.click(id('timerButton'))
    await phone.waitForSelector(id('timerNote'))
    expect(await axeProblems(phone)).toEqual([])
    await phone.screenshot({ path: join(SHOTS, 'dialog-first-390.png') })
    await phone.keyboard.press('Escape')

    // Bob sets a custom 2 seconds, after sending.
    await bob.click(id('timerButton'))
    await bob.waitForSelector(`${id('timerDialog')}[open]`)
    await bob.selectOption(id('timerChoice'), 'custom')
    await bob.fill(id('timerAmount'), '0')
    await bob.click(id('timerSave'))
    await bob.waitForSelector(`${id('timerError')}:has-text("1 or more")`)
    await bob.fill(id('timerAmount'), '2')
    await bob.selectOption(id('timerUnit'), '1')
    await bob.check(id('timerAfterSend'))
    await bob.click(id('timerSave'))
    await bob.waitForSelector(id('timerDialog'), { state: 'detached' })
    await bob.waitForSelector('.timer-line[data-direction="out"]:has-text("You set disappearing messages to 2 seconds (after sending)")')
    await alice.waitForSelector('.timer-line[data-direction="in"]:has-text("Bob set disappearing messages to 2 seconds (after sending)")', { timeout: 30_000 })
    await alice.waitForSelector(`${id('timerButton')}:has-text("2 s")`)

    const text = `Gone in two seconds ${Date.now()}`
    await watchFor(alice, text)
    await watchFor(bob, text)
    await write(alice, text)
    // Both sides show it with its countdown, then not at all: in the view, and in the list's preview.
    for (const p of [alice, bob]) {
      await p.waitForFunction(() => ((window as unknown as { seen?: string[] }).seen ?? []).length > 0, undefined, { timeout: 30_000 })
      await p.waitForSelector(`.bubble:has-text(${q(text)})`, { state: 'detached', timeout: 15_000 })
      expect(await seen(p)).toContain('with countdown')
    }
    expect(await bob.textContent(`[data-contact="${users.Alice.id}"] .preview`)).not.toContain('Gone in two')
    expect(await alice.textContent(`[data-contact="${users.Bob.id}"] .preview`)).not.toContain('Gone in two')
    // The nodes deleted it too (they are the authority): a reload does not bring it back.
    await until('gone from both nodes', async () => !(await conversationTexts('Alice', 'Bob')).includes(text) && !(await conversationTexts('Bob', 'Alice')).includes(text), 15_000)
    await bob.reload()
    await openChat(bob, 'Alice')
    await bob.waitForSelector('.bubble.in:has-text("Lunch at noon?")')
    expect(await bob.$$(`.bubble:has-text(${q(text)})`)).toHaveLength(0)
    expect(await axeProblems(alice)).toEqual([])
    await alice.screenshot({ path: join(SHOTS, 'alice-after-2s-1280.png') })
    await phone.screenshot({ path: join(SHOTS, 'bob-after-2s-390.png') })
  }, 180_000)
})

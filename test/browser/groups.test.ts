/**
 * Group chats in the web UI, in Chromium against three real nodes on loopback (started as
 * test/browser/ui.test.ts starts them), one browser profile each: Alice creates a group of
 * three in the UI, everyone writes and sees the others' messages under the right names; Alice
 * removes Carol in the members panel; Carol's UI says she was removed, her composer is off,
 * and the message Alice sends afterwards reaches Bob but never shows at Carol. Then an invite
 * from someone who is not a contact waits under message requests until accepted. Last, the
 * new-group dialog, the group view and the members panel at 390x844 and 1280x800, light and
 * dark: screenshots (test-output/screenshots/ui-group-*.png) and axe (nothing serious).
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
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
const C_PHRASE = 'letter advice cage absurd amount doctor acoustic avoid letter advice cage above'
/** Group changes and first messages cross the network (1:1 sessions, gossip): more than a click. */
const NET_MS = 30_000

const id = (name: keyof typeof IDS) => `#${IDS[name]}`

let browser: Browser
let a: TestNode
let b: TestNode
let c: TestNode
let aId: string
let bId: string
let cId: string
let groupId = ''
const pages: Page[] = []

const api = async (n: TestNode, method: string, path: string, body?: unknown) => await callApi(n.node, method, path, body)

async function open (n: TestNode, options: PageOptions = {}): Promise<Page> {
  const p = await signedInPage(browser, n.node, options)
  pages.push(p)
  await p.waitForSelector(id('ownId'))
  return p
}

/** Writes in the open group's composer and waits until the node took the message. */
async function write (p: Page, text: string): Promise<void> {
  await p.fill(id('composer'), text)
  await p.press(id('composer'), 'Enter')
  await p.waitForSelector(`.bubble.out:has-text(${JSON.stringify(text)})`)
}

/** An incoming bubble with this text, from this member; answers the name shown above its run. */
async function seenFrom (p: Page, from: string, text: string): Promise<string> {
  const bubble = await p.waitForSelector(`${id('groupView')} .bubble.in[data-from="${from}"]:has-text(${JSON.stringify(text)})`, { timeout: NET_MS })
  const sender = await bubble.$('.sender')
  return (await sender?.textContent()) ?? ''
}

async function axeProblems (p: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

describe.skipIf(!haveBrowser)('group chats in the web UI', () => {
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    browser = await launchBrowser()
    a = await startTestNode({ webUiDir })
    b = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    c = await startTestNode({ webUiDir, bootstrapFrom: [a.node] })
    aId = (await a.node.controller.restoreAccount(A_PHRASE, TEST_PASSPHRASE)).sessionId
    bId = (await b.node.controller.restoreAccount(B_PHRASE, TEST_PASSPHRASE)).sessionId
    cId = (await c.node.controller.restoreAccount(C_PHRASE, TEST_PASSPHRASE)).sessionId
    await waitFor('records published', async () => {
      for (const n of [a, b, c]) if (!(await n.node.controller.status()).dht.recordPublished) return false
      return true
    }, 60_000)
    // Everyone knows everyone, by name: the invite is not a request, and names can be checked.
    const names: Record<string, string> = { [aId]: 'Alice', [bId]: 'Bob', [cId]: 'Carol' }
    for (const [n, self] of [[a, aId], [b, bId], [c, cId]] as const) {
      for (const other of [aId, bId, cId]) {
        if (other === self) continue
        const r = await api(n, 'POST', '/api/contacts', { sessionId: other, name: names[other] })
        expect(r.status, JSON.stringify(r.json)).toBe(200)
      }
    }
  }, 120_000)

  afterAll(async () => {
    for (const p of pages) await p.context().close().catch(() => {})
    await browser?.close()
    for (const n of [a, b, c]) await n?.node.stop()
  })

  it('Alice creates a group of three; each writes and sees the others under their names; Carol removed sees she was, and nothing sent after', async () => {
    const alice = await open(a)
    const bob = await open(b)
    const carol = await open(c)

    // The dialog: focus in the name field, a counter, members picked by their labels.
    await alice.click(id('newGroupButton'))
    await alice.waitForSelector(`${id('newGroupDialog')}[open]`)
    await expect.poll(async () => await alice.evaluate(() => document.activeElement?.id)).toBe(IDS.newGroupName)
    expect(await alice.textContent(`#${IDS.newGroupName}-count`)).toBe('0 / 64')
    // Nothing chosen: said next to the form, and nothing is created.
    await alice.fill(id('newGroupName'), 'Climbers')
    await alice.click(id('newGroupCreate'))
    await alice.waitForSelector(`${id('newGroupError')}:has-text("at least one member")`)
    await alice.click(`${id('newGroupDialog')} label:has-text("Bob")`)
    await alice.click(`${id('newGroupDialog')} label:has-text("Carol")`)
    expect(await alice.isChecked(`[data-member="${bId}"]`)).toBe(true)
    expect(await alice.isChecked(`[data-member="${cId}"]`)).toBe(true)
    await alice.click(id('newGroupCreate'))
    await alice.waitForSelector(id('newGroupDialog'), { state: 'detached' })
    await alice.waitForSelector(`${id('groupTitle')}:has-text("Climbers")`)
    groupId = (await alice.getAttribute(id('groupView'), 'data-group')) ?? ''
    expect(groupId).toMatch(/^[0-9a-f]{64}$/)
    const made = (await api(a, 'GET', `/api/groups/${groupId}`)).json.group
    expect([...made.members].sort()).toEqual([aId, bId, cId].sort())
    expect(made.admins).toEqual([aId])
    // The group is in Alice's conversation list, with a group avatar.
    await alice.waitForSelector(`${id('conversations')} [data-group="${groupId}"] .group-avatar`)

    // Bob and Carol see it in their lists (an accepted contact's invite is no request) and open it.
    for (const p of [bob, carol]) {
      await p.click(`${id('conversations')} [data-group="${groupId}"]`, { timeout: NET_MS })
      await p.waitForSelector(`${id('groupTitle')}:has-text("Climbers")`)
      await p.waitForSelector(`${id('composer')}:not([disabled])`)
    }

    // Each writes; each sees the other two under the names they gave them.
    await write(alice, 'Hello climbers, Saturday at nine?')
    expect(await seenFrom(bob, aId, 'Hello climbers')).toBe('Alice')
    expect(await seenFrom(carol, aId, 'Hello climbers')).toBe('Alice')
    await write(bob, 'Bob here: nine works.')
    expect(await seenFrom(alice, bId, 'nine works')).toBe('Bob')
    expect(await seenFrom(carol, bId, 'nine works')).toBe('Bob')
    await write(carol, 'Carol too, I bring the rope.')
    expect(await seenFrom(alice, cId, 'I bring the rope')).toBe('Carol')
    expect(await seenFrom(bob, cId, 'I bring the rope')).toBe('Carol')
    // Nobody sees their own message as someone else's.
    for (const [p, self] of [[alice, aId], [bob, bId], [carol, cId]] as const) {
      expect(await p.$$(`.bubble.in[data-from="${self}"]`)).toHaveLength(0)
    }
    // The list's preview says who wrote last.
    await bob.waitForSelector(`${id('conversations')} [data-group="${groupId}"] .preview:has-text("Carol: Carol too")`)
    await alice.waitForSelector(`${id('conversations')} [data-group="${groupId}"] .preview:has-text("Carol: Carol too")`)

    // Alice removes Carol from the members panel, after a confirmation.
    await alice.click(id('groupMembersButton'))
    await alice.waitForSelector(id('groupInfo'))
    expect(await alice.$$(`${id('groupMembers')} li`)).toHaveLength(3)
    expect(await alice.textContent(`${id('groupMembers')} li[data-member="${aId}"]`)).toContain('Admin')
    expect(await alice.textContent(`${id('groupMembers')} li[data-member="${bId}"]`)).not.toContain('Admin')
    // Alice makes Bob an admin too; Bob's node has it.
    await alice.click(`[data-admin="${bId}"]`)
    await alice.waitForSelector(`${id('groupMembers')} li[data-member="${bId}"] .tag:has-text("Admin")`)
    await waitFor('Bob is an admin at Bob', async () => (await api(b, 'GET', `/api/groups/${groupId}`)).json.group?.admins.includes(bId), NET_MS)
    await alice.click(`[data-remove="${cId}"]`)
    await alice.waitForSelector(`${id('removeMemberDialog')}[open]`)
    await alice.click(id('confirmRemoveMember'))
    await alice.waitForSelector(`${id('groupMembers')} li[data-member="${cId}"]`, { state: 'detached' })
    expect(await alice.$$(`${id('groupMembers')} li`)).toHaveLength(2)

    // Carol's open view says so, and she can no longer write.
    await carol.waitForSelector(`${id('groupBanner')}:has-text("You were removed from this group")`, { timeout: NET_MS })
    expect(await carol.isDisabled(id('composer'))).toBe(true)
    expect(await carol.isDisabled(id('sendButton'))).toBe(true)
    await carol.waitForSelector(`${id('conversations')} [data-group="${groupId}"] .preview:has-text("Carol too")`)

    // Bob has the new state before Alice writes, so the message is for Alice and Bob only.
    await waitFor('Bob has the state without Carol', async () => (await api(b, 'GET', `/api/groups/${groupId}`)).json.group?.members.length === 2, NET_MS)
    await alice.click(`${id('groupInfo')} .row.tight button`)
    await alice.waitForSelector(`${id('composer')}:not([disabled])`)
    await write(alice, 'Carol is out: this is for Bob only.')
    expect(await seenFrom(bob, aId, 'for Bob only')).toBe('Alice')
    // Bob answers, under the key he made after the removal; Alice gets it.
    await write(bob, 'Got it, Alice.')
    expect(await seenFrom(alice, bId, 'Got it, Alice.')).toBe('Bob')
    // By now both messages reached every node that could read them: not Carol's, nor her page.
    const atCarol = (await api(c, 'GET', `/api/groups/${groupId}/messages`)).json.messages as Array<{ text: string }>
    expect(atCarol.map((m) => m.text)).toEqual(['Hello climbers, Saturday at nine?', 'Bob here: nine works.', 'Carol too, I bring the rope.'])
    expect(await carol.$$('.bubble:has-text("for Bob only"), .bubble:has-text("Got it, Alice.")')).toHaveLength(0)
    // A fresh page at Carol (everything read again from the node) says the same.
    const again = await open(c)
    await again.click(`${id('conversations')} [data-group="${groupId}"]`)
    await again.waitForSelector(`${id('groupBanner')}:has-text("You were removed from this group")`)
    await again.waitForSelector('.bubble.out:has-text("I bring the rope")')
    expect(await again.$$('.bubble:has-text("for Bob only"), .bubble:has-text("Got it, Alice.")')).toHaveLength(0)
    expect(await again.isDisabled(id('composer'))).toBe(true)
  }, 180_000)

  it('an invite from someone who is not a contact waits under message requests until accepted', async () => {
    // Carol no longer has Bob as a contact; Bob makes a group with her.
    expect((await api(c, 'DELETE', `/api/contacts/${bId}`)).status).toBe(200)
    const carol = await open(c)
    const made = await api(b, 'POST', '/api/groups', { name: 'Picnic', members: [cId] })
    expect(made.status, JSON.stringify(made.json)).toBe(200)
    const picnic = made.json.group.id as string
    await carol.waitForSelector(`${id('requests')} [data-group="${picnic}"]`, { timeout: NET_MS })
    expect(await carol.$(`${id('conversations')} [data-group="${picnic}"]`)).toBeNull()
    await carol.click(`${id('requests')} [data-group="${picnic}"]`)
    await carol.waitForSelector(id('groupRequestBar'))
    expect(await carol.isDisabled(id('composer'))).toBe(true)
    await carol.click(id('acceptGroup'))
    await carol.waitForSelector(`${id('conversations')} [data-group="${picnic}"]`)
    await carol.waitForSelector(id('groupRequestBar'), { state: 'detached' })
    await carol.waitForSelector(`${id('composer')}:not([disabled])`)
    expect((await api(c, 'GET', `/api/groups/${picnic}`)).json.group.state).toBeUndefined()
  }, 90_000)

  it('the new-group dialog, the group view and the members panel at two widths, light and dark: screenshots, and axe finds nothing serious', async () => {
    const problems: string[] = []
    for (const size of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
      for (const scheme of ['light', 'dark'] as const) {
        const tag = `${size.width}-${scheme}`
        const p = await open(a, { ...size, colorScheme: scheme })
        const check = async (screen: string) => {
          await p.screenshot({ path: join(SHOTS, `ui-group-${screen}-${tag}.png`) })
          for (const line of await axeProblems(p)) problems.push(`${screen} ${tag}: ${line}`)
        }
        await p.click(id('newGroupButton'))
        await p.waitForSelector(`${id('newGroupDialog')}[open]`)
        await p.fill(id('newGroupName'), 'Saturday climb')
        await p.click(`${id('newGroupDialog')} label:has-text("Bob")`)
        await check('new')
        await p.keyboard.press('Escape')
        await p.waitForSelector(id('newGroupDialog'), { state: 'detached' })
        // Focus goes back to the button once the dialog's close has rendered.
        await expect.poll(async () => await p.evaluate(() => document.activeElement?.id)).toBe(IDS.newGroupButton)

        await p.click(`${id('conversations')} [data-group="${groupId}"]`)
        await p.waitForSelector('.bubble.in:has-text("Got it, Alice.")')
        await check('chat')
        await p.click(id('groupMembersButton'))
        await p.waitForSelector(id('groupInfo'))
        await check('members')
        await p.context().close()
      }
    }
    // Carol's side: removed, the composer off.
    for (const size of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
      const p = await open(c, size)
      await p.click(`${id('conversations')} [data-group="${groupId}"]`)
      await p.waitForSelector(id('groupBanner'))
      await p.waitForSelector('.bubble.out:has-text("I bring the rope")')
      await p.screenshot({ path: join(SHOTS, `ui-group-removed-${size.width}-light.png`) })
      for (const line of await axeProblems(p)) problems.push(`removed ${size.width}: ${line}`)
      await p.context().close()
    }
    // Carol deletes the group she was removed from: it leaves her list and her node.
    const carol = await open(c)
    await carol.click(`${id('conversations')} [data-group="${groupId}"]`)
    await carol.click(`${id('groupBanner')} button.danger`)
    await carol.click('dialog[open] button.danger')
    await carol.waitForSelector(`${id('conversations')} [data-group="${groupId}"]`, { state: 'detached' })
    expect((await api(c, 'GET', `/api/groups/${groupId}`)).json.error?.code).toBe('ERR_UNKNOWN_GROUP')
    expect(problems).toEqual([])
  }, 180_000)
})

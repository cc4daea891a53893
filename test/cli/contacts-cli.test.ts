/**
 * `sotto contacts` and `sotto inbox` against real nodes (in this process, on loopback), as a
 * user runs them: what the CLI prints for what the node holds. Plus the list's columns, by
 * display width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listLine, NAME_COLUMN } from '../../cli/commands/contacts.js'
import { displayWidth, fitToWidth } from '../../cli/terminal-text.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import type { Contact } from '../../node/messaging/contacts.js'
import { runSotto } from '../helpers/cli.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

const KNOWN = '05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72'
/** Session IDs of accounts made from fixed entropy: valid keys nobody runs here. */
const idOf = (n: number): string => deriveIdentity(new Uint8Array(16).fill(n)).sessionId
const STRANGER = idOf(71)
const NAMED: Array<[string, string]> = [
  [idOf(72), 'Maximilian Alexander von Habsburg-Lothringen'],
  [idOf(73), '王小明'],
  [idOf(74), 'Zoë 🎉']
]

function contact (sessionId: string, name: string): Contact {
  return { sessionId, name, displayName: name, state: 'accepted', verified: false, identityChanged: false, addedAt: 1, unread: 0 } as Contact
}

let a: TestNode
let b: TestNode
let bobId: string
beforeAll(async () => {
  a = await startTestNode()
  b = await startTestNode({ bootstrapFrom: [a.node] })
  await a.node.controller.createAccount(TEST_PASSPHRASE)
  bobId = (await b.node.controller.createAccount(TEST_PASSPHRASE)).sessionId
})
afterAll(async () => { await Promise.all([a?.node.stop(), b?.node.stop()]) })

const sotto = async (...args: string[]) => await runSotto([...args, '--data-dir', a.dataDir])
const contactsOfA = async (): Promise<Contact[]> => await a.node.controller.messenger().contacts.list()

describe('sotto contacts', () => {
  it('add needs no --name; the node’s name for the contact is printed; a second add with a name renames nothing', async () => {
    const r = await sotto('contacts', 'add', STRANGER)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(`${STRANGER.slice(0, 10)}… (${STRANGER}): accepted`)
    expect((await contactsOfA()).find((c) => c.sessionId === STRANGER)?.name).toBe('')
    const named = await sotto('contacts', 'add', KNOWN, '--name', 'Dana')
    expect(named.code, named.stderr).toBe(0)
    expect((await contactsOfA()).find((c) => c.sessionId === KNOWN)?.name).toBe('Dana')
    const none = await sotto('contacts', 'add')
    expect(none.code).toBe(1)
    expect(none.stderr.trim()).toBe('sotto: usage: sotto contacts add SESSION_ID [--name NAME]')
  })

  it('add with a name as a second word refuses, says to use --name, and adds nobody', async () => {
    const someone = idOf(76)
    const r = await sotto('contacts', 'add', someone, 'Bob')
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe('sotto: sotto contacts add takes one Session ID; give the name with --name, e.g. sotto contacts add SESSION_ID --name Bob')
    expect((await contactsOfA()).some((c) => c.sessionId === someone)).toBe(false)
  })

  it('remove of someone who is not a contact says so and exits 2; of a contact, "Removed."', async () => {
    const nobody = idOf(75)
    const r = await sotto('contacts', 'remove', nobody)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim()).toBe(`sotto: ${nobody} is not one of your contacts; nothing was removed`)
    const ok = await sotto('contacts', 'remove', STRANGER)
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout.trim()).toBe('Removed.')
    expect((await contactsOfA()).some((c) => c.sessionId === STRANGER)).toBe(false)
  })

  it('list lines up the Session IDs whatever the names: long ones are cut with …, wide characters count double', async () => {
    for (const [id, name] of NAMED) await a.node.controller.messenger().contacts.add(id as SessionId, name)
    await a.node.controller.messenger().contacts.update(NAMED[2][0] as SessionId, { state: 'request' })
    const r = await sotto('contacts', 'list')
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    const listed = await contactsOfA()
    expect(lines).toHaveLength(listed.length)
    for (const [i, line] of lines.entries()) {
      const at = line.indexOf(listed[i].sessionId)
      expect(at, line).toBeGreaterThan(0)
      expect(displayWidth(line.slice(0, at)), line).toBe(NAME_COLUMN + 2)
    }
    const lineOf = (id: string): string => lines.find((l) => l.includes(id)) ?? ''
    expect(lineOf(NAMED[0][0]).startsWith(`Maximilian Alexander vo…  ${NAMED[0][0]}`)).toBe(true)
    expect(lineOf(NAMED[1][0])).toMatch(new RegExp(`^王小明 +${NAMED[1][0]}`))
    expect(lineOf(NAMED[2][0])).toMatch(/\[request\]$/)
  })
})

describe('sotto inbox', () => {
  it('names the sender by the name the node shows: the contact’s shared display name when there is no local one', async () => {
    expect((await apiCall(b, 'PUT', '/api/profile', { displayName: 'Bobby' })).status).toBe(200)
    await b.node.controller.messenger().contacts.add((await a.node.controller.status()).sessionId as SessionId, 'Alice')
    await a.node.controller.messenger().contacts.add(bobId as SessionId, '')
    await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
    const aliceId = (await a.node.controller.status()).sessionId as string
    expect((await b.node.controller.messenger().send(aliceId, 'hello from Bob')).state).toBe('delivered')
    await waitFor('the profile name at A', async () => (await contactsOfA()).find((c) => c.sessionId === bobId)?.displayName === 'Bobby')
    const r = await sotto('inbox')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/ Bobby: hello from Bob\n/)
  })
})

describe('display width', () => {
  it.each([
    ['Bob', 3], ['Zoë', 3], ['Zoe\u0308', 3], ['王小明', 6], ['🎉', 2], ['👩‍👩‍👧', 2], ['❤️', 2], ['a\u200bb', 2]
  ])('%j is %i cells', (text, width) => {
    expect(displayWidth(text)).toBe(width)
  })

  it('fitToWidth pads short text and cuts long text at whole graphemes, always to the exact width', () => {
    expect(fitToWidth('Bob', 6)).toBe('Bob   ')
    expect(fitToWidth('abcdefgh', 6)).toBe('abcde…')
    // A wide character that would cross the edge is left out, and a space keeps the width.
    expect(fitToWidth('王小明王小明', 6)).toBe('王小… ')
    expect(fitToWidth('👩‍👩‍👧👩‍👩‍👧👩‍👩‍👧👩‍👩‍👧', 6)).toBe('👩‍👩‍👧👩‍👩‍👧… ')
    for (const text of ['王小明王小明', 'Zoe\u0308 with a long name', '🎉🎉🎉🎉🎉']) expect(displayWidth(fitToWidth(text, 7))).toBe(7)
  })

  it('listLine keeps a name of exactly the column width whole', () => {
    const line = listLine(contact(KNOWN, 'x'.repeat(NAME_COLUMN)))
    expect(line.startsWith('x'.repeat(NAME_COLUMN) + '  05')).toBe(true)
  })
})

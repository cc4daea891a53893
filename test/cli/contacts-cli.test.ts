/**
 * `sotto contacts` against a stand-in node: a loopback HTTP server answering as docs/API.md
 * says, found through api.json like the real one, so what the CLI sends and prints is checked
 * whatever the node behind it does. Plus the list's columns, by display width.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listLine, NAME_COLUMN } from '../../cli/commands/contacts.js'
import { displayWidth, fitToWidth } from '../../cli/terminal-text.js'
import { writeApiFile } from '../../node/daemon/api-file.js'
import type { Contact } from '../../node/messaging/contacts.js'
import { runSotto, tempDir } from '../helpers/cli.js'

const TOKEN = 'stand-in-token-0123456789abcdefghijklmnopqrs'
const KNOWN = '05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72'
const STRANGER = '0500000000000000000000000000000000000000000000000000000000000000ff'

function contact (sessionId: string, name: string, extra: Partial<Contact> = {}): Contact {
  return { sessionId, name, displayName: name, state: 'accepted', verified: false, identityChanged: false, addedAt: 1, unread: 0, ...extra } as Contact
}

/** What the stand-in received, in order: method, path, body. */
const received: Array<{ method: string, path: string, body: unknown }> = []
const contacts: Contact[] = [
  contact(KNOWN, 'Bob'),
  contact('05' + 'ab'.repeat(32), 'Maximilian Alexander von Habsburg-Lothringen', { unread: 2 }),
  contact('05' + 'cd'.repeat(32), '王小明', { verified: true }),
  contact('05' + 'ef'.repeat(32), 'Zoë 🎉', { state: 'request' })
]
let server: Server
let dir: { path: string, remove: () => Promise<void> }

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = ''
    req.on('data', (d: Buffer) => { text += d.toString() })
    req.on('end', () => {
      const body = text === '' ? undefined : JSON.parse(text)
      received.push({ method: req.method ?? '', path: req.url ?? '', body })
      const send = (status: number, json: unknown): void => { res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json)) }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) { send(401, { error: { code: 'ERR_UNAUTHORIZED', message: 'no' } }); return }
      if (req.method === 'GET' && req.url === '/api/contacts') { send(200, { contacts }); return }
      if (req.method === 'POST' && req.url === '/api/contacts') {
        const b = body as { sessionId: string, name?: string }
        send(200, { contact: contact(b.sessionId, b.name ?? '', { displayName: b.name ?? b.sessionId.slice(0, 10) }) })
        return
      }
      if (req.method === 'DELETE' && req.url === `/api/contacts/${KNOWN}`) { send(200, {}); return }
      if (req.method === 'DELETE') { send(404, { error: { code: 'ERR_UNKNOWN_CONTACT', message: 'no such contact' } }); return }
      send(404, { error: { code: 'ERR_NOT_FOUND', message: 'no such endpoint' } })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  dir = await tempDir()
  const address = server.address()
  await writeApiFile(dir.path, { port: typeof address === 'object' && address !== null ? address.port : 0, token: TOKEN, pid: process.pid })
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await dir.remove()
})

const sotto = async (...args: string[]) => await runSotto([...args, '--data-dir', dir.path])

describe('sotto contacts', () => {
  it('add needs no --name: the Session ID alone is sent, and the node\'s name for it is printed', async () => {
    received.length = 0
    const r = await sotto('contacts', 'add', STRANGER)
    expect(r.code, r.stderr).toBe(0)
    expect(received).toEqual([{ method: 'POST', path: '/api/contacts', body: { sessionId: STRANGER } }])
    expect(r.stdout.trim()).toBe(`${STRANGER.slice(0, 10)} (${STRANGER}): accepted`)
    const named = await sotto('contacts', 'add', STRANGER, '--name', 'Dana')
    expect(named.code).toBe(0)
    expect(received[1].body).toEqual({ sessionId: STRANGER, name: 'Dana' })
    const none = await sotto('contacts', 'add')
    expect(none.code).toBe(1)
    expect(none.stderr.trim()).toBe('sotto: usage: sotto contacts add SESSION_ID [--name NAME]')
  })

  it('remove of someone who is not a contact says so and exits 2; of a contact, "Removed."', async () => {
    const r = await sotto('contacts', 'remove', STRANGER)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim()).toBe(`sotto: ${STRANGER} is not one of your contacts; nothing was removed`)
    const ok = await sotto('contacts', 'remove', KNOWN)
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout.trim()).toBe('Removed.')
  })

  it('list lines up the Session IDs whatever the names: long ones are cut with …, wide characters count double', async () => {
    const r = await sotto('contacts', 'list')
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(contacts.length)
    for (const [i, line] of lines.entries()) {
      const at = line.indexOf(contacts[i].sessionId)
      expect(displayWidth(line.slice(0, at)), line).toBe(NAME_COLUMN + 2)
    }
    expect(lines[1]).toMatch(/^Maximilian Alexander vo… {2}05abab/)
    expect(lines[1]).toMatch(/\[2 unread\]$/)
    expect(lines[2]).toMatch(/^王小明 +05cd/)
    expect(lines[3]).toMatch(/\[request\]$/)
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

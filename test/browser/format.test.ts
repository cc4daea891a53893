/**
 * The web UI's words and rules that need no browser: plurals, errors in plain words, what a
 * bubble says about its message, which text becomes a link, and how message states move.
 * The modules are the ones bundled into the app (web-ui/src), imported as they are.
 */
import { describe, expect, it } from 'vitest'

// Plain JavaScript modules without type declarations: loaded by path, typed here.
const FORMAT = '../../web-ui/src/format.js'
const LINKIFY = '../../web-ui/src/linkify.js'
const STORE = '../../web-ui/src/store.js'
const SESSION_ID = '../../web-ui/src/session-id.js'
interface Msg { direction: 'in' | 'out', state: string, lastError?: string, mailboxes?: number, storedUntil?: number }
const f = await import(FORMAT) as {
  plural: (n: number, one: string, many?: string) => string
  errorText: (code: string, message?: string, detail?: { retryAfterMs?: number }) => string
  stateLabel: (m: Msg) => string
  stateNote: (m: Msg) => string
  dateOf: (ms: number) => string
  initials: (name: string, id: string) => string
}
const { splitLinks } = await import(LINKIFY) as { splitLinks: (t: string) => Array<{ text: string, href?: string }> }
const { later } = await import(STORE) as { later: (a: string, b: string) => string }
const { sessionIdProblem, parseInvite } = await import(SESSION_ID) as { sessionIdProblem: (id: string) => string | undefined, parseInvite: (t: string) => { sessionId: string, name: string } | undefined }

describe('words', () => {
  it('counts in the singular for one', () => {
    expect(f.plural(1, 'peer')).toBe('1 peer')
    expect(f.plural(0, 'peer')).toBe('0 peers')
    expect(f.plural(2, 'mailbox', 'mailboxes')).toBe('2 mailboxes')
    expect(f.errorText('ERR_UNLOCK_THROTTLED', 'x', { retryAfterMs: 1000 })).toBe('Too many tries. Wait 1 second.')
    expect(f.errorText('ERR_UNLOCK_BUSY', 'x', { retryAfterMs: 2500 })).toBe('Too many tries. Wait 3 seconds.')
  })

  it('says node errors in plain words, and the node\'s own message as a sentence otherwise', () => {
    expect(f.errorText('ERR_SESSION_ID_POINT', 'not a canonical curve point')).toBe('This is not a valid Session ID.')
    expect(f.errorText('ERR_WRONG_PASSPHRASE', 'wrong passphrase')).toBe('Wrong passphrase.')
    expect(f.errorText('ERR_SOMETHING_NEW', 'the disk is full')).toBe('The disk is full.')
  })

  it('tells where an outgoing message is, with the reason when it waits or failed', () => {
    expect(f.stateLabel({ direction: 'out', state: 'sending' })).toBe('sending…')
    expect(f.stateLabel({ direction: 'out', state: 'failed' })).toBe('not sent')
    expect(f.stateLabel({ direction: 'in', state: 'received' })).toBe('')
    expect(f.stateNote({ direction: 'out', state: 'sending' })).toBe('')
    expect(f.stateNote({ direction: 'out', state: 'sending', lastError: 'ERR_NO_MAILBOX_PEER' })).toBe('Waiting: no peer can hold it yet, retrying.')
    expect(f.stateNote({ direction: 'out', state: 'sending', lastError: 'ERR_NO_SESSION' })).toBe('Waiting: their node has not been found on the network yet, retrying.')
    expect(f.stateNote({ direction: 'out', state: 'failed', lastError: 'ERR_NO_SESSION' })).toBe('Not sent: their node could not be found on the network.')
    const until = Date.UTC(2030, 5, 14, 12)
    expect(f.stateNote({ direction: 'out', state: 'stored', mailboxes: 3, storedUntil: until })).toBe(`Stored in 3 mailboxes until ${f.dateOf(until)}.`)
    expect(f.stateNote({ direction: 'out', state: 'stored', mailboxes: 1 })).toBe('Stored in 1 mailbox.')
    expect(f.stateNote({ direction: 'out', state: 'failed', lastError: 'ERR_IDENTITY_CHANGED' })).toBe('Not sent: their safety number changed; verify them first.')
    expect(f.stateNote({ direction: 'out', state: 'failed', lastError: 'ERR_WHATEVER' })).toBe('Not sent: an error (ERR_WHATEVER).')
  })

  it('makes initials from the name, else from the Session ID', () => {
    expect(f.initials('Bob Example', '05ab')).toBe('BE')
    expect(f.initials('alice', '05ab')).toBe('AL')
    expect(f.initials('', '05ab12')).toBe('AB')
  })
})

describe('links', () => {
  it('links http(s) addresses only, without the punctuation of the sentence', () => {
    expect(splitLinks('see https://a.example/x.')).toEqual([{ text: 'see ' }, { text: 'https://a.example/x', href: 'https://a.example/x' }, { text: '.' }])
    expect(splitLinks('(at http://b.example/y)').map((p) => p.href).filter(Boolean)).toEqual(['http://b.example/y'])
    expect(splitLinks('wiki https://w.example/A_(b), ok').map((p) => p.href).filter(Boolean)).toEqual(['https://w.example/A_(b)'])
    expect(splitLinks('javascript:alert(1) file:///etc/passwd ftp://x.example').every((p) => p.href === undefined)).toBe(true)
    expect(splitLinks('<b>https://c.example/"onmouseover=x</b>').map((p) => p.href).filter(Boolean)).toEqual(['https://c.example/'])
  })
})

describe('message states', () => {
  it('only move forward, except sending -> failed and a resend of a failed message', () => {
    expect(later('read', 'delivered')).toBe('read')
    expect(later('stored', 'delivered')).toBe('delivered')
    expect(later('sending', 'failed')).toBe('failed')
    expect(later('delivered', 'failed')).toBe('delivered')
    expect(later('failed', 'sending')).toBe('sending')
  })
})

describe('the Add form', () => {
  it('explains a Session ID while it is typed, and reads invites', () => {
    expect(sessionIdProblem('')).toBeUndefined()
    expect(sessionIdProblem('06')).toBe('A Session ID starts with 05.')
    expect(sessionIdProblem('05zz')).toBe('A Session ID has only the digits 0-9 and letters a-f.')
    expect(sessionIdProblem('05ab')).toBe('A Session ID has 66 characters; this has 4.')
    const id = '05' + 'ab'.repeat(32)
    expect(sessionIdProblem(id)).toBeUndefined()
    expect(parseInvite(`sotto:${id.toUpperCase().replace(/^05/, '05')}?name=Ann%20B`)).toEqual({ sessionId: id, name: 'Ann B' })
    expect(parseInvite(`sotto:${id}?name=${'x'.repeat(100)}`)?.name).toHaveLength(64)
  })
})

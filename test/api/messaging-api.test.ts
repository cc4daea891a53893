/**
 * Contacts, profiles, replies, deletions, receipts and search through the local API of two
 * real nodes (libp2p on loopback, real stores), watched on their event streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveIdentity } from '../../node/identity/keys.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { openEvents, type EventStream } from './event-stream.js'

let a: TestNode
let b: TestNode
let aliceId: string
let bobId: string
let aEvents: EventStream
let bEvents: EventStream

const call = apiCall

/** Sends through the API and expects a direct delivery. */
async function send (from: TestNode, to: string, text: string, quote?: string): Promise<any> {
  const r = await call(from, 'POST', '/api/messages', { to, text, ...(quote === undefined ? {} : { quote }) })
  expect(r.json.message?.state, JSON.stringify(r.json)).toBe('delivered')
  return r.json.message
}

/** Session IDs of people with no node here: their messages fail, but stay in the log. */
const carolId = deriveIdentity(new Uint8Array(16).fill(71)).sessionId
const daveId = deriveIdentity(new Uint8Array(16).fill(72)).sessionId

const contactAt = async (node: TestNode, id: string): Promise<any> => (await call(node, 'GET', '/api/contacts')).json.contacts.find((c: any) => c.sessionId === id)
const history = async (node: TestNode, peer: string): Promise<any[]> => (await call(node, 'GET', `/api/conversations/${peer}/messages`)).json.messages

beforeAll(async () => {
  a = await startTestNode()
  b = await startTestNode({ bootstrapFrom: [a.node] })
  aliceId = (await call(a, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId
  bobId = (await call(b, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId
  await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
  aEvents = await openEvents(a)
  bEvents = await openEvents(b)
}, 60_000)
afterAll(async () => {
  aEvents?.close()
  bEvents?.close()
  await Promise.all([a?.node.stop(), b?.node.stop()])
})

describe('messaging API between two nodes', () => {
  it('a request read before it was accepted is reported "read" to its sender once accepted', async () => {
    const m = await send(b, aliceId, 'hello, this is Bob')
    expect((await contactAt(a, bobId)).state).toBe('request')
    expect((await call(a, 'POST', `/api/conversations/${bobId}/read`)).status).toBe(200)
    expect((await history(a, bobId))[0].state).toBe('read')
    const accepted = await call(a, 'PUT', `/api/contacts/${bobId}`, { state: 'accepted' })
    expect(accepted.json.contact.state).toBe('accepted')
    await bEvents.waitFor('the read receipt at Bob', (es) => es.some((e) => e.name === 'message-state' && e.data.id === m.id && e.data.state === 'read'))
    expect((await history(b, aliceId))[0].state).toBe('read')
  })

  it('the incoming message carries the sender\'s time', async () => {
    const m = await send(b, aliceId, 'what time did I send this?')
    const got = (await history(a, bobId)).find((x) => x.id === m.id)
    expect(got.sentAt).toBe(m.sentAt)
  })

  it('a shared profile name arrives and shows as the display name; a local name wins over it', async () => {
    expect((await call(b, 'GET', '/api/profile')).json).toEqual({ displayName: null })
    expect((await call(b, 'PUT', '/api/profile', { displayName: 'Bob Marley' })).json).toEqual({ displayName: 'Bob Marley' })
    expect((await call(b, 'GET', '/api/profile')).json).toEqual({ displayName: 'Bob Marley' })
    await aEvents.waitFor('Bob\'s profile at Alice', (es) => es.some((e) => e.name === 'contact' && e.data.sessionId === bobId && e.data.displayName === 'Bob Marley'))
    expect(await contactAt(a, bobId)).toMatchObject({ name: '', profileName: 'Bob Marley', displayName: 'Bob Marley' })

    expect((await call(a, 'PUT', `/api/contacts/${bobId}`, { name: 'Bobby' })).json.contact).toMatchObject({ name: 'Bobby', displayName: 'Bobby', profileName: 'Bob Marley' })
    expect((await contactAt(a, bobId)).displayName).toBe('Bobby')
    expect((await call(a, 'PUT', `/api/contacts/${bobId}`, { name: '' })).json.contact.displayName).toBe('Bob Marley')
    expect((await call(a, 'PUT', `/api/contacts/${bobId}`, { name: 'Bobby' })).status).toBe(200)

    const bad = await call(b, 'PUT', '/api/profile', { displayName: 'x'.repeat(65) })
    expect([bad.status, bad.json.error.code]).toEqual([400, 'ERR_PROFILE_NAME'])
    expect((await call(b, 'GET', '/api/profile')).json).toEqual({ displayName: 'Bob Marley' })
  })

  it('adding an existing contact again does not rename it', async () => {
    const again = await call(a, 'POST', '/api/contacts', { sessionId: bobId, name: bobId.slice(0, 10) })
    expect(again.status).toBe(200)
    expect(again.json).toMatchObject({ existed: true, contact: { name: 'Bobby', displayName: 'Bobby' } })
    expect((await call(a, 'POST', '/api/contacts', { sessionId: bobId })).json.contact.name).toBe('Bobby')
    expect((await contactAt(a, bobId)).name).toBe('Bobby')
    // A new one needs no name.
    const fresh = await call(b, 'POST', '/api/contacts', { sessionId: aliceId })
    expect(fresh.json).toMatchObject({ existed: true, contact: { name: '' } })
  })

  it('a reply arrives with its quote', async () => {
    const question = await send(a, bobId, 'coffee at 3?')
    await bEvents.waitFor('the question at Bob', (es) => es.some((e) => e.name === 'message' && e.data.id === question.id))
    const answer = await send(b, aliceId, 'yes!', question.id)
    expect(answer.quote).toEqual({ id: question.id, text: 'coffee at 3?', fromMe: false })
    await aEvents.waitFor('the reply at Alice', (es) => es.some((e) => e.name === 'message' && e.data.id === answer.id))
    expect((await history(a, bobId)).find((m) => m.id === answer.id).quote).toEqual({ id: question.id, text: 'coffee at 3?', fromMe: true })
    const unknown = await call(b, 'POST', '/api/messages', { to: aliceId, text: 'x', quote: 'f'.repeat(32) })
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'ERR_UNKNOWN_MESSAGE'])
  })

  it('delete for everyone removes the message on both nodes; the contact\'s preview follows', async () => {
    const m = await send(a, bobId, 'sent to the wrong person')
    await bEvents.waitFor('the message at Bob', (es) => es.some((e) => e.name === 'message' && e.data.id === m.id))
    expect((await contactAt(b, aliceId)).lastMessage.id).toBe(m.id)
    const theirs = (await history(a, bobId)).find((x) => x.direction === 'in')
    const refused = await call(a, 'DELETE', `/api/conversations/${bobId}/messages/${theirs.id}?everyone=true`)
    expect([refused.status, refused.json.error.code]).toEqual([400, 'ERR_NOT_OWN_MESSAGE'])

    expect((await call(a, 'DELETE', `/api/conversations/${bobId}/messages/${m.id}?everyone=true`)).status).toBe(200)
    await aEvents.waitFor('the deletion at Alice', (es) => es.some((e) => e.name === 'message-deleted' && e.data.id === m.id && e.data.peer === bobId))
    await bEvents.waitFor('the deletion at Bob', (es) => es.some((e) => e.name === 'message-deleted' && e.data.id === m.id && e.data.peer === aliceId))
    expect((await history(a, bobId)).find((x) => x.id === m.id)).toMatchObject({ text: '', deleted: true })
    expect((await history(b, aliceId)).find((x) => x.id === m.id)).toMatchObject({ text: '', deleted: true })
    expect((await contactAt(b, aliceId)).lastMessage?.id).not.toBe(m.id)
    const gone = await call(a, 'DELETE', `/api/conversations/${bobId}/messages/${m.id}`)
    expect([gone.status, gone.json.error.code]).toEqual([404, 'ERR_UNKNOWN_MESSAGE'])
  })

  it('search finds a message and nothing from conversations that do not match', async () => {
    await send(a, bobId, 'the Treasure is under the oak')
    const other = await call(a, 'POST', '/api/messages', { to: carolId, text: 'nothing about that here' })
    expect(other.json.message.text).toBe('nothing about that here')
    const found = await call(a, 'GET', `/api/search?q=${encodeURIComponent('treasure')}`)
    expect(found.json.messages.map((m: any) => [m.peer, m.text])).toEqual([[bobId, 'the Treasure is under the oak']])
    expect(JSON.stringify(found.json)).not.toContain('nothing about that here')
    expect((await call(a, 'GET', '/api/search?q=bobby')).json.contacts.map((c: any) => c.sessionId)).toEqual([bobId])
    const empty = await call(a, 'GET', '/api/search?q=')
    expect([empty.status, empty.json.error.code]).toEqual([400, 'ERR_SEARCH_QUERY'])
  })

  it('a message to someone whose node was never found waits in the outbox and says why; Resend is for failed messages only', async () => {
    const waiting = (await history(a, carolId)).find((m) => m.text === 'nothing about that here')
    expect(waiting).toMatchObject({ state: 'sending', lastError: 'ERR_NO_SESSION' })
    const early = await call(a, 'POST', `/api/conversations/${carolId}/messages/${waiting.id}/resend`)
    expect([early.status, early.json.error.code]).toEqual([409, 'ERR_NOT_FAILED'])
    const delivered = (await history(a, bobId)).find((m) => m.state === 'delivered' || m.state === 'read')
    const refused = await call(a, 'POST', `/api/conversations/${bobId}/messages/${delivered.id}/resend`)
    expect([refused.status, refused.json.error.code]).toEqual([409, 'ERR_NOT_FAILED'])
  })

  it('DELETE of a contact removes it and its conversation; of a non-contact it is 404 ERR_UNKNOWN_CONTACT', async () => {
    const missing = await call(a, 'DELETE', `/api/contacts/${daveId}`)
    expect([missing.status, missing.json.error.code]).toEqual([404, 'ERR_UNKNOWN_CONTACT'])

    const someone = carolId
    expect((await call(a, 'DELETE', `/api/contacts/${someone}`)).status).toBe(200)
    await aEvents.waitFor('the removal', (es) => es.some((e) => e.name === 'contact-removed' && e.data.sessionId === someone))
    expect(await contactAt(a, someone)).toBeUndefined()
    expect(await history(a, someone)).toEqual([])
    expect((await call(a, 'DELETE', `/api/contacts/${someone}`)).status).toBe(404)
  })
})

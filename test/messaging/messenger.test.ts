/**
 * The messenger's use cases on real sessions and real sealed stores (in memory): contacts
 * and their display names, profiles inside sessions, replies, deletions, failures and
 * resends, receipts for requests, search. Two or three parties in one process; the
 * transport hands envelopes over directly (test/api/messaging-api.test.ts has real nodes).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Message } from '../../node/messaging/message-log.js'
import { encodePayload } from '../../node/messaging/payload.js'
import type { MessengerEvent } from '../../node/messaging/ports.js'
import { World, type Party } from './parties.js'

let world: World
let alice: Party
let bob: Party
let carol: Party

beforeEach(async () => {
  world = new World()
  alice = await world.party(61)
  bob = await world.party(62)
  carol = await world.party(63)
})
afterEach(() => { world.stop() })

const contactOf = async (p: Party, of: Party) => await p.messenger.contacts.get(of.id)
const texts = (ms: Message[]): string[] => ms.map((m) => m.text)
const isState = (id: string, state: string) => (e: MessengerEvent): e is Extract<MessengerEvent, { type: 'message-state' }> => e.type === 'message-state' && e.id === id && e.state === state

/** Seals any payload from one party to another, as a peer that writes its own code could. */
async function sendRaw (from: Party, to: Party, payload: unknown): Promise<void> {
  const envelope = await from.manager.seal(to.id, encodePayload(payload as never))
  expect(await to.messenger.receive(envelope)).toBe('accepted')
}

describe('contacts', () => {
  it('show the local name, else the shared profile name, else the start of the Session ID', async () => {
    const { contact } = await alice.messenger.addContact(bob.id)
    expect(contact.name).toBe('')
    expect(contact.displayName).toBe(bob.id.slice(0, 10) + '…')
    await bob.messenger.setProfile('Bobby')
    await bob.messenger.send(alice.id, 'hi')
    expect((await contactOf(alice, bob))?.displayName).toBe('Bobby')
    expect((await alice.messenger.updateContact(bob.id, { name: 'Bob at work' })).displayName).toBe('Bob at work')
    expect((await contactOf(alice, bob))?.profileName).toBe('Bobby')
    const cleared = await alice.messenger.updateContact(bob.id, { name: '' })
    expect([cleared.name, cleared.displayName]).toEqual(['', 'Bobby'])
  })

  it('adding again never renames; a request becomes accepted; the answer says it existed', async () => {
    const first = await alice.messenger.addContact(bob.id, 'Bob (verified)')
    expect(first.existed).toBe(false)
    const again = await alice.messenger.addContact(bob.id, '05AA654F00')
    expect(again).toMatchObject({ existed: true, contact: { name: 'Bob (verified)' } })
    expect((await alice.messenger.addContact(bob.id)).contact.name).toBe('Bob (verified)')

    await carol.messenger.send(alice.id, 'hello?')
    expect((await contactOf(alice, carol))?.state).toBe('request')
    const accepted = await alice.messenger.addContact(carol.id, 'Carol')
    expect(accepted).toMatchObject({ existed: true, contact: { state: 'accepted', name: '' } })
  })

  it('bad changes are refused with a code and change nothing', async () => {
    await alice.messenger.addContact(bob.id, 'Bob')
    await expect(alice.messenger.updateContact(bob.id, { name: 'x'.repeat(65) })).rejects.toMatchObject({ code: 'ERR_CONTACT_NAME' })
    await expect(alice.messenger.updateContact(bob.id, { state: 'friend' })).rejects.toMatchObject({ code: 'ERR_CONTACT_STATE' })
    await expect(alice.messenger.updateContact(bob.id, { verified: 'yes' })).rejects.toMatchObject({ code: 'ERR_CONTACT_VERIFIED' })
    await expect(alice.messenger.addContact(carol.id, 42)).rejects.toMatchObject({ code: 'ERR_CONTACT_NAME' })
    await expect(alice.messenger.addContact(alice.id)).rejects.toMatchObject({ code: 'ERR_SELF' })
    expect(await alice.messenger.contacts.list()).toMatchObject([{ sessionId: bob.id, name: 'Bob', state: 'accepted', verified: false }])
  })

  it('removing a contact removes its conversation and its queued envelopes in one batch; an unknown one is ERR_UNKNOWN_CONTACT', async () => {
    await alice.messenger.send(bob.id, 'one')
    await bob.messenger.send(alice.id, 'two')
    world.reach.set(bob.id, 'unreachable')
    await alice.messenger.send(bob.id, 'queued')
    await alice.messenger.send(carol.id, 'for Carol')
    expect((await alice.messenger.outbox.entries()).map((e) => e.peer)).toContain(bob.id)

    await alice.messenger.removeContact(bob.id)
    expect(await contactOf(alice, bob)).toBeUndefined()
    expect(await alice.messenger.log.conversation(bob.id)).toEqual([])
    expect(await alice.messenger.log.inbox(0)).toEqual([])
    expect((await alice.messenger.outbox.entries()).map((e) => e.peer)).not.toContain(bob.id)
    expect(texts(await alice.messenger.log.conversation(carol.id))).toEqual(['for Carol'])
    expect(alice.events).toContainEqual({ type: 'contact-removed', sessionId: bob.id })

    await expect(alice.messenger.removeContact(bob.id)).rejects.toMatchObject({ code: 'ERR_UNKNOWN_CONTACT' })
    // Bob writing again is a stranger's first message: a request, with a conversation from scratch.
    world.reach.set(bob.id, 'direct')
    await bob.messenger.send(alice.id, 'me again')
    expect((await contactOf(alice, bob))?.state).toBe('request')
    expect((await alice.messenger.log.conversation(bob.id)).map((m) => [m.text, m.seq])).toEqual([['me again', 1]])
  })

  it('keep the last message current on send, receipt, arrival and delete', async () => {
    const sent = await alice.messenger.send(bob.id, 'first')
    expect((await contactOf(alice, bob))?.lastMessage).toEqual({ id: sent.id, text: 'first', direction: 'out', sentAt: sent.sentAt, state: 'delivered' })
    const reply = await bob.messenger.send(alice.id, 'second'.repeat(50))
    expect((await contactOf(alice, bob))?.lastMessage).toMatchObject({ id: reply.id, direction: 'in', state: 'received', text: 'second'.repeat(50).slice(0, 200) })
    await alice.messenger.markRead(bob.id)
    expect((await contactOf(alice, bob))?.lastMessage?.state).toBe('read')
    await alice.messenger.deleteMessage(bob.id, reply.id)
    expect((await contactOf(alice, bob))?.lastMessage?.id).toBe(sent.id)
    await alice.messenger.deleteMessage(bob.id, sent.id)
    expect((await contactOf(alice, bob))?.lastMessage).toBeUndefined()
  })
})

describe('profiles', () => {
  it('travel inside the session before the first text, once per version, and on change to contacts with a conversation', async () => {
    expect(await alice.messenger.profile()).toEqual({ displayName: null })
    expect(await alice.messenger.setProfile('  Alice\u001b ')).toEqual({ displayName: 'Alice' })
    await alice.messenger.send(bob.id, 'hi Bob')
    // A stranger's profile came first and was kept aside; the text made a request that shows it.
    expect(await contactOf(bob, alice)).toMatchObject({ state: 'request', profileName: 'Alice', displayName: 'Alice' })
    const sentBefore = (await contactOf(alice, bob))?.profileSentVersion
    expect(sentBefore).toBeGreaterThan(0)
    await alice.messenger.send(bob.id, 'again')
    expect((await contactOf(alice, bob))?.profileSentVersion).toBe(sentBefore)

    await alice.messenger.setProfile('Alice B.')
    await bob.event('the new profile', (e): e is Extract<MessengerEvent, { type: 'contact' }> => e.type === 'contact' && e.contact.profileName === 'Alice B.')
    await alice.messenger.setProfile(null)
    await bob.event('the cleared profile', (e): e is Extract<MessengerEvent, { type: 'contact' }> => e.type === 'contact' && e.contact.sessionId === alice.id && e.contact.profileName === undefined && e.contact.displayName === alice.id.slice(0, 10) + '…')
  })

  it('an older version is ignored; a stranger\'s profile alone makes no request', async () => {
    await sendRaw(carol, bob, { v: 1, t: 'profile', name: 'Carol', version: 5 })
    expect(await contactOf(bob, carol)).toBeUndefined()
    expect(await bob.messenger.contacts.list()).toEqual([])
    await bob.messenger.addContact(carol.id)
    await sendRaw(carol, bob, { v: 1, t: 'profile', name: 'Carol 7', version: 7 })
    await sendRaw(carol, bob, { v: 1, t: 'profile', name: 'Carol 6', version: 6 })
    expect((await contactOf(bob, carol))?.profileName).toBe('Carol 7')
  })

  it('bad names are refused with ERR_PROFILE_NAME and change nothing', async () => {
    await alice.messenger.setProfile('Alice')
    for (const bad of ['', ' \u0007 ', 'x'.repeat(65), 12, undefined]) {
      await expect(alice.messenger.setProfile(bad)).rejects.toMatchObject({ code: 'ERR_PROFILE_NAME' })
    }
    expect(await alice.messenger.profile()).toEqual({ displayName: 'Alice' })
  })

  it('is sent again with the first text of a new session', async () => {
    await alice.messenger.setProfile('Alice')
    await alice.messenger.send(bob.id, 'one')
    await bob.messenger.updateContact(alice.id, { state: 'accepted' })
    // Bob lost what Alice told him (say, restored an old copy); Alice's session starts over.
    await bob.messenger.removeContact(alice.id)
    await alice.manager.resetSession(bob.id)
    await alice.messenger.send(bob.id, 'two')
    expect((await contactOf(bob, alice))?.profileName).toBe('Alice')
  })
})

describe('messages', () => {
  it('a reply carries its quote; the quoted text is ours when it quotes our message', async () => {
    const original = await alice.messenger.send(bob.id, 'what time is it?')
    const reply = await bob.messenger.send(alice.id, 'noon', { quote: original.id })
    expect(reply.quote).toEqual({ id: original.id, text: 'what time is it?', fromMe: false })
    const atAlice = await alice.messenger.log.find(bob.id, reply.id)
    expect(atAlice?.quote).toEqual({ id: original.id, text: 'what time is it?', fromMe: true })
    // A peer quoting our message with other words: our own text shows.
    const forged = '0'.repeat(32)
    await sendRaw(bob, alice, { v: 1, t: 'text', id: forged, sentAt: 1, text: 'see?', replyTo: { id: original.id, text: 'I owe Bob 100' } })
    expect((await alice.messenger.log.find(bob.id, forged))?.quote).toEqual({ id: original.id, text: 'what time is it?', fromMe: true })
    await expect(bob.messenger.send(alice.id, 'x', { quote: 'f'.repeat(32) })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_MESSAGE' })
  })

  it('the sender\'s time is the message\'s sentAt at the recipient', async () => {
    await sendRaw(bob, alice, { v: 1, t: 'text', id: '1'.repeat(32), sentAt: 1_600_000_000_000, text: 'from the past' })
    const m = await alice.messenger.log.find(bob.id, '1'.repeat(32))
    expect(m?.sentAt).toBe(1_600_000_000_000)
    expect(m?.receivedAt).toBeGreaterThan(1_600_000_000_000)
  })

  it('delete for me leaves a tombstone without text, in the conversation, quotes and previews', async () => {
    const m = await alice.messenger.send(bob.id, 'secret plan')
    const r = await alice.messenger.send(bob.id, 'about that', { quote: m.id })
    await alice.messenger.deleteMessage(bob.id, m.id)
    const history = await alice.messenger.log.conversation(bob.id)
    expect(history.map((x) => [x.id, x.text, x.deleted])).toEqual([[m.id, '', true], [r.id, 'about that', undefined]])
    expect(history[1].quote).toEqual({ id: m.id, text: '', fromMe: true })
    expect(JSON.stringify(await alice.messenger.search('secret'))).not.toContain('secret plan')
    expect(alice.events).toContainEqual({ type: 'message-deleted', peer: bob.id, id: m.id })
    // Only for Alice: Bob still has it.
    expect((await bob.messenger.log.find(alice.id, m.id))?.text).toBe('secret plan')
    await expect(alice.messenger.deleteMessage(bob.id, m.id)).rejects.toMatchObject({ code: 'ERR_UNKNOWN_MESSAGE' })
  })

  it('delete for everyone removes the text on both sides, only for the sender\'s own messages', async () => {
    const mine = await alice.messenger.send(bob.id, 'oops, wrong chat')
    const theirs = await bob.messenger.send(alice.id, 'keep this')
    await expect(alice.messenger.deleteMessage(bob.id, theirs.id, { everyone: true })).rejects.toMatchObject({ code: 'ERR_NOT_OWN_MESSAGE' })
    await alice.messenger.deleteMessage(bob.id, mine.id, { everyone: true })
    await bob.event('the deletion', (e): e is Extract<MessengerEvent, { type: 'message-deleted' }> => e.type === 'message-deleted' && e.id === mine.id)
    expect((await bob.messenger.log.find(alice.id, mine.id))).toMatchObject({ text: '', deleted: true })
    expect((await alice.messenger.log.find(bob.id, mine.id))).toMatchObject({ text: '', deleted: true })
    // A peer cannot delete what we wrote: a "delete" naming Bob's own message changes nothing at Bob.
    await sendRaw(alice, bob, { v: 1, t: 'delete', ids: [theirs.id] })
    expect((await bob.messenger.log.find(alice.id, theirs.id))?.text).toBe('keep this')
  })

  it('a deletion that arrives before its message makes the message drop when it comes', async () => {
    const id = '2'.repeat(32)
    await bob.messenger.addContact(alice.id)
    await sendRaw(alice, bob, { v: 1, t: 'delete', ids: [id] })
    await sendRaw(alice, bob, { v: 1, t: 'text', id, sentAt: 1, text: 'too late' }).catch(() => {})
    expect(await bob.messenger.log.find(alice.id, id)).toBeUndefined()
    expect(await bob.messenger.log.inbox(0)).toEqual([])
  })

  it('waits with the reason while no path takes it (ERR_NO_MAILBOX_PEER), fails with a reason, and can be sent again', async () => {
    world.reach.set(bob.id, 'unreachable')
    const waiting = await alice.messenger.send(bob.id, 'anyone?')
    expect(waiting).toMatchObject({ state: 'sending', lastError: 'ERR_NO_MAILBOX_PEER' })
    await alice.event('the waiting state', (e): e is Extract<MessengerEvent, { type: 'message-state' }> => e.type === 'message-state' && e.id === waiting.id && e.lastError === 'ERR_NO_MAILBOX_PEER')
    await expect(alice.messenger.resend(bob.id, waiting.id)).rejects.toMatchObject({ code: 'ERR_NOT_FAILED' })

    world.reach.set(bob.id, 'refuse')
    const refused = await alice.messenger.send(bob.id, 'refused twice')
    expect(refused).toMatchObject({ state: 'failed', lastError: 'ERR_REFUSED' })
    world.reach.set(bob.id, 'direct')
    const again = await alice.messenger.resend(bob.id, refused.id)
    expect(again.state).toBe('delivered')
    expect(again.lastError).toBeUndefined()
    expect(alice.events.some(isState(refused.id, 'sending'))).toBe(true)
    expect((await bob.messenger.log.inbox(0)).filter((m) => m.text === 'refused twice')).toHaveLength(1)
    await expect(alice.messenger.resend(bob.id, 'f'.repeat(32))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_MESSAGE' })
  })
})

describe('read receipts', () => {
  it('a first message to someone whose record is not found yet waits in the outbox (ERR_NO_SESSION) and goes once the record is there', async () => {
    const record = world.records.get(carol.id)!
    world.records.delete(carol.id)
    const waiting = await alice.messenger.send(carol.id, 'are you there yet?')
    expect(waiting).toMatchObject({ state: 'sending', lastError: 'ERR_NO_SESSION' })
    expect((await alice.messenger.outbox.entries()).filter((e) => e.id === waiting.id)).toMatchObject([{ peer: carol.id, envelope: '' }])
    // Still no record: a retry changes nothing.
    await alice.messenger.outbox.retryDue(true)
    expect(await alice.messenger.log.find(carol.id, waiting.id)).toMatchObject({ state: 'sending' })
    world.records.set(carol.id, record)
    await alice.messenger.outbox.retryDue(true)
    await alice.event('delivered', isState(waiting.id, 'delivered'))
    expect((await carol.messenger.log.inbox(0)).map((m) => m.text)).toEqual(['are you there yet?'])
    expect(await alice.messenger.outbox.entries()).toEqual([])
  })

  it('messages read while the conversation was a request are reported read once it is accepted', async () => {
    const m = await alice.messenger.send(bob.id, 'hello stranger')
    expect(m.state).toBe('delivered')
    await bob.messenger.markRead(alice.id)
    expect((await bob.messenger.log.find(alice.id, m.id))?.state).toBe('read')
    expect((await alice.messenger.log.find(bob.id, m.id))?.state).toBe('delivered')
    await bob.messenger.updateContact(alice.id, { state: 'accepted' })
    await alice.event('the read receipt', isState(m.id, 'read'))
    expect((await contactOf(alice, bob))?.lastMessage?.state).toBe('read')
  })
})

describe('search', () => {
  it('finds contacts by name, profile name and Session ID start, and messages by text, newest first, in every conversation', async () => {
    await alice.messenger.addContact(bob.id, 'Bob Builder')
    await carol.messenger.setProfile('Caroline')
    await carol.messenger.send(alice.id, 'The Meeting is at noon')
    await alice.messenger.send(bob.id, 'meeting moved')
    await alice.messenger.send(bob.id, 'lunch?')
    const found = await alice.messenger.search('MEETING')
    expect(texts(found.messages)).toEqual(['meeting moved', 'The Meeting is at noon'])
    expect((await alice.messenger.search('builder')).contacts.map((c) => c.sessionId)).toEqual([bob.id])
    expect((await alice.messenger.search('carol')).contacts.map((c) => c.sessionId)).toEqual([carol.id])
    expect((await alice.messenger.search(carol.id.slice(0, 20))).contacts.map((c) => c.sessionId)).toEqual([carol.id])
    expect(await alice.messenger.search('dinner')).toEqual({ contacts: [], messages: [] })
    for (const bad of ['', '   ', 'x'.repeat(101), undefined]) await expect(alice.messenger.search(bad)).rejects.toMatchObject({ code: 'ERR_SEARCH_QUERY' })
  })

  it('gives at most 50 messages', async () => {
    for (let i = 0; i < 55; i++) await alice.messenger.send(bob.id, `note ${i}`)
    const found = await alice.messenger.search('note')
    expect(found.messages).toHaveLength(50)
    expect(found.messages[0].text).toBe('note 54')
  })
})

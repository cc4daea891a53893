/**
 * Disappearing messages between two messengers with real sessions, each on its own clock
 * (test/disappearing/harness.ts): the timer travels in the session, both copies go when their
 * time is up (checked by moving the clocks, not by waiting), a recipient offline past the
 * timer never shows the message, burn-on-read starts at the reading, concurrent changes end
 * equal on both sides, and what is malformed changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Message } from '../../node/messaging/message-log.js'
import type { MessengerEvent } from '../../node/messaging/ports.js'
import type { TimerSetting } from '../../node/messaging/timer.js'
import { eventually, Net, type Party } from './harness.js'

let net: Net
afterEach(() => { net?.stop() })

/** Two parties with a session both ways (A wrote first, B accepted and answered). */
async function pair (): Promise<{ a: Party, b: Party }> {
  net = new Net()
  const a = await net.party(1)
  const b = await net.party(2)
  await a.messenger.addContact(b.id)
  await a.messenger.send(b.id, 'hello')
  await b.messenger.addContact(a.id)
  await b.messenger.send(a.id, 'hi')
  return { a, b }
}

/** Waits until the party's mailbox holds `n` envelopes (a timer change goes out in the background). */
const heldFor = async (p: Party, n: number): Promise<void> => { await eventually(`${n} envelopes held for ${p.id.slice(0, 8)}`, () => (net.mailbox.get(p.id)?.length ?? 0) >= n) }
const advance = (ms: number, ...parties: Party[]): void => { for (const p of parties) p.clock.t += ms }
const timerOf = async (p: Party, other: Party): Promise<TimerSetting | undefined> => (await p.messenger.contacts.get(other.id))?.timer
const texts = (messages: Message[]): string[] => messages.filter((m) => m.event === undefined).map((m) => m.text)
const expired = (p: Party): Array<Extract<MessengerEvent, { type: 'messages-expired' }>> => p.events.filter((e): e is Extract<MessengerEvent, { type: 'messages-expired' }> => e.type === 'messages-expired')

describe('after-send', () => {
  it('L5/X1/X3: the text carries the timer; both copies go at the same moment, from conversation, inbox, search and contact preview; mailboxes are asked to keep it no longer than its time', async () => {
    const { a, b } = await pair()
    b.online = false
    const contact = await a.messenger.setTimer(b.id, { mode: 'after-send', seconds: 2 })
    expect(contact.timer).toMatchObject({ mode: 'after-send', seconds: 2, version: 1, changedAt: a.clock.t, changedBy: a.id })
    await heldFor(b, 1)
    const sent = await a.messenger.send(b.id, 'MARKER-after-send')
    expect(sent).toMatchObject({ timer: { mode: 'after-send', seconds: 2 }, expiresAt: a.clock.t + 2000, state: 'stored' })
    // The text's mailbox copy is asked for 2 s at most; the timer change itself keeps the usual TTL.
    const held = net.mailbox.get(b.id) ?? []
    expect(held).toHaveLength(2)
    expect(held[0].ttlMs).toBeUndefined()
    expect(held[1].ttlMs).toBeGreaterThan(0)
    expect(held[1].ttlMs).toBeLessThanOrEqual(2000)

    b.online = true
    expect(await net.collect(b)).toEqual(['accepted', 'accepted'])
    const got = (await b.messenger.log.inbox(0)).find((m) => m.text === 'MARKER-after-send')
    expect(got).toMatchObject({ timer: { mode: 'after-send', seconds: 2 }, expiresAt: sent.sentAt + 2000 })
    // B took A's setting, and shows the change as a row that is neither in the inbox nor unread.
    expect(await timerOf(b, a)).toEqual(await timerOf(a, b))
    const row = (await b.messenger.log.conversation(a.id)).find((m) => m.event !== undefined)
    expect(row).toMatchObject({ direction: 'in', text: '', event: { type: 'timer', mode: 'after-send', seconds: 2 }, sentAt: contact.timer.changedAt })
    expect(row?.inboxSeq).toBeUndefined()
    expect((await b.messenger.log.inbox(0)).some((m) => m.event !== undefined)).toBe(false)
    expect((await b.messenger.contacts.get(a.id))?.unread).toBe(2)
    expect((await b.messenger.contacts.get(a.id))?.lastMessage?.text).toBe('MARKER-after-send')
    // The contact record itself keeps no copy of the text: the preview is read from the row.
    const stored = JSON.parse(new TextDecoder().decode(await b.store.get(['contact', a.id])))
    expect(stored.lastMessage).toMatchObject({ id: sent.id, text: '', timed: true })
    // While it lives, its row is sealed under a short-lived key besides the data key.
    expect(b.keys.buckets().some((k) => k.startsWith('h'))).toBe(true)

    advance(1999, a, b)
    expect(await a.messenger.expireDue()).toBe(sent.expiresAt)
    expect(await b.messenger.log.find(a.id, sent.id)).toBeDefined()
    advance(1, a, b)
    await a.messenger.expireDue()
    await b.messenger.expireDue()
    for (const [p, other] of [[a, b], [b, a]] as const) {
      expect(await p.messenger.log.find(other.id, sent.id)).toBeUndefined()
      // Deleted, not only unreadable: no row, no id index (the key's loss alone would hide it too).
      expect(await p.messenger.log.rowOf(other.id, sent.id)).toBeUndefined()
      expect(await p.store.get(['msg-id', other.id, sent.id])).toBeUndefined()
      expect(texts(await p.messenger.log.conversation(other.id))).not.toContain('MARKER-after-send')
      expect((await p.messenger.search('MARKER')).messages).toHaveLength(0)
      expect((await p.messenger.contacts.get(other.id))?.lastMessage?.id).not.toBe(sent.id)
      expect(expired(p)).toEqual([{ type: 'messages-expired', peer: other.id, ids: [sent.id] }])
      // No message needs the key any more: it is gone, so a leftover copy of the row cannot open.
      expect(p.keys.buckets()).toEqual([])
    }
    expect((await b.messenger.log.inbox(0)).map((m) => m.text)).toEqual(['hello'])
    expect((await b.messenger.contacts.get(a.id))?.unread).toBe(1)
    // A copy that comes after (a mailbox that kept it anyway) is a duplicate, not a new message.
    expect(await b.messenger.receive(held[1].envelope, 'mailbox')).toBe('duplicate')
  })

  it('X1: a recipient offline past the timer never shows it: the late copy is acknowledged and dropped, and so is a second copy', async () => {
    const { a, b } = await pair()
    b.online = false
    await a.messenger.setTimer(b.id, { mode: 'after-send', seconds: 2 })
    await heldFor(b, 1)
    const sent = await a.messenger.send(b.id, 'MARKER-too-late')
    const held = [...(net.mailbox.get(b.id) ?? [])]
    advance(3000, a, b)
    b.online = true
    // A mailbox that kept it longer than asked (we cannot make peers honest): B still drops it.
    expect(await net.collect(b, held[0].putAt)).toEqual(['accepted', 'accepted'])
    expect(await b.messenger.log.find(a.id, sent.id)).toBeUndefined()
    expect((await b.messenger.log.inbox(0)).map((m) => m.text)).toEqual(['hello'])
    expect(b.events.some((e) => e.type === 'message' && e.message.text === 'MARKER-too-late')).toBe(false)
    expect((await b.messenger.contacts.get(a.id))?.unread).toBe(1)
    // The setting it was sent under still applies.
    expect((await timerOf(b, a))?.mode).toBe('after-send')
    expect(await b.messenger.receive(held[1].envelope, 'mailbox')).toBe('duplicate')
  })
})

describe('at unlock', () => {
  it('guards of expired messages go once no copy can come (14 days), and a short-lived key no message needs is dropped', async () => {
    const { a, b } = await pair()
    await a.messenger.setTimer(b.id, { mode: 'after-send', seconds: 2 })
    await eventually('B has the setting', async () => (await timerOf(b, a))?.mode === 'after-send')
    const sent = await a.messenger.send(b.id, 'MARKER-guard')
    advance(2000, a, b)
    await b.messenger.expireDue()
    expect(await b.store.get(['msg-gone', a.id, sent.id])).toBeDefined()
    // A key made for a batch that never landed (the node stopped between the two).
    b.keys.seal('h1', new Uint8Array(1), 'msg-row')
    await b.keys.flush()
    advance(13 * 24 * 3600_000, a, b)
    await b.messenger.pruneGuards()
    expect(await b.store.get(['msg-gone', a.id, sent.id])).toBeDefined()
    expect(b.keys.buckets()).toEqual([])
    advance(24 * 3600_000, a, b)
    await b.messenger.pruneGuards()
    expect(await b.store.get(['msg-gone', a.id, sent.id])).toBeUndefined()
  })
})

describe('the outbox', () => {
  it('an envelope still queued when its message expires is dropped, never sent', async () => {
    const { a, b } = await pair()
    await a.messenger.setTimer(b.id, { mode: 'after-send', seconds: 2 })
    await eventually('B has the setting', async () => (await timerOf(b, a))?.mode === 'after-send')
    a.online = false
    const sent = await a.messenger.send(b.id, 'MARKER-queued')
    expect(sent.state).toBe('sending')
    expect(await a.messenger.outbox.entries()).toContainEqual(expect.objectContaining({ id: sent.id, expiresAt: sent.expiresAt }))
    advance(2000, a, b)
    await a.messenger.expireDue()
    expect((await a.messenger.outbox.entries()).map((e) => e.id)).not.toContain(sent.id)
    a.online = true
    await a.messenger.outbox.retryDue(true)
    expect(await b.messenger.log.find(a.id, sent.id)).toBeUndefined()
    expect(b.events.some((e) => e.type === 'message' && e.message.id === sent.id)).toBe(false)
  })
})

describe('after-read (burn-on-read)', () => {
  it('the recipient\'s clock starts when the conversation is read, not at delivery; the sender\'s at the read receipt', async () => {
    const { a, b } = await pair()
    await b.messenger.setTimer(a.id, { mode: 'after-read', seconds: 60 })
    await eventually('A has B\'s setting', async () => (await timerOf(a, b))?.mode === 'after-read')
    const sent = await a.messenger.send(b.id, 'MARKER-burn')
    expect(sent.state).toBe('delivered')
    expect(sent.expiresAt).toBeUndefined()
    const got = await b.messenger.log.find(a.id, sent.id)
    expect(got).toMatchObject({ timer: { mode: 'after-read', seconds: 60 }, state: 'received' })
    expect(got?.expiresAt).toBeUndefined()
    // Unread, it sits under the "unread" key.
    expect(b.keys.buckets().some((k) => k.startsWith('unread-'))).toBe(true)

    // An hour later nobody has read it: both copies are still there.
    advance(3_600_000, a, b)
    await a.messenger.expireDue()
    await b.messenger.expireDue()
    expect((await b.messenger.log.find(a.id, sent.id))?.text).toBe('MARKER-burn')
    expect((await a.messenger.log.find(b.id, sent.id))?.text).toBe('MARKER-burn')

    const readAt = b.clock.t
    await b.messenger.markRead(a.id)
    expect(await b.messenger.log.find(a.id, sent.id)).toMatchObject({ state: 'read', expiresAt: readAt + 60_000 })
    expect(b.events).toContainEqual(expect.objectContaining({ type: 'message-state', id: sent.id, state: 'read', expiresAt: readAt + 60_000 }))
    // Its row moved to its expiry hour's key; nothing waits under "unread" any more, so that key goes at the next sweep.
    advance(10, a, b)
    const receiptAt = a.clock.t
    const atSender = await eventually('the read receipt at A', async () => {
      const m = await a.messenger.log.find(b.id, sent.id)
      return m?.state === 'read' ? m : undefined
    })
    expect(atSender.expiresAt).toBe(receiptAt + 60_000)

    advance(60_000, a, b)
    await b.messenger.expireDue()
    expect(await b.messenger.log.find(a.id, sent.id)).toBeUndefined()
    expect(await a.messenger.log.find(b.id, sent.id)).toBeDefined()
    advance(10, a)
    await a.messenger.expireDue()
    expect(await a.messenger.log.find(b.id, sent.id)).toBeUndefined()
    expect(b.keys.buckets()).toEqual([])
    expect(a.keys.buckets()).toEqual([])
  })
})

describe('concurrent changes while one side is offline', () => {
  it.each([
    ['same version, B changed later: B\'s wins', { aAt: 1000, bAt: 2000, aTwice: false, winner: 'b' }],
    ['same version, A changed later: A\'s wins', { aAt: 2000, bAt: 1000, aTwice: false, winner: 'a' }],
    ['same version and time: the larger Session ID wins', { aAt: 1000, bAt: 1000, aTwice: false, winner: 'larger' }],
    ['A changed twice: the higher version wins although B\'s is later', { aAt: 1000, bAt: 5000, aTwice: true, winner: 'a' }]
  ])('X2: %s, and both sides end with the same setting', async (_what, c) => {
    const { a, b } = await pair()
    b.online = false
    const base = a.clock.t
    a.clock.t = base + c.aAt
    await a.messenger.setTimer(b.id, { mode: 'after-send', seconds: 30 })
    if (c.aTwice) await a.messenger.setTimer(b.id, { mode: 'after-send', seconds: 45 })
    await heldFor(b, c.aTwice ? 2 : 1)
    b.clock.t = base + c.bAt
    await b.messenger.setTimer(a.id, { mode: 'after-read', seconds: 300 })
    // B comes back: it reads its mailbox, then its queued change goes out.
    b.online = true
    advance(10_000, a, b)
    await net.collect(b)
    await b.messenger.outbox.retryDue(true)
    const onA = await eventually('the same setting on both sides', async () => {
      const ta = await timerOf(a, b)
      return JSON.stringify(ta) === JSON.stringify(await timerOf(b, a)) ? ta : undefined
    })
    const winner = c.winner === 'larger' ? (a.id > b.id ? 'a' : 'b') : c.winner
    if (winner === 'a') expect(onA).toMatchObject({ mode: 'after-send', seconds: c.aTwice ? 45 : 30, changedBy: a.id })
    else expect(onA).toMatchObject({ mode: 'after-read', seconds: 300, changedBy: b.id })
  })
})

describe('what is malformed changes nothing', () => {
  it('a timer payload that does not parse is rejected (ERR_PAYLOAD) and the setting stays', async () => {
    const { a, b } = await pair()
    const before = await timerOf(b, a)
    const rowsBefore = (await b.messenger.log.conversation(a.id)).length
    for (const bad of [
      { v: 1, t: 'timer', mode: 'after-send', seconds: 0, version: 5, changedAt: 1 },
      { v: 1, t: 'timer', mode: 'forever', seconds: 30, version: 5, changedAt: 1 },
      { v: 1, t: 'text', id: 'c'.repeat(32), sentAt: 1, text: 'x', timer: { mode: 'after-send', seconds: 30, version: 0 } }
    ]) {
      const envelope = await a.manager.seal(b.id, new TextEncoder().encode(JSON.stringify(bad)))
      expect(await b.messenger.receive(envelope)).toBe('rejected')
    }
    expect(await timerOf(b, a)).toEqual(before)
    expect((await b.messenger.log.conversation(a.id)).length).toBe(rowsBefore)
  })

  it('a bad change from the user is refused with ERR_TIMER, an unknown contact with ERR_UNKNOWN_CONTACT, the same setting again is no change; nothing is sent or stored', async () => {
    const { a, b } = await pair()
    const before = await timerOf(a, b)
    const outboxBefore = (await a.messenger.outbox.entries()).length
    for (const body of [{ mode: 'after-send', seconds: 0 }, { mode: 'sometimes', seconds: 5 }, { mode: 'after-read', seconds: 604_801 }, 'off']) {
      await expect(a.messenger.setTimer(b.id, body)).rejects.toMatchObject({ code: 'ERR_TIMER' })
    }
    await expect(a.messenger.setTimer(('05' + '0'.repeat(64)) as Party['id'], { mode: 'off' })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_CONTACT' })
    expect(await timerOf(a, b)).toEqual(before)
    expect((await a.messenger.outbox.entries()).length).toBe(outboxBefore)
    // The setting it already has is no change either: no new version, no row, nothing sent.
    const rows = (await a.messenger.log.conversation(b.id)).length
    expect(await a.messenger.setTimer(b.id, { mode: 'off' })).toMatchObject({ timer: before })
    expect((await a.messenger.log.conversation(b.id)).length).toBe(rows)
    expect((await a.messenger.outbox.entries()).length).toBe(outboxBefore)
    expect(texts(await b.messenger.log.conversation(a.id))).toEqual(['hello', 'hi'])
  })
})

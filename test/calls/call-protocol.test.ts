/**
 * Call signalling inside the 1:1 session (node/calls, R18), on real sessions and real sealed
 * stores in one process: what rings and what never does (a replayed envelope, an offer with a
 * call id seen before, an offer older than 60 s, a stranger's, a mailbox copy), that signals
 * go directly or not at all (an unreachable peer is "unavailable" at once and nothing reaches
 * a mailbox or the outbox), and how calls end on both sides.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CallEvent } from '../../node/calls/call-manager.js'
import type { CallSignal } from '../../node/calls/signal.js'
import { encodePayload } from '../../node/messaging/payload.js'
import { CallWorld, fakeSdp, type CallParty } from './call-world.js'

let world: CallWorld
let alice: CallParty
let bob: CallParty
let carol: CallParty

beforeEach(async () => {
  world = new CallWorld()
  alice = await world.party(81)
  bob = await world.party(82)
  carol = await world.party(83)
  // Alice and Bob know each other; Carol is a stranger to both.
  await alice.messenger.addContact(bob.id, 'Bob')
  await bob.messenger.addContact(alice.id, 'Alice')
})
afterEach(() => { world.stop() })

const isCall = (id: string, state: string) => (e: CallEvent): boolean => e.type === 'call' && e.call.id === id && e.call.state === state

/** Seals a call signal from one party to another as any peer could (its own code, its own values) and delivers it. */
async function sealOffer (from: CallParty, to: CallParty, signal: CallSignal): Promise<Uint8Array> {
  return await from.manager.seal(to.id, encodePayload({ v: 1, t: 'call', call: signal }))
}
function offer (overrides: Partial<Extract<CallSignal, { kind: 'offer' }>> = {}): Extract<CallSignal, { kind: 'offer' }> {
  return { kind: 'offer', id: randomBytes(16).toString('hex'), sdp: fakeSdp(), video: true, sentAt: world.clock, ...overrides }
}

describe('an offer rings once, only when fresh, direct and from an accepted contact', () => {
  it('a call from a contact rings; the answer reaches the caller with the SDP; a hangup ends it on both sides', async () => {
    const call = await alice.calls.start(bob.id, { video: true, sdp: fakeSdp('11:22') })
    expect(call).toMatchObject({ direction: 'out', state: 'ringing', peer: bob.id, video: true })
    const rang = await bob.event('the call to ring', isCall(call.id, 'ringing'))
    expect(rang).toMatchObject({ call: { direction: 'in', peer: alice.id }, sdp: fakeSdp('11:22') })

    await bob.calls.answer(call.id, fakeSdp('33:44'))
    const answered = await alice.event('the answer', isCall(call.id, 'active'))
    expect((answered as { sdp?: string }).sdp).toBe(fakeSdp('33:44'))

    await alice.calls.addCandidates(call.id, [{ candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 }])
    await bob.event('the candidates', (e) => e.type === 'call-candidates' && e.id === call.id)
    expect(bob.calls.get(call.id).candidates).toHaveLength(1)

    await alice.calls.hangup(call.id)
    await bob.event('the hangup', isCall(call.id, 'ended'))
    expect(bob.calls.get(call.id)).toMatchObject({ state: 'ended', reason: 'hangup' })
    expect(alice.calls.get(call.id)).toMatchObject({ state: 'ended', reason: 'hangup' })
    expect((await bob.calls.history(alice.id)).map((r) => r.reason)).toEqual(['hangup'])
    expect(world.mailboxed).toBe(0)
    expect(await alice.messenger.outbox.entries()).toEqual([])
  })

  it('V1: a replayed envelope never rings twice (the ratchet sees the duplicate)', async () => {
    const o = offer()
    const envelope = await sealOffer(alice, bob, o)
    expect(await bob.messenger.receive(envelope, 'direct')).toBe('accepted')
    await bob.ringing(o.id)
    // The ratchet refuses the copy before the call layer sees it.
    expect(await bob.messenger.receive(envelope, 'direct')).toBe('duplicate')
    expect(bob.rang()).toEqual([o.id])
  })

  it('V1: a new envelope carrying a call id seen before never rings again, even after that call ended', async () => {
    const o = offer()
    await bob.messenger.receive(await sealOffer(alice, bob, o), 'direct')
    await bob.ringing(o.id)
    await bob.calls.decline(o.id)
    await bob.messenger.receive(await sealOffer(alice, bob, { ...o, sentAt: world.clock }), 'direct')
    await bob.drop('replayed')
    expect(bob.rang()).toEqual([o.id])
  })

  it('V1: an offer sent more than 60 s ago (by its sentAt) never rings; one dated far ahead neither', async () => {
    await bob.messenger.receive(await sealOffer(alice, bob, offer({ sentAt: world.clock - 60_001 })), 'direct')
    await bob.drop('too-old')
    await bob.messenger.receive(await sealOffer(alice, bob, offer({ sentAt: world.clock + 120_000 })), 'direct')
    await bob.drop('from-future')
    const fresh = offer({ sentAt: world.clock - 59_000 })
    await bob.messenger.receive(await sealOffer(alice, bob, fresh), 'direct')
    await bob.ringing(fresh.id)
    expect(bob.rang()).toEqual([fresh.id])
  })

  it('V1: a stranger, a message request or a blocked contact never rings, and a stranger becomes no request', async () => {
    await bob.messenger.receive(await sealOffer(carol, bob, offer()), 'direct')
    await bob.drop('not-contact')
    expect(await bob.messenger.contacts.get(carol.id)).toBeUndefined()

    await carol.messenger.send(bob.id, 'hi, it is Carol')
    expect((await bob.messenger.contacts.get(carol.id))?.state).toBe('request')
    await bob.messenger.receive(await sealOffer(carol, bob, offer()), 'direct')
    await bob.drop('not-contact', 2)

    await bob.messenger.updateContact(alice.id, { state: 'blocked' })
    // Blocked: refused before the call layer sees it at all.
    const whileBlocked = offer()
    await bob.messenger.receive(await sealOffer(alice, bob, whileBlocked), 'direct')
    // Unblocked, Alice's next call rings: the one sent while blocked never did.
    await bob.messenger.updateContact(alice.id, { state: 'accepted' })
    const after = offer()
    await bob.messenger.receive(await sealOffer(alice, bob, after), 'direct')
    await bob.ringing(after.id)
    expect(bob.rang()).toEqual([after.id])
    // And nobody calls someone who is not their accepted contact.
    await expect(carol.calls.start(alice.id, { video: false, sdp: fakeSdp() })).rejects.toMatchObject({ code: 'ERR_NOT_CONTACT' })
  })

  it('a copy that came from a mailbox never rings', async () => {
    await bob.messenger.receive(await sealOffer(alice, bob, offer()), 'mailbox')
    await bob.drop('mailbox')
    expect(bob.rang()).toEqual([])
  })

  it('only the call\'s own peer can answer or end it', async () => {
    await carol.messenger.addContact(alice.id)
    await alice.messenger.addContact(carol.id)
    const call = await alice.calls.start(bob.id, { video: false, sdp: fakeSdp() })
    const envelope = await carol.manager.seal(alice.id, encodePayload({ v: 1, t: 'call', call: { kind: 'hangup', id: call.id } }))
    await alice.messenger.receive(envelope, 'direct')
    await alice.drop('unknown-call')
    expect(alice.calls.get(call.id).state).toBe('ringing')
  })
})

describe('direct only', () => {
  it('an unreachable peer is "unavailable" at once; nothing goes to a mailbox or the outbox', async () => {
    world.offline.add(bob.id)
    const started = Date.now()
    const call = await alice.calls.start(bob.id, { video: true, sdp: fakeSdp() })
    expect(call).toMatchObject({ state: 'ended', reason: 'unavailable' })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(world.mailboxed).toBe(0)
    expect(await alice.messenger.outbox.entries()).toEqual([])
    expect((await alice.calls.history(bob.id)).map((r) => r.reason)).toEqual(['unavailable'])
    // And Bob, back online, never hears of it.
    world.offline.delete(bob.id)
    await alice.messenger.send(bob.id, 'tried to call you')
    expect(bob.rang()).toEqual([])
  })
})

describe('how a call ends', () => {
  it('declined: the caller hears "declined"; both sides keep a line', async () => {
    const call = await alice.calls.start(bob.id, { video: false, sdp: fakeSdp() })
    await bob.event('ringing', isCall(call.id, 'ringing'))
    await bob.calls.decline(call.id)
    await alice.event('declined', isCall(call.id, 'ended'))
    expect(alice.calls.get(call.id).reason).toBe('declined')
    expect((await alice.calls.history(bob.id)).map((r) => [r.direction, r.reason])).toEqual([['out', 'declined']])
    expect((await bob.calls.history(alice.id)).map((r) => [r.direction, r.reason])).toEqual([['in', 'declined']])
  })

  it('busy: a second caller hears "busy" and the callee keeps a missed call', async () => {
    await carol.messenger.addContact(bob.id)
    await bob.messenger.addContact(carol.id)
    const first = await alice.calls.start(bob.id, { video: false, sdp: fakeSdp() })
    await bob.event('ringing', isCall(first.id, 'ringing'))
    const second = await carol.calls.start(bob.id, { video: false, sdp: fakeSdp() })
    await carol.event('busy', isCall(second.id, 'ended'))
    expect(carol.calls.get(second.id).reason).toBe('busy')
    expect(bob.rang()).toEqual([first.id])
    expect((await bob.calls.history(carol.id)).map((r) => r.reason)).toEqual(['missed'])
  })

  it('unanswered: the caller gives up after the ring time and the callee has a missed call', async () => {
    const quick = await world.party(84, { ringTimeoutMs: 200 })
    await quick.messenger.addContact(bob.id)
    await bob.messenger.addContact(quick.id)
    const call = await quick.calls.start(bob.id, { video: false, sdp: fakeSdp() })
    await quick.event('no answer', isCall(call.id, 'ended'))
    expect(quick.calls.get(call.id).reason).toBe('no-answer')
    await bob.event('missed', isCall(call.id, 'ended'))
    expect(bob.calls.get(call.id).reason).toBe('missed')
  })

  it('one call at a time from this side; bad SDP is refused before anything is sent', async () => {
    await alice.calls.start(bob.id, { video: false, sdp: fakeSdp() })
    await expect(alice.calls.start(bob.id, { video: false, sdp: fakeSdp() })).rejects.toMatchObject({ code: 'ERR_CALL_BUSY' })
    await expect(alice.calls.start(bob.id, { video: false, sdp: 'not an sdp' })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' })
    await expect(alice.calls.answer('0'.repeat(32), fakeSdp())).rejects.toMatchObject({ code: 'ERR_UNKNOWN_CALL' })
  })
})

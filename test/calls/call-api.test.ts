/**
 * Calls through the local API of real nodes (libp2p on loopback, mDNS off): the signalling
 * relayed between two nodes and pushed as events; the ICE servers the UI is told (this
 * node's STUN responder with `stun`, the TURN setting, nothing else); and a call to a
 * contact whose node is stopped: "unavailable" within 10 s, with nothing left in a mailbox
 * or in the outbox.
 */
import { createSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAGIC_COOKIE } from '../../node/calls/stun-server.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { apiCall as call, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { openEvents, type EventStream } from '../api/event-stream.js'
import { fakeSdp } from './call-world.js'

let holder: TestNode
let a: TestNode
let b: TestNode
let aliceId: string
let bobId: string
let aEvents: EventStream
let bEvents: EventStream

beforeAll(async () => {
  // A third node that holds mail for others: a call must never reach it.
  holder = await startTestNode()
  a = await startTestNode({ bootstrapFrom: [holder.node], stun: true })
  b = await startTestNode({ bootstrapFrom: [holder.node, a.node] })
  aliceId = (await call(a, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId
  bobId = (await call(b, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId
  await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
  expect((await call(a, 'POST', '/api/contacts', { sessionId: bobId, name: 'Bob' })).status).toBe(200)
  expect((await call(b, 'POST', '/api/contacts', { sessionId: aliceId, name: 'Alice' })).status).toBe(200)
  aEvents = await openEvents(a)
  bEvents = await openEvents(b)
}, 90_000)
afterAll(async () => {
  aEvents?.close()
  bEvents?.close()
  await Promise.all([a?.node.stop(), b?.node.stop(), holder?.node.stop()])
})

describe('calls between two nodes', () => {
  it('the offer rings at Bob as an event with Alice\'s SDP; his decline reaches Alice; both keep a line', async () => {
    const started = await call(a, 'POST', '/api/calls', { to: bobId, video: true, sdp: fakeSdp('AA:01') })
    expect(started.status, JSON.stringify(started.json)).toBe(200)
    const id = started.json.call.id as string
    expect(started.json.call).toMatchObject({ state: 'ringing', direction: 'out', peer: bobId, video: true })
    await bEvents.waitFor('the ringing call', (es) => es.some((e) => e.name === 'call' && e.data.id === id && e.data.state === 'ringing'))
    expect(bEvents.events.find((e) => e.name === 'call' && e.data.id === id)?.data).toMatchObject({ direction: 'in', peer: aliceId, sdp: fakeSdp('AA:01') })
    expect((await call(b, 'GET', `/api/calls/${id}`)).json.call).toMatchObject({ state: 'ringing', remoteSdp: fakeSdp('AA:01') })
    expect((await call(b, 'GET', '/api/calls')).json.calls.map((c: any) => c.id)).toEqual([id])

    expect((await call(b, 'POST', `/api/calls/${id}/decline`, {})).json.call).toMatchObject({ state: 'ended', reason: 'declined' })
    await aEvents.waitFor('the decline', (es) => es.some((e) => e.name === 'call' && e.data.id === id && e.data.state === 'ended' && e.data.reason === 'declined'))
    expect((await call(a, 'GET', `/api/calls?peer=${bobId}`)).json.calls).toMatchObject([{ id, direction: 'out', reason: 'declined' }])
    expect((await call(b, 'GET', `/api/calls?peer=${aliceId}`)).json.calls).toMatchObject([{ id, direction: 'in', reason: 'declined' }])
    // A call that ended cannot be answered.
    expect((await call(b, 'POST', `/api/calls/${id}/answer`, { sdp: fakeSdp() })).json.error.code).toBe('ERR_CALL_STATE')
  }, 30_000)

  it('answered, candidates relayed, hung up: every step is an event on the other side', async () => {
    const id = (await call(a, 'POST', '/api/calls', { to: bobId, video: false, sdp: fakeSdp('AA:02') })).json.call.id as string
    await bEvents.waitFor('ringing', (es) => es.some((e) => e.name === 'call' && e.data.id === id && e.data.state === 'ringing'))
    expect((await call(b, 'POST', `/api/calls/${id}/answer`, { sdp: fakeSdp('BB:02') })).json.call.state).toBe('active')
    await aEvents.waitFor('the answer', (es) => es.some((e) => e.name === 'call' && e.data.id === id && e.data.state === 'active' && e.data.sdp === fakeSdp('BB:02')))
    const candidates = [{ candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 }]
    expect((await call(a, 'POST', `/api/calls/${id}/candidates`, { candidates })).status).toBe(200)
    await bEvents.waitFor('the candidates', (es) => es.some((e) => e.name === 'call-candidates' && e.data.id === id && e.data.candidates[0].candidate === candidates[0].candidate))
    expect((await call(b, 'POST', `/api/calls/${id}/hangup`, {})).json.call).toMatchObject({ state: 'ended', reason: 'hangup' })
    await aEvents.waitFor('the hangup', (es) => es.some((e) => e.name === 'call' && e.data.id === id && e.data.state === 'ended' && e.data.reason === 'hangup'))
  }, 30_000)

  it('bad requests are refused with their codes', async () => {
    expect((await call(a, 'POST', '/api/calls', { to: bobId, video: 'yes', sdp: fakeSdp() })).json.error.code).toBe('ERR_BAD_REQUEST')
    expect((await call(a, 'POST', '/api/calls', { to: bobId, sdp: 'v=1' })).json.error.code).toBe('ERR_BAD_REQUEST')
    const stranger = deriveIdentity(new Uint8Array(16).fill(99)).sessionId
    expect((await call(a, 'POST', '/api/calls', { to: stranger, sdp: fakeSdp() })).json.error.code).toBe('ERR_NOT_CONTACT')
    expect((await call(a, 'GET', '/api/calls/xyz')).status).toBe(400)
    expect((await call(a, 'GET', `/api/calls/${'0'.repeat(32)}`)).status).toBe(404)
    expect((await call(a, 'POST', `/api/calls/${'0'.repeat(32)}/candidates`, { candidates: [] })).json.error.code).toBe('ERR_BAD_REQUEST')
  })
})

describe('ICE servers', () => {
  it('a node started with stun names its own STUN responder, which answers on the libp2p TCP port number; without it, none', async () => {
    const config = (await call(a, 'GET', '/api/calls/config')).json
    const tcpPort = Number(/\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(a.node.addresses().join(' '))?.[1])
    expect(config.iceServers).toEqual([{ urls: [`stun:127.0.0.1:${tcpPort}`] }])
    const socket = createSocket('udp4')
    const request = new Uint8Array(20)
    new DataView(request.buffer).setUint16(0, 0x0001)
    new DataView(request.buffer).setUint32(4, MAGIC_COOKIE)
    request.set(randomBytes(12), 8)
    const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve))
    socket.send(request, tcpPort, '127.0.0.1')
    expect((await reply).readUInt16BE(0)).toBe(0x0101)
    socket.close()
    expect((await call(b, 'GET', '/api/calls/config')).json.iceServers).toEqual([])
  })

  it('a TURN relay is a setting: checked, kept, handed to the UI; null removes it', async () => {
    const turn = { url: 'turn:127.0.0.1:3478', username: 'bob', credential: 'secret' }
    expect((await call(b, 'PUT', '/api/settings', { turn: { ...turn, url: 'http://example.org' } })).json.error.code).toBe('ERR_BAD_REQUEST')
    expect((await call(b, 'PUT', '/api/settings', { turn })).json.turn).toEqual(turn)
    expect((await call(b, 'GET', '/api/calls/config')).json.iceServers).toEqual([{ urls: [turn.url], username: 'bob', credential: 'secret' }])
    expect((await call(b, 'PUT', '/api/settings', { turn: null })).json.turn).toBeNull()
    expect((await call(b, 'GET', '/api/calls/config')).json.iceServers).toEqual([])
  })
})

describe('a contact whose node is stopped', () => {
  it('is "unavailable" within 10 s; nothing is held in a mailbox or queued in the outbox', async () => {
    const heldBefore = (await holder.node.controller.status()).mailbox?.envelopes ?? 0
    await b.node.stop()
    const t0 = Date.now()
    const r = await call(a, 'POST', '/api/calls', { to: bobId, video: true, sdp: fakeSdp() })
    const tookMs = Date.now() - t0
    expect(r.json.call).toMatchObject({ state: 'ended', reason: 'unavailable' })
    expect(tookMs).toBeLessThan(10_000)
    expect((await holder.node.controller.status()).mailbox?.envelopes ?? 0).toBe(heldBefore)
    expect(await a.node.controller.messenger().outbox.entries()).toEqual([])
    console.info(`call to a stopped node: unavailable after ${tookMs} ms`)
  }, 30_000)
})

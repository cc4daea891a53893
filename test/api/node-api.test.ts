/** The API of a real running node, over HTTP: locks, idle timeout, throttled unlocks, what a locked node serves (A1, A7, L2). */
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NODE, SOTTO_BIN } from '../helpers/cli.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'
import { openEvents } from './event-stream.js'

let n: TestNode
const call = async (method: string, path: string, body?: unknown, token = n.node.token): Promise<{ status: number, json: any }> => await apiCall(n, method, path, body, token)

beforeAll(async () => {
  n = await startTestNode({ idleLockMs: 400 })
})
afterAll(async () => { await n.node.stop() })

describe('node API', () => {
  it('A1: no token, no API; the account is created through it', async () => {
    expect((await call('GET', '/api/status', undefined, '')).status).toBe(401)
    expect((await call('POST', '/api/account/create', { passphrase: TEST_PASSPHRASE }, 'nope')).status).toBe(401)
    expect((await call('GET', '/api/status')).json.state).toBe('no-account')
    const created = await call('POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })
    expect(created.status).toBe(200)
    expect(created.json.phrase.split(' ')).toHaveLength(12)
    expect((await call('POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.error.code).toBe('ERR_ACCOUNT_EXISTS')
  })

  it('A7: after the idle time the API locks (423) until the passphrase is given; wrong ones are throttled', async () => {
    await waitFor('idle lock', async () => (await call('GET', '/api/status')).json.state === 'locked', 20_000, 100)
    expect((await call('GET', '/api/contacts')).status).toBe(423)
    const wrong = await call('POST', '/api/unlock', { passphrase: 'wrong passphrase' })
    expect(wrong.status).toBe(401)
    expect(wrong.json.error.code).toBe('ERR_WRONG_PASSPHRASE')
    const throttled = await call('POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })
    expect(throttled.status).toBe(429)
    expect(throttled.json.error.retryAfterMs).toBeGreaterThan(0)
    await new Promise((r) => setTimeout(r, throttled.json.error.retryAfterMs + 50))
    expect((await call('POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
    expect((await call('GET', '/api/contacts')).status).toBe(200)
  })
})

const callNode = apiCall

describe('the locked UI serves nothing personal', () => {
  let a: TestNode
  let b: TestNode
  let aliceId: string
  let bobId: string

  beforeAll(async () => {
    a = await startTestNode()
    b = await startTestNode({ bootstrapFrom: [a.node] })
    aliceId = (await callNode(a, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId
    bobId = (await callNode(b, 'POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).json.sessionId
    await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)
  }, 60_000)
  afterAll(async () => { await Promise.all([a?.node.stop(), b?.node.stop()]) })

  it('A7: after a lock the event stream carries no message, contact or Session ID; after unlock it carries them again', async () => {
    const stream = await openEvents(a)
    try {
      expect((await callNode(a, 'POST', '/api/lock')).status).toBe(200)
      await stream.waitFor('the first "locked" event', (es) => es.some((e) => e.name === 'locked'))
      const marker = `locked-marker-${Math.random().toString(36).slice(2)}`
      const sent = await callNode(b, 'POST', '/api/messages', { to: aliceId, text: marker })
      expect(sent.json.message?.state, JSON.stringify(sent.json)).toBe('delivered')
      // A committed the message (and told its listeners) before it acked; a second lock's
      // event is written to the stream after anything the message caused.
      expect((await callNode(a, 'POST', '/api/lock')).status).toBe(200)
      await stream.waitFor('the second "locked" event', (es) => es.filter((e) => e.name === 'locked').length >= 2)
      expect(stream.events.map((e) => e.name).filter((n) => n !== 'locked' && n !== 'status')).toEqual([])
      expect(stream.raw()).not.toContain(marker)
      expect(stream.raw()).not.toContain(bobId)
      expect(stream.raw()).not.toContain(aliceId)
      for (const e of stream.events.filter((x) => x.name === 'status')) expect(e.data.sessionId).toBeUndefined()

      // The message arrived all the same, and after unlock the stream carries new ones.
      expect((await callNode(a, 'POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
      const history = await callNode(a, 'GET', `/api/conversations/${bobId}/messages`)
      expect(history.json.messages.map((m: { text: string }) => m.text)).toEqual([marker])
      const after = `${marker}-unlocked`
      expect((await callNode(b, 'POST', '/api/messages', { to: aliceId, text: after })).json.message.state).toBe('delivered')
      await stream.waitFor('the message sent after unlock', (es) => es.some((e) => e.name === 'message' && e.data.text === after))
    } finally {
      stream.close()
    }
  })

  it('A7: while locked, settings are neither read nor changed (423 ERR_LOCKED); unlocked they are', async () => {
    expect((await callNode(a, 'POST', '/api/lock')).status).toBe(200)
    const put = await callNode(a, 'PUT', '/api/settings', { idleLockMinutes: 1, bootstrap: ['/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWLRPJAA5o6Z6Q2JH2aGFEzL5xF3aC4hw1mF3wDVmJ8iYh'] })
    expect(put.status).toBe(423)
    expect(put.json.error.code).toBe('ERR_LOCKED')
    const get = await callNode(a, 'GET', '/api/settings')
    expect(get.status).toBe(423)
    expect(get.json.error.code).toBe('ERR_LOCKED')
    expect((await callNode(a, 'POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
    expect((await callNode(a, 'GET', '/api/settings')).json.idleLockMinutes).toBe(15)
    const changed = await callNode(a, 'PUT', '/api/settings', { idleLockMinutes: 20 })
    expect(changed.status).toBe(200)
    expect(changed.json.idleLockMinutes).toBe(20)
  })

  it('A7: `sotto inbox --follow` gets nothing while the node is locked, and what came meanwhile after the unlock', async () => {
    const before = (await callNode(a, 'GET', '/api/inbox')).json.messages.length as number
    const child = spawn(NODE, [SOTTO_BIN, 'inbox', '--follow', '--json', '--data-dir', a.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    const lines = (): Array<{ text: string }> => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
    try {
      await waitFor('the inbox so far', async () => lines().length >= before)
      expect((await callNode(a, 'POST', '/api/lock')).status).toBe(200)
      const marker = `while-locked-${Math.random().toString(36).slice(2)}`
      expect((await callNode(b, 'POST', '/api/messages', { to: aliceId, text: marker })).json.message.state).toBe('delivered')
      expect((await callNode(a, 'POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
      await waitFor('the message that came while locked', async () => lines().some((l) => l.text === marker))
      expect(lines().filter((l) => l.text === marker)).toHaveLength(1)
      expect(lines()).toHaveLength(before + 1)
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.exitCode !== null ? resolve(null) : child.once('close', resolve))
    }
  })
})

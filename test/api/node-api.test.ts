/** The API of a real running node, over HTTP: locks, idle timeout, throttled unlocks (A1, A7, L2). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let n: TestNode
const call = async (method: string, path: string, body?: unknown, token = n.node.token): Promise<{ status: number, json: any }> => {
  const res = await fetch(`http://127.0.0.1:${n.node.apiPort}${path}`, {
    method,
    headers: { ...(token === '' ? {} : { Authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, json: await res.json().catch(() => ({})) }
}

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

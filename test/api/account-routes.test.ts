/**
 * "Account and settings" (docs/API.md) on a real node over HTTP: changing the passphrase and
 * showing the recovery phrase again, both behind the current passphrase and the unlock
 * throttle (A7); the web UI's settings fields, validated and kept in config.json.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uiSettingsChange } from '../../node/api/account-routes.js'
import { accountDir } from '../../node/store/account.js'
import { CONFIG_FILE } from '../../node/daemon/settings.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, type TestNode } from '../helpers/nodes.js'

const NEXT = 'the next passphrase'
let n: TestNode
let phrase = ''
/** The node's clock runs this far ahead of the real one: a test waits out the throttle by moving it. */
let skew = 0

const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> => await apiCall(n, method, path, body)
const keyfile = async (): Promise<string> => await readFile(join(accountDir(n.dataDir), 'keyfile.json'), 'utf8')
/** Moves the node's clock past any unlock wait. */
const waitOutThrottle = (): void => { skew += 61_000 }

beforeAll(async () => {
  n = await startTestNode({ now: () => Date.now() + skew })
  phrase = (await n.node.controller.createAccount(TEST_PASSPHRASE)).phrase
})
afterAll(async () => { await n.node.stop() })

describe('account endpoints', () => {
  it('POST /api/account/phrase shows the phrase after the passphrase; a wrong one is 401 and throttled like unlock', async () => {
    const right = await call('POST', '/api/account/phrase', { passphrase: TEST_PASSPHRASE })
    expect(right.status).toBe(200)
    expect(right.json).toEqual({ phrase })

    const wrong = await call('POST', '/api/account/phrase', { passphrase: 'not the passphrase' })
    expect(wrong.status).toBe(401)
    expect(wrong.json.error.code).toBe('ERR_WRONG_PASSPHRASE')
    expect(wrong.json.phrase).toBeUndefined()
    // The same throttle as unlock: the right passphrase now waits, here and at /api/unlock.
    for (const [path, body] of [['/api/account/phrase', { passphrase: TEST_PASSPHRASE }], ['/api/unlock', { passphrase: TEST_PASSPHRASE }]] as const) {
      const throttled = await call('POST', path, body)
      expect(throttled.status, path).toBe(429)
      expect(throttled.json.error.code).toBe('ERR_UNLOCK_THROTTLED')
      expect(throttled.json.error.retryAfterMs).toBeGreaterThan(0)
    }
    waitOutThrottle()
    expect((await call('POST', '/api/account/phrase', { passphrase: TEST_PASSPHRASE })).json).toEqual({ phrase })
  })

  it('POST /api/account/passphrase rewrites keyfile.json only; a wrong current one is 401, throttled, and changes nothing', async () => {
    const before = await keyfile()
    const wrong = await call('POST', '/api/account/passphrase', { current: 'not the passphrase', next: NEXT })
    expect(wrong.status).toBe(401)
    expect(wrong.json.error.code).toBe('ERR_WRONG_PASSPHRASE')
    expect(await keyfile()).toBe(before)
    const throttled = await call('POST', '/api/account/passphrase', { current: TEST_PASSPHRASE, next: NEXT })
    expect(throttled.status).toBe(429)
    expect(await keyfile()).toBe(before)
    waitOutThrottle()

    const changed = await call('POST', '/api/account/passphrase', { current: TEST_PASSPHRASE, next: NEXT })
    expect(changed.status).toBe(200)
    expect(changed.json).toEqual({})
    expect(await keyfile()).not.toBe(before)
    // The account stayed open; after a lock only the new passphrase unlocks it.
    expect((await call('GET', '/api/contacts')).status).toBe(200)
    await call('POST', '/api/lock')
    expect((await call('POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })).json.error.code).toBe('ERR_WRONG_PASSPHRASE')
    waitOutThrottle()
    expect((await call('POST', '/api/unlock', { passphrase: NEXT })).status).toBe(200)
    // And back, for the tests after this one.
    expect((await call('POST', '/api/account/passphrase', { current: NEXT, next: TEST_PASSPHRASE })).status).toBe(200)
  })

  it('bad input is a 400 with a code, and changes nothing', async () => {
    const before = await keyfile()
    const cases: Array<[string, unknown, string]> = [
      ['/api/account/passphrase', { current: TEST_PASSPHRASE }, 'ERR_BAD_REQUEST'],
      ['/api/account/passphrase', { current: TEST_PASSPHRASE, next: 42 }, 'ERR_BAD_REQUEST'],
      ['/api/account/passphrase', { current: TEST_PASSPHRASE, next: 'x'.repeat(1025) }, 'ERR_BAD_REQUEST'],
      ['/api/account/passphrase', { current: TEST_PASSPHRASE, next: 'short' }, 'ERR_PASSPHRASE_TOO_SHORT'],
      ['/api/account/passphrase', { current: TEST_PASSPHRASE, next: TEST_PASSPHRASE }, 'ERR_SAME_PASSPHRASE'],
      ['/api/account/phrase', {}, 'ERR_BAD_REQUEST'],
      ['/api/account/phrase', { passphrase: ['x'] }, 'ERR_BAD_REQUEST']
    ]
    for (const [path, body, code] of cases) {
      const r = await call('POST', path, body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.json.error.code, JSON.stringify(body)).toBe(code)
    }
    expect(await keyfile()).toBe(before)
    // None of them counted as a guess: the right passphrase goes through at once.
    expect((await call('POST', '/api/account/phrase', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
  })

  it('while locked both answer 423 and check no passphrase', async () => {
    await call('POST', '/api/lock')
    const before = await keyfile()
    for (const [path, body] of [['/api/account/phrase', { passphrase: TEST_PASSPHRASE }], ['/api/account/passphrase', { current: TEST_PASSPHRASE, next: NEXT }]] as const) {
      const r = await call('POST', path, body)
      expect(r.status, path).toBe(423)
      expect(r.json.error.code).toBe('ERR_LOCKED')
    }
    expect(await keyfile()).toBe(before)
    expect((await call('POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
  })
})

describe('settings: theme and notifications', () => {
  it('default to the system theme and notifications on', async () => {
    const s = await call('GET', '/api/settings')
    expect(s.status).toBe(200)
    expect(s.json).toMatchObject({ theme: 'system', notifications: true })
  })

  it('uiSettingsChange takes valid fields and refuses others with ERR_BAD_REQUEST', () => {
    expect(uiSettingsChange({})).toEqual({})
    expect(uiSettingsChange({ theme: 'dark', notifications: false, idleLockMinutes: 3 })).toEqual({ theme: 'dark', notifications: false })
    for (const body of [{ theme: 'blue' }, { theme: 1 }, { theme: null }, { notifications: 'yes' }, { notifications: 0 }]) {
      expect(() => uiSettingsChange(body), JSON.stringify(body)).toThrow(expect.objectContaining({ status: 400, code: 'ERR_BAD_REQUEST' }))
    }
  })

  it('PUT /api/settings keeps them in config.json, across a restart; a bad value is 400 and changes nothing', async () => {
    const put = await call('PUT', '/api/settings', { theme: 'dark', notifications: false })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ theme: 'dark', notifications: false })
    const bad = await call('PUT', '/api/settings', { theme: 'sepia', idleLockMinutes: 5 })
    expect(bad.status).toBe(400)
    expect(bad.json.error.code).toBe('ERR_BAD_REQUEST')
    const stored = JSON.parse(await readFile(join(n.dataDir, CONFIG_FILE), 'utf8'))
    expect(stored).toMatchObject({ theme: 'dark', notifications: false, idleLockMinutes: 15 })
    await n.restart({ passphrase: TEST_PASSPHRASE })
    expect((await call('GET', '/api/settings')).json).toMatchObject({ theme: 'dark', notifications: false })
  })
})

/**
 * Acceptance: the browser stays signed in across a node restart. The node is a child process
 * of the real bin (`sotto start`), signed into through its printed link with a cookie jar of
 * our own (what a browser keeps), restarted on the same data folder: the old cookie is still
 * a session (423 while locked, not 401), unlocking with it works, and `sotto open` prints a
 * new link without opening any browser.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OPEN_PAGE_FILE } from '../../cli/browser.js'
import { SESSIONS_FILE } from '../../node/daemon/sessions-file.js'
import { runSotto, tempDir } from '../helpers/cli.js'
import { startSotto, stopAllSotto, type SottoProcess } from '../helpers/sotto-process.js'

const PASS = 'restart e2e passphrase'
let root: { path: string, remove: () => Promise<void> }
let dataDir = ''
let sessionId = ''

beforeAll(async () => {
  root = await tempDir('sotto-e2e-restart-')
  dataDir = join(root.path, 'data')
  const init = await runSotto(['init', '--json', '--data-dir', dataDir], { env: { SOTTO_PASSPHRASE: PASS } })
  expect(init.code, init.stderr).toBe(0)
  sessionId = JSON.parse(init.stdout).sessionId
})
afterAll(async () => {
  await stopAllSotto()
  await root.remove()
})

/** One browser's cookie jar: the session cookie, sent with each request as a browser would. */
class CookieJar {
  cookie: string | undefined
  async fetch (node: SottoProcess, path: string, init: { method?: string, body?: unknown } = {}): Promise<{ status: number, headers: Headers, json: any }> {
    const headers: Record<string, string> = {}
    if (this.cookie !== undefined) headers.Cookie = this.cookie
    if (init.body !== undefined) headers['Content-Type'] = 'application/json'
    // A browser sends its own origin with a POST (A3).
    if ((init.method ?? 'GET') !== 'GET') headers.Origin = `http://127.0.0.1:${node.apiPort}`
    const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), redirect: 'manual' })
    const set = res.headers.get('set-cookie')
    if (set !== null) this.cookie = set.split(';')[0]
    return { status: res.status, headers: res.headers, json: await res.json().catch(() => undefined) }
  }
}

describe('one app with the node', () => {
  it('a browser signed in before a restart is still signed in after it: locked (423), then unlocked with its passphrase', async () => {
    const browser = new CookieJar()
    const first = await startSotto({ dataDir, passphrase: PASS })
    const link = new URL(first.url)
    const signIn = await browser.fetch(first, link.pathname + link.search)
    expect(signIn.status).toBe(303)
    expect(browser.cookie).toMatch(/^sotto_session=[A-Za-z0-9_-]{43}$/)
    const before = await browser.fetch(first, '/api/status')
    expect(before.json).toMatchObject({ state: 'unlocked', sessionId })
    expect((await browser.fetch(first, '/api/contacts')).status).toBe(200)
    expect(await first.stop()).toBe(0)

    // The table survives in the data folder as hashes: no cookie in it.
    const file = join(dataDir, SESSIONS_FILE)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readFile(file, 'utf8')).not.toContain((browser.cookie ?? '').split('=')[1])

    // Restarted as `sotto start --locked` does: the account closed until the passphrase.
    const second = await startSotto({ dataDir, locked: true })
    const status = await browser.fetch(second, '/api/status')
    expect(status.status).toBe(200)
    expect(status.json.state).toBe('locked')
    expect(status.json.sessionId).toBeUndefined()
    const contacts = await browser.fetch(second, '/api/contacts')
    expect(contacts.status).toBe(423)
    expect(contacts.json.error.code).toBe('ERR_LOCKED')
    // A browser that never signed in is still refused outright.
    expect((await new CookieJar().fetch(second, '/api/status')).status).toBe(401)
    // The link printed by the first run ended with it; this browser is just sent on to the app.
    expect((await new CookieJar().fetch(second, link.pathname + link.search)).status).toBe(401)
    expect((await browser.fetch(second, link.pathname + link.search)).status).toBe(303)

    // Unlocking works with the old cookie, from our own origin (A3).
    const unlocked = await browser.fetch(second, '/api/unlock', { method: 'POST', body: { passphrase: PASS } })
    expect(unlocked.status).toBe(200)
    expect(unlocked.json).toEqual({ sessionId })
    expect((await browser.fetch(second, '/api/contacts')).status).toBe(200)
    expect((await browser.fetch(second, '/api/status')).json).toMatchObject({ state: 'unlocked', sessionId })

    // `sotto open`: a fresh link on stdout, no browser started (the test helpers set SOTTO_NO_BROWSER).
    // A display is set, so only SOTTO_NO_BROWSER keeps the browser closed: no page for an opener was written.
    const opened = await second.cli(['open'], { env: { DISPLAY: ':0' } })
    expect(opened.code, opened.stderr).toBe(0)
    expect(opened.stderr).toBe('')
    await expect(stat(join(dataDir, OPEN_PAGE_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    const fresh = new URL(opened.stdout.trim())
    expect(fresh.host).toBe(`127.0.0.1:${second.apiPort}`)
    const other = new CookieJar()
    expect((await other.fetch(second, fresh.pathname + fresh.search)).status).toBe(303)
    expect((await other.fetch(second, '/api/status')).json.state).toBe('unlocked')
    const again = await new CookieJar().fetch(second, fresh.pathname + fresh.search)
    expect(again.status).toBe(401)
    expect(again.json.error.code).toBe('ERR_LINK_USED')
    expect(await second.stop()).toBe(0)
  })
})

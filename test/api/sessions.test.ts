/**
 * Browser sessions that outlive the node's process: the session table kept in the data
 * folder (sessions.json, hashes only), its lifetime, its refresh, and what a restart keeps
 * (sessions) and drops (links). Real API servers over real HTTP on loopback.
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startApiServer, SESSION_LIFETIME_MS, SESSION_REFRESH_AFTER_MS, type ApiServer } from '../../node/api/server.js'
import { readSessions, sessionsFile, SESSIONS_FILE } from '../../node/daemon/sessions-file.js'
import { silentLogger } from '../../node/log.js'
import { tempDir } from '../helpers/cli.js'
import { rememberTempDir } from '../helpers/temp-dirs.js'

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuv'
const DAY = 24 * 60 * 60 * 1000
const servers: ApiServer[] = []
afterEach(async () => { await Promise.all(servers.splice(0).map(async (s) => { await s.close() })) })

async function dataDir (): Promise<string> {
  const d = await tempDir('sotto-sessions-')
  rememberTempDir(d)
  return d.path
}

/** A server as the daemon starts one: its sessions read from, and saved to, the data folder. */
async function serve (dir: string, now: () => number = Date.now): Promise<ApiServer> {
  const server = await startApiServer({
    token: TOKEN,
    logger: silentLogger.forComponent('api'),
    routes: [{ method: 'GET', path: '/api/status', handler: async () => ({ state: 'locked' }) }],
    sessions: { initial: await readSessions(dir), persistence: sessionsFile(dir) },
    now
  })
  servers.push(server)
  return server
}

async function get (server: ApiServer, path: string, cookie?: string): Promise<Response> {
  return await fetch(`http://127.0.0.1:${server.port}${path}`, { redirect: 'manual', headers: cookie === undefined ? {} : { Cookie: cookie } })
}

/** Opens a link as a browser would and returns the session cookie (`sotto_session=…`). */
async function signIn (server: ApiServer): Promise<string> {
  const link = new URL(server.newLink())
  const res = await get(server, link.pathname + link.search)
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie') ?? ''
  expect(cookie).toMatch(/HttpOnly/)
  return cookie.split(';')[0]
}

describe('browser sessions across restarts', () => {
  it('a cookie issued before a restart is accepted after it; another data folder does not know it', async () => {
    const dir = await dataDir()
    const first = await serve(dir)
    const cookie = await signIn(first)
    expect((await get(first, '/api/status', cookie)).status).toBe(200)
    await first.close()

    const second = await serve(dir)
    expect((await get(second, '/api/status', cookie)).status).toBe(200)
    // A made-up cookie, and the same cookie at a node with another data folder: not signed in.
    expect((await get(second, '/api/status', 'sotto_session=' + 'A'.repeat(43))).status).toBe(401)
    const other = await serve(await dataDir())
    const refused = await get(other, '/api/status', cookie)
    expect(refused.status).toBe(401)
    expect((await refused.json()).error.code).toBe('ERR_UNAUTHORIZED')
  })

  it('sessions.json is 0600 and holds hashes of the cookies, never a cookie', async () => {
    const dir = await dataDir()
    const server = await serve(dir)
    const cookies = [await signIn(server), await signIn(server)]
    await server.close()
    const path = join(dir, SESSIONS_FILE)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const text = await readFile(path, 'utf8')
    expect(JSON.parse(text).sessions).toHaveLength(2)
    for (const c of cookies) expect(text).not.toContain(c.split('=')[1])
  })

  it('links end with the run: one printed before a restart signs nobody in after it (a signed-in browser is just sent on)', async () => {
    const dir = await dataDir()
    const first = await serve(dir)
    const cookie = await signIn(first)
    const unused = new URL(first.newLink())
    await first.close()
    const second = await serve(dir)
    const stale = await get(second, unused.pathname + unused.search)
    expect(stale.status).toBe(401)
    expect(stale.headers.get('set-cookie')).toBeNull()
    expect((await stale.json()).error.code).toBe('ERR_UNAUTHORIZED')
    const withCookie = await get(second, unused.pathname + unused.search, cookie)
    expect(withCookie.status).toBe(303)
    expect(withCookie.headers.get('location')).toBe('/')
    // A new link from the new run works, once.
    const fresh = new URL(second.newLink())
    expect((await get(second, fresh.pathname + fresh.search)).status).toBe(303)
    expect((await get(second, fresh.pathname + fresh.search)).status).toBe(401)
  })

  it('a session unused for its lifetime ends, and is dropped from the file; one in use is extended and its cookie sent again', async () => {
    expect(SESSION_LIFETIME_MS).toBe(30 * DAY)
    const dir = await dataDir()
    let clock = Date.now()
    const server = await serve(dir, () => clock)
    const idle = await signIn(server)
    const used = await signIn(server)

    // Within the first day: valid, nothing re-sent.
    clock += SESSION_REFRESH_AFTER_MS - 1000
    const early = await get(server, '/api/status', used)
    expect(early.status).toBe(200)
    expect(early.headers.get('set-cookie')).toBeNull()
    // Later on: extended, and the cookie comes again with the full lifetime.
    clock += 2 * DAY
    const later = await get(server, '/api/status', used)
    expect(later.status).toBe(200)
    expect(later.headers.get('set-cookie')).toBe(`${used}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_LIFETIME_MS / 1000}`)

    // 30 days after sign-in the idle session has ended; the used one lives on (extended 2 days in).
    clock += SESSION_LIFETIME_MS - 2 * DAY
    const ended = await get(server, '/api/status', idle)
    expect(ended.status).toBe(401)
    expect((await get(server, '/api/status', used)).status).toBe(200)
    await server.close()
    const saved = await readSessions(dir)
    expect(saved).toHaveLength(1)

    // After a restart the ended one stays ended.
    const again = await serve(dir, () => clock)
    expect((await get(again, '/api/status', idle)).status).toBe(401)
    expect((await get(again, '/api/status', used)).status).toBe(200)
  })

  it('a sessions.json that does not parse signs nobody in and does not stop the node', async () => {
    const dir = await dataDir()
    for (const text of ['not json', '{"v":2,"sessions":[]}', '{"v":1,"sessions":[{"hash":"x","expiresAt":"soon"}]}']) {
      await writeFile(join(dir, SESSIONS_FILE), text, { mode: 0o600 })
      expect(await readSessions(dir)).toEqual([])
      const server = await serve(dir)
      expect((await get(server, '/api/status', 'sotto_session=x')).status).toBe(401)
      await signIn(server)
      await server.close()
    }
  })
})

/** The real API server over real HTTP on loopback, with a small route table of its own. */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApiServer, type ApiServer } from '../../node/api/server.js'
import { createLogger, type LogRecord } from '../../node/log.js'

const TOKEN = 'test-token-0123456789abcdefghijklmnopqrstuv'
const records: LogRecord[] = []
let server: ApiServer
let posted: unknown[] = []

beforeAll(async () => {
  server = await startApiServer({
    token: TOKEN,
    logger: createLogger({ level: 'debug', sink: (r) => records.push(r) }).forComponent('api'),
    routes: [
      { method: 'GET', path: '/api/status', handler: async () => ({ state: 'unlocked' }) },
      { method: 'POST', path: '/api/messages', handler: async (req) => { posted.push(req.body); return { ok: true } } },
      { method: 'GET', path: '/api/boom', handler: async () => { throw new Error('secret internals') } }
    ]
  })
})
afterAll(async () => { await server.close() })

interface Reply { status: number, headers: Record<string, string | string[] | undefined>, body: string }

async function call (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers: { Host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      let data = ''
      res.on('data', (d) => { data += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }))
      // An event stream never ends: settle on its headers.
      if (res.headers['content-type'] === 'text/event-stream') { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }); req.destroy() }
    })
    req.on('error', reject)
    if (body !== undefined) req.write(body)
    req.end()
  })
}

const auth = { Authorization: `Bearer ${TOKEN}` }
const json = { 'Content-Type': 'application/json' }

describe('local API server', () => {
  it('A1: every API route, and the event stream, answers 401 without token or cookie', async () => {
    for (const [method, path] of [['GET', '/api/status'], ['POST', '/api/messages'], ['GET', '/api/events'], ['GET', '/api/nope'], ['GET', '/api/boom']]) {
      const r = await call(method, path, method === 'POST' ? json : {}, method === 'POST' ? '{}' : undefined)
      expect(r.status, `${method} ${path}`).toBe(401)
      expect(JSON.parse(r.body).error.code).toBe('ERR_UNAUTHORIZED')
    }
    expect((await call('GET', '/api/status', { Authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await call('GET', '/api/status', auth)).status).toBe(200)
    expect(posted).toEqual([])
  })

  it('A2: a Host other than the loopback name and port is refused (DNS rebinding)', async () => {
    for (const host of ['evil.example:' + String(server.port), '127.0.0.1:1', 'localhost', 'attacker.com']) {
      const r = await call('GET', '/api/status', { ...auth, Host: host })
      expect(r.status, host).toBe(421)
    }
    expect((await call('GET', '/api/status', { ...auth, Host: `localhost:${server.port}` })).status).toBe(200)
  })

  it('A3: a cross-origin POST or event stream is refused, with or without credentials, and no CORS header is sent', async () => {
    const evil = { Origin: 'http://evil.example' }
    const post = await call('POST', '/api/messages', { ...auth, ...json, ...evil }, '{"to":"x","text":"y"}')
    expect(post.status).toBe(403)
    const sse = await call('GET', '/api/events', { ...auth, ...evil })
    expect(sse.status).toBe(403)
    const sameSiteOther = await call('POST', '/api/messages', { ...auth, ...json, Origin: `http://127.0.0.1:${server.port + 1}` }, '{}')
    expect(sameSiteOther.status).toBe(403)
    expect(posted).toEqual([])
    for (const r of [post, sse]) expect(Object.keys(r.headers).some((h) => h.startsWith('access-control-'))).toBe(false)
    // A form post (no JSON) is refused even from our own origin.
    const form = await call('POST', '/api/messages', { ...auth, Origin: `http://127.0.0.1:${server.port}`, 'Content-Type': 'application/x-www-form-urlencoded' }, 'to=x')
    expect(form.status).toBe(415)
    const ok = await call('POST', '/api/messages', { ...auth, ...json, Origin: `http://127.0.0.1:${server.port}` }, '{"to":"x"}')
    expect(ok.status).toBe(200)
    expect(posted).toEqual([{ to: 'x' }])
    posted = []
  })

  it('A4: the token URL sets an HttpOnly SameSite=Strict cookie, redirects it away, and never reaches the log', async () => {
    const link = new URL(server.newLink())
    const r = await call('GET', link.pathname + link.search)
    expect(r.status).toBe(303)
    expect(r.headers.location).toBe('/')
    const cookie = String(r.headers['set-cookie'])
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(r.headers['referrer-policy']).toBe('no-referrer')
    const session = cookie.split(';')[0]
    expect((await call('GET', '/api/status', { Cookie: session })).status).toBe(200)
    // A cookie is not enough for a cross-site POST (A3 again, with the cookie).
    expect((await call('POST', '/api/messages', { Cookie: session, ...json, Origin: 'http://evil.example' }, '{}')).status).toBe(403)
    expect((await call('GET', '/?token=wrong')).status).toBe(401)
    await call('GET', '/api/boom', auth)
    expect(records.some((r) => r.message === 'request failed')).toBe(true)
    expect(JSON.stringify(records)).not.toContain(TOKEN)
    expect(JSON.stringify(records)).not.toContain(link.searchParams.get('token'))
  })

  it('A4: a link signs in once; opened again it answers 401 ERR_LINK_USED (a page for a browser); the CLI token is no link', async () => {
    const link = new URL(server.newLink())
    expect(link.host).toBe(`127.0.0.1:${server.port}`)
    const path = link.pathname + link.search
    const first = await call('GET', path)
    expect(first.status).toBe(303)
    const session = String(first.headers['set-cookie']).split(';')[0]
    expect((await call('GET', '/api/status', { Cookie: session })).status).toBe(200)

    // The same link again, from browser history or from anyone else: spent.
    const again = await call('GET', path)
    expect(again.status).toBe(401)
    expect(again.headers['set-cookie']).toBeUndefined()
    const error = JSON.parse(again.body).error
    expect(error.code).toBe('ERR_LINK_USED')
    expect(error.message).toBe('this link was already used; run `sotto open` for a new one')
    const page = await call('GET', path, { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' })
    expect(page.status).toBe(401)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.headers['content-security-policy']).toContain("default-src 'none'")
    expect(page.body).toContain('This link was already used')
    expect(page.body).toContain('sotto open')
    expect(page.body).not.toContain(link.searchParams.get('token'))
    // The browser that spent it, still signed in, is just sent on to the app (no new session).
    const mine = await call('GET', path, { Cookie: session })
    expect(mine.status).toBe(303)
    expect(mine.headers['set-cookie']).toBeUndefined()

    // The bearer token the CLI reads from api.json is not a link, and a made-up link is unknown.
    for (const token of [TOKEN, 'made-up-0123456789abcdefghijklmnopqrstuvw']) {
      const r = await call('GET', `/?token=${token}`)
      expect(r.status).toBe(401)
      expect(JSON.parse(r.body).error.code).toBe('ERR_UNAUTHORIZED')
      expect(r.headers['set-cookie']).toBeUndefined()
    }

    // Each new link is its own, good once.
    const links = [new URL(server.newLink()), new URL(server.newLink())]
    expect(links[0].href).not.toBe(links[1].href)
    for (const l of links) expect((await call('GET', l.pathname + l.search)).status).toBe(303)
    for (const l of links) expect((await call('GET', l.pathname + l.search)).status).toBe(401)
  })

  it('A4: POST /api/link gives the bearer (the CLI) a fresh one-time link; a browser session gets none', async () => {
    const r = await call('POST', '/api/link', { ...auth, ...json }, '{}')
    expect(r.status).toBe(200)
    const link = new URL(JSON.parse(r.body).url)
    expect(link.host).toBe(`127.0.0.1:${server.port}`)
    const signIn = await call('GET', link.pathname + link.search)
    expect(signIn.status).toBe(303)
    const session = String(signIn.headers['set-cookie']).split(';')[0]
    const fromBrowser = await call('POST', '/api/link', { Cookie: session, ...json, Origin: `http://127.0.0.1:${server.port}` }, '{}')
    expect(fromBrowser.status).toBe(403)
    expect(JSON.parse(fromBrowser.body).error.code).toBe('ERR_FORBIDDEN')
    expect((await call('POST', '/api/link', json, '{}')).status).toBe(401)
  })

  it('A5: responses carry a CSP that forbids inline script and outside sources', async () => {
    const r = await call('GET', '/api/status', auth)
    const csp = String(r.headers['content-security-policy'])
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(r.headers['x-content-type-options']).toBe('nosniff')
  })

  it('an internal error says nothing about internals', async () => {
    const r = await call('GET', '/api/boom', auth)
    expect(r.status).toBe(500)
    expect(r.body).not.toContain('secret internals')
  })

  it('refuses an oversized body before reading it', async () => {
    const r = await call('POST', '/api/messages', { ...auth, ...json, 'Content-Length': String(10 * 1024 * 1024) }, '')
    expect(r.status).toBe(413)
  })

  it('A6: refuses to bind to a non-loopback address without the explicit flag', async () => {
    await expect(startApiServer({ token: TOKEN, routes: [], logger: createLogger({ level: 'silent' }).forComponent('x'), host: '0.0.0.0' }))
      .rejects.toMatchObject({ code: 'ERR_API_BIND' })
  })
})

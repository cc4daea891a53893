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
    const r = await call('GET', `/?token=${TOKEN}`)
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

/**
 * The local HTTP API: one server for the web UI and the CLI, bound to loopback only (A6).
 * JSON in and out under /api/, Server-Sent Events at /api/events for live pushes, the web
 * UI's static files at /. Every /api/ request needs the API token (CLI: `Authorization:
 * Bearer`) or a session cookie (browser), which a one-time link is traded for; sessions are
 * kept across restarts when the caller gives a persistence (the daemon does). See docs/API.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join, resolve, sep } from 'node:path'
import type { ComponentLogger } from '../log.js'
import { SottoError } from '../errors.js'
import { ApiError } from './errors.js'
import { bearerToken, cookieValue, hostAllowed, LinkTable, originAllowed, SESSION_COOKIE, SessionTable, tokensEqual, type SessionPersistence, type StoredSession } from './auth.js'

/** Largest request body we read; anything bigger is refused before it is buffered. */
export const MAX_BODY_BYTES = 256 * 1024
/** A browser session unused for this long ends: the browser needs a new link (`sotto open`). */
export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000
/** A session in use is extended (its cookie sent again) at most once a day. */
export const SESSION_REFRESH_AFTER_MS = 24 * 60 * 60 * 1000
const MAX_SSE_CLIENTS = 32

export interface ApiRequest {
  method: string
  path: string
  params: Record<string, string>
  query: URLSearchParams
  body: unknown
  /** Raw routes only: the request, its body unread, and the response to write. */
  incoming?: IncomingMessage
  response?: ServerResponse
}

export type RouteHandler = (req: ApiRequest) => Promise<unknown>
/**
 * `raw`: the handler reads the body itself (a file upload, streamed rather than buffered as
 * JSON) and may write the response itself (a file download); the Host, Origin and token
 * checks apply as to every route.
 */
export interface Route { method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: RouteHandler, raw?: true }

export interface ApiServerInit {
  /** The API token for `Authorization: Bearer` (the CLI, via api.json); never valid in a URL. */
  token: string
  routes: Route[]
  logger: ComponentLogger
  host?: string
  port?: number
  /** Folder of the built web UI; omitted -> no UI is served. */
  staticDir?: string
  /** Allow a bind address that is not loopback (A6): needs this explicit flag, and warns. */
  allowNonLoopback?: boolean
  /**
   * Browser sessions from earlier runs and where to keep them (the daemon: sessions.json in
   * the data folder); omitted -> sessions last as long as this server.
   */
  sessions?: { initial: StoredSession[], persistence: SessionPersistence }
  now?: () => number
}

export interface ApiServer {
  readonly port: number
  /** A new one-time link (`http://HOST:PORT/?token=…`): it signs one browser in, once. */
  newLink: () => string
  /** Push an event to every connected /api/events client. */
  publish: (event: string, data: unknown) => void
  close: () => Promise<void>
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // Calls (node/calls) need the camera and microphone, for this origin only; the page asks
  // for them only when a call starts. Nothing else of the kind is ever used.
  'Permissions-Policy': 'camera=(self), microphone=(self), display-capture=(), geolocation=()',
  'Cache-Control': 'no-store'
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json'
}

export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const host = init.host ?? '127.0.0.1'
  const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost'
  if (!loopback && init.allowNonLoopback !== true) {
    throw new ApiError(500, 'ERR_API_BIND', `refusing to serve the API on ${host}: it is not a loopback address`)
  }
  if (!loopback) init.logger.warn('the local API is listening on a non-loopback address; anyone who can reach it and has the token controls this node')
  const sessions = new SessionTable({
    lifetimeMs: SESSION_LIFETIME_MS,
    refreshAfterMs: SESSION_REFRESH_AFTER_MS,
    initial: init.sessions?.initial,
    persistence: init.sessions?.persistence,
    onSaveError: (err) => { init.logger.warn('could not save the browser sessions; they end with this run', { code: (err as NodeJS.ErrnoException).code }) },
    now: init.now
  })
  const links = new LinkTable()
  // The host a printed link names: the bind address, or the IPv4 loopback for `::1`.
  const linkHost = host !== '::1' ? host : '127.0.0.1'
  const sseClients = new Set<ServerResponse>()
  let port = 0

  const compiled = init.routes.map((r) => ({ ...r, parts: r.path.split('/').filter(Boolean) }))

  function match (method: string, path: string): { route: Route, params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean)
    for (const r of compiled) {
      if (r.method !== method || r.parts.length !== parts.length) continue
      const params: Record<string, string> = {}
      let ok = true
      for (let i = 0; i < parts.length; i++) {
        if (r.parts[i].startsWith(':')) params[r.parts[i].slice(1)] = decodeURIComponent(parts[i])
        else if (r.parts[i] !== parts[i]) { ok = false; break }
      }
      if (ok) return { route: r, params }
    }
    return undefined
  }

  function authenticated (req: IncomingMessage, res: ServerResponse): boolean {
    const bearer = bearerToken(req)
    if (bearer !== undefined) return tokensEqual(bearer, init.token)
    return signedIn(req, res)
  }

  /** Whether the request's cookie names a live browser session. */
  function signedIn (req: IncomingMessage, res: ServerResponse): boolean {
    const id = cookieValue(req, SESSION_COOKIE)
    const check = sessions.check(id)
    // An extended session's cookie is sent again, so the browser keeps it as long as we do.
    if (check.valid && check.refreshed && id !== undefined) res.setHeader('Set-Cookie', sessionCookie(id))
    return check.valid
  }

  function sessionCookie (id: string): string {
    return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(sessions.lifetimeMs / 1000)}`
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v)
    const method = req.method ?? 'GET'
    if (!hostAllowed(req, port)) throw new ApiError(421, 'ERR_BAD_HOST', 'this API answers only to loopback host names')
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    const stateChanging = method !== 'GET' && method !== 'HEAD'
    if ((stateChanging || url.pathname === '/api/events') && !originAllowed(req, port)) {
      throw new ApiError(403, 'ERR_BAD_ORIGIN', 'cross-origin requests are refused')
    }

    // A one-time link: spend it for a session cookie, then drop it from the address bar.
    if (method === 'GET' && url.pathname === '/' && url.searchParams.has('token')) {
      const verdict = links.redeem(url.searchParams.get('token') ?? '')
      if (verdict === 'valid') {
        res.setHeader('Set-Cookie', sessionCookie(sessions.create()))
        res.writeHead(303, { Location: '/' }).end()
        return
      }
      // The browser that spent it (back button, history) is signed in already: on to the app.
      if (signedIn(req, res)) { res.writeHead(303, { Location: '/' }).end(); return }
      if (verdict === 'used') refuseLink(req, res, 'ERR_LINK_USED', 'this link was already used; run `sotto open` for a new one', 'This link was already used')
      else refuseLink(req, res, 'ERR_UNAUTHORIZED', 'this link is not valid for this node (links end when the node stops); run `sotto open` for a new one', 'This link is not valid')
      return
    }

    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      if (!authenticated(req, res)) throw new ApiError(401, 'ERR_UNAUTHORIZED', 'a token or session is required')
      if (url.pathname === '/api/events' && method === 'GET') { openEventStream(req, res); return }
      if (url.pathname === '/api/link' && method === 'POST') {
        // A session must not mint more sessions: a page running in it could hand them out.
        if (bearerToken(req) === undefined) throw new ApiError(403, 'ERR_FORBIDDEN', 'new links are for the command line (sotto open)')
        await readJsonBody(req)
        sendJson(res, 200, { url: newLink() })
        return
      }
      const found = match(method, url.pathname)
      if (found === undefined) throw new ApiError(404, 'ERR_NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`)
      const raw = found.route.raw === true
      const body = stateChanging && !raw ? await readJsonBody(req) : undefined
      const result = await found.route.handler({ method, path: url.pathname, params: found.params, query: url.searchParams, body, ...(raw ? { incoming: req, response: res } : {}) })
      if (res.headersSent || res.writableEnded) return
      sendJson(res, 200, result ?? { ok: true })
      return
    }

    if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'ERR_METHOD', 'method not allowed')
    await serveStatic(url.pathname, res)
  }

  function newLink (): string {
    return `http://${linkHost}:${port}/?token=${links.issue()}`
  }

  async function serveStatic (pathname: string, res: ServerResponse): Promise<void> {
    if (init.staticDir === undefined) throw new ApiError(404, 'ERR_NOT_FOUND', 'no web UI in this build')
    let rel = 'index.html'
    try {
      if (pathname !== '/') rel = decodeURIComponent(pathname.slice(1))
    } catch {
      throw new ApiError(400, 'ERR_BAD_PATH', 'the path is not valid percent-encoding')
    }
    // resolve() drops a trailing separator, so the folder may be given with or without one.
    const root = resolve(init.staticDir)
    const full = resolve(root, rel)
    if (!full.startsWith(root + sep)) throw new ApiError(404, 'ERR_NOT_FOUND', 'not found')
    let bytes: Buffer
    let type = MIME[extname(full)]
    try {
      bytes = await readFile(full)
    } catch {
      // Client-side routes fall back to the app shell.
      if (extname(full) !== '') throw new ApiError(404, 'ERR_NOT_FOUND', 'not found')
      bytes = await readFile(join(root, 'index.html'))
      type = MIME['.html']
    }
    res.writeHead(200, { 'Content-Type': type ?? 'application/octet-stream', 'Content-Length': bytes.length }).end(bytes)
  }

  function openEventStream (req: IncomingMessage, res: ServerResponse): void {
    if (sseClients.size >= MAX_SSE_CLIENTS) throw new ApiError(503, 'ERR_TOO_MANY_STREAMS', 'too many event streams open')
    res.writeHead(200, { 'Content-Type': 'text/event-stream', Connection: 'keep-alive' })
    res.write(': connected\n\n')
    sseClients.add(res)
    const keepAlive = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.on('close', () => { clearInterval(keepAlive); sseClients.delete(res) })
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const { status, code, message } = describeError(err)
      // The path only, never the query: the one-time URL carries the token (A4).
      if (status === 500) init.logger.error('request failed', { path: (req.url ?? '').split('?')[0], code })
      if (!res.headersSent) {
        const body: Record<string, unknown> = { code, message }
        const retry = (err as { retryAfterMs?: unknown }).retryAfterMs
        if (typeof retry === 'number') body.retryAfterMs = retry
        sendJson(res, status, { error: body })
      } else res.end()
    })
  })
  server.on('clientError', (_err, socket) => { socket.destroy() })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.address()
  port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    port,
    newLink,
    publish (event, data) {
      // No browser or `inbox --follow` listening (a busy node often has none): nothing to encode.
      if (sseClients.size === 0) return
      const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
      for (const client of sseClients) client.write(frame)
    },
    async close () {
      for (const client of sseClients) client.end()
      sseClients.clear()
      // The last save of the session table lands before the node reports it stopped.
      await sessions.flushed()
      sessions.clear()
      links.clear()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Statuses for the errors the layers below raise on purpose; anything else is a 500 with no detail. */
const STATUS_BY_CODE: Record<string, number> = {
  ERR_WRONG_PASSPHRASE: 401,
  ERR_UNKNOWN_CONTACT: 404,
  ERR_ACCOUNT_EXISTS: 409,
  ERR_NO_ACCOUNT: 409,
  ERR_LOCKED: 423,
  ERR_UNLOCK_THROTTLED: 429,
  ERR_UNLOCK_BUSY: 429
}

function describeError (err: unknown): { status: number, code: string, message: string } {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message }
  if (err instanceof SottoError) return { status: STATUS_BY_CODE[err.code] ?? 400, code: err.code, message: err.message }
  return { status: 500, code: 'ERR_INTERNAL', message: 'internal error' }
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': bytes.length }).end(bytes)
}

/**
 * A link that signs nobody in: a short page for a browser that navigated to it (it says what
 * to do, under the same CSP as everything else), the usual JSON error for anything else.
 */
function refuseLink (req: IncomingMessage, res: ServerResponse, code: string, message: string, title: string): void {
  if (!(req.headers.accept ?? '').includes('text/html')) { sendJson(res, 401, { error: { code, message } }); return }
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sotto: ${title.toLowerCase()}</title><link rel="stylesheet" href="/app.css"></head>
<body><main class="card"><h1>${title}</h1>
<p>Each link Sotto prints signs in one browser, once. For a new link, run <code>sotto open</code> on this computer, then open the link it prints.</p>
</main></body></html>
`
  const bytes = Buffer.from(page)
  res.writeHead(401, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': bytes.length }).end(bytes)
}

async function readJsonBody (req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0')
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, 'ERR_BODY_TOO_LARGE', 'request body too large')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'ERR_BODY_TOO_LARGE', 'request body too large')
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return {}
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/json')) throw new ApiError(415, 'ERR_CONTENT_TYPE', 'send JSON (Content-Type: application/json)')
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ApiError(400, 'ERR_BAD_JSON', 'the body is not valid JSON')
  }
}

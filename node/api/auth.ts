/**
 * Who may talk to the local API. Two kinds of secret, never the same value:
 * - the API token, stored 0600 in api.json for the CLI (`Authorization: Bearer`): it proves
 *   the caller can read the user's files, and it is never put in a URL;
 * - one-time links (`/?token=…`), printed by `sotto start` and `sotto open`: a browser trades
 *   one for an HttpOnly, SameSite=Strict session cookie, and the link is spent by that, so a
 *   copy in the browser history or a terminal's scrollback opens nothing later (A4).
 * Independently of that:
 * - Host must be a loopback name with our port (DNS rebinding, A2);
 * - a state-changing request or a WebSocket/SSE upgrade from a browser must carry our own
 *   Origin (cross-site requests, A3); no CORS header is ever sent.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export const SESSION_COOKIE = 'sotto_session'
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]']

export function newToken (): string {
  return randomBytes(32).toString('base64url')
}

export function tokensEqual (a: string, b: string): boolean {
  // Hash first so lengths match and the comparison time says nothing about the token.
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

export function allowedHosts (port: number): Set<string> {
  return new Set(LOOPBACK_NAMES.map((h) => `${h}:${port}`))
}

export function allowedOrigins (port: number): Set<string> {
  return new Set(LOOPBACK_NAMES.map((h) => `http://${h}:${port}`))
}

export function hostAllowed (req: IncomingMessage, port: number): boolean {
  const host = req.headers.host
  return host !== undefined && allowedHosts(port).has(host.toLowerCase())
}

/** A request without Origin comes from a non-browser client (the CLI); a browser always sends it on POST. */
export function originAllowed (req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return req.headers['sec-fetch-site'] === undefined || req.headers['sec-fetch-site'] === 'same-origin' || req.headers['sec-fetch-site'] === 'none'
  return allowedOrigins(port).has(origin.toLowerCase())
}

export function bearerToken (req: IncomingMessage): string | undefined {
  const h = req.headers.authorization
  if (h === undefined || !h.startsWith('Bearer ')) return undefined
  return h.slice('Bearer '.length).trim()
}

export function cookieValue (req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}

/** Browser sessions: random ids, expire after an idle time (A7's idle lock applies on top). */
export class SessionTable {
  private readonly sessions = new Map<string, number>()
  constructor (private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  create (): string {
    const id = randomBytes(32).toString('base64url')
    this.sessions.set(id, this.now())
    return id
  }

  /** True and refreshed if the session exists and has not been idle too long. */
  touch (id: string | undefined): boolean {
    if (id === undefined) return false
    const last = this.sessions.get(id)
    if (last === undefined) return false
    if (this.now() - last > this.maxAgeMs) { this.sessions.delete(id); return false }
    this.sessions.set(id, this.now())
    return true
  }

  clear (): void { this.sessions.clear() }
}

export type LinkVerdict = 'valid' | 'used' | 'unknown'

/**
 * One-time link tokens. Only SHA-256 hashes are kept, of the links not yet used and of the
 * last spent ones (so a spent link can be told apart from a wrong one); both tables are
 * bounded, the oldest entry going first.
 */
export class LinkTable {
  private readonly pending = new Set<string>()
  private readonly spent = new Set<string>()

  constructor (private readonly maxPending = 32, private readonly maxSpent = 256) {}

  issue (): string {
    const token = newToken()
    this.pending.add(hashToken(token))
    if (this.pending.size > this.maxPending) this.pending.delete(this.pending.values().next().value as string)
    return token
  }

  /** Spends the link if it is valid: a second call with the same token says 'used'. */
  redeem (token: string): LinkVerdict {
    const hash = hashToken(token)
    if (this.pending.delete(hash)) {
      this.spent.add(hash)
      if (this.spent.size > this.maxSpent) this.spent.delete(this.spent.values().next().value as string)
      return 'valid'
    }
    return this.spent.has(hash) ? 'used' : 'unknown'
  }

  clear (): void {
    this.pending.clear()
    this.spent.clear()
  }
}

function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

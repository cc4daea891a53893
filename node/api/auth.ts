/**
 * Who may talk to the local API. Two kinds of secret, never the same value:
 * - the API token, stored 0600 in api.json for the CLI (`Authorization: Bearer`): it proves
 *   the caller can read the user's files, and it is never put in a URL;
 * - one-time links (`/?token=…`), printed by `sotto start` and `sotto open`: a browser trades
 *   one for an HttpOnly, SameSite=Strict session cookie, and the link is spent by that, so a
 *   copy in the browser history or a terminal's scrollback opens nothing later (A4).
 * Sessions outlive the node's process (sessions.json keeps their hashes), links do not.
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

/** A stored session: the SHA-256 of its cookie value (never the value) and when it ends. */
export interface StoredSession { hash: string, expiresAt: number }

/**
 * Where the session table is kept between runs (the daemon: `<data dir>/sessions.json`,
 * 0600). Only hashes are stored, so a copy of the file signs nobody in.
 */
export interface SessionPersistence {
  save: (sessions: StoredSession[]) => Promise<void>
}

export interface SessionTableOptions {
  /** A session unused for this long ends (the browser must open a new link). */
  lifetimeMs: number
  /** A used session is extended (and its cookie sent again) once this much of its lifetime has passed. */
  refreshAfterMs: number
  /** At most this many sessions; the one closest to its end goes first. */
  max?: number
  /** The sessions kept from an earlier run; expired ones are dropped. */
  initial?: StoredSession[]
  persistence?: SessionPersistence
  /** Told when saving the table failed: the sessions still work for this run. */
  onSaveError?: (err: unknown) => void
  now?: () => number
}

/** What a cookie is worth: not a session, or a session (with a new expiry to send when extended). */
export type SessionCheck = { valid: false } | { valid: true, refreshed: boolean }

/**
 * Browser sessions: random 256-bit ids in an HttpOnly cookie; the table holds their hashes
 * and expiry times. A session lives `lifetimeMs` from its last use (extended at most once per
 * `refreshAfterMs`, so a busy browser causes a write a day, not one per request). With a
 * persistence the table outlives the process: a browser stays signed in across restarts,
 * while the account itself stays locked until the passphrase is given (A7).
 */
export class SessionTable {
  private readonly sessions = new Map<string, number>()
  private readonly now: () => number
  private readonly max: number
  private saving: Promise<void> = Promise.resolve()

  constructor (private readonly options: SessionTableOptions) {
    this.now = options.now ?? Date.now
    this.max = options.max ?? 64
    const t = this.now()
    for (const s of options.initial ?? []) if (s.expiresAt > t) this.sessions.set(s.hash, s.expiresAt)
    this.evict()
  }

  get lifetimeMs (): number { return this.options.lifetimeMs }

  create (): string {
    const id = randomBytes(32).toString('base64url')
    this.sessions.set(hashToken(id), this.now() + this.options.lifetimeMs)
    this.evict()
    this.persist()
    return id
  }

  /** Whether the cookie value names a live session; a session used late in its life is extended. */
  check (id: string | undefined): SessionCheck {
    if (id === undefined || id === '') return { valid: false }
    const hash = hashToken(id)
    const expiresAt = this.sessions.get(hash)
    if (expiresAt === undefined) return { valid: false }
    const t = this.now()
    if (t >= expiresAt) {
      this.sessions.delete(hash)
      this.persist()
      return { valid: false }
    }
    if (expiresAt - t > this.options.lifetimeMs - this.options.refreshAfterMs) return { valid: true, refreshed: false }
    this.sessions.set(hash, t + this.options.lifetimeMs)
    this.persist()
    return { valid: true, refreshed: true }
  }

  /** True if the cookie value names a live session (see check). */
  touch (id: string | undefined): boolean {
    return this.check(id).valid
  }

  /** Forgets the sessions in memory only (the node is stopping); the stored table stays. */
  clear (): void { this.sessions.clear() }

  /** Resolves once every save begun so far has ended. */
  async flushed (): Promise<void> { await this.saving }

  private evict (): void {
    if (this.sessions.size <= this.max) return
    const byEnd = [...this.sessions.entries()].sort((a, b) => a[1] - b[1])
    for (const [hash] of byEnd.slice(0, this.sessions.size - this.max)) this.sessions.delete(hash)
  }

  /** Saves run one after another, each with the table as it was when asked for, so the last one wins. */
  private persist (): void {
    const persistence = this.options.persistence
    if (persistence === undefined) return
    const table = [...this.sessions.entries()].map(([hash, expiresAt]) => ({ hash, expiresAt }))
    this.saving = this.saving
      .then(async () => { await persistence.save(table) })
      .catch((err: unknown) => { this.options.onSaveError?.(err) })
  }
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

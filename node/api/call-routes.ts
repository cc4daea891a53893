/**
 * The call endpoints (docs/API.md "Calls"): the node relays signalling between its UI and the
 * contact's node; the media goes browser to browser. Incoming offers, answers, candidates and
 * endings reach the UI as `call` and `call-candidates` events.
 */
import { ApiError, withStatus as withStatusOf } from './errors.js'
import type { Route } from './server.js'
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import type { CallManager } from '../calls/call-manager.js'
import type { IceServer } from '../calls/settings.js'
import { CALL_ID_RE } from '../calls/signal.js'

export interface CallRoutesInit {
  /** The unlocked account's calls (423 ERR_LOCKED otherwise). */
  calls: () => CallManager
  /** The ICE servers for the UI's connections: this node's STUN (--stun) and the TURN setting. */
  iceServers: () => Promise<IceServer[]>
}

/** Statuses for the call layer's codes (the rest are 400, see server.ts). */
const STATUS: Record<string, number> = { ERR_UNKNOWN_CALL: 404, ERR_CALL_STATE: 409, ERR_CALL_BUSY: 409, ERR_NOT_CONTACT: 409, ERR_CALL_UNAVAILABLE: 503 }

function field (body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined
}

function callId (value: string): string {
  if (!CALL_ID_RE.test(value)) throw new ApiError(400, 'ERR_BAD_REQUEST', 'a call id is 32 hex digits')
  return value
}

function sessionId (value: unknown): SessionId {
  if (typeof value !== 'string' || value.length > 200) throw new ApiError(400, 'ERR_BAD_REQUEST', '"to" is a Session ID')
  try {
    return parseSessionId(value)
  } catch (err) {
    throw new ApiError(400, (err as { code: string }).code, (err as Error).message)
  }
}

async function withStatus<T> (work: Promise<T>): Promise<T> {
  return await withStatusOf(work, STATUS)
}

export function callRoutes (init: CallRoutesInit): Route[] {
  return [
    { method: 'GET', path: '/api/calls/config', handler: async () => { init.calls(); return { iceServers: await init.iceServers() } } },
    {
      method: 'GET',
      path: '/api/calls',
      handler: async (req) => {
        const peer = req.query.get('peer')
        if (peer === null) return { calls: init.calls().current() }
        return { calls: await init.calls().history(sessionId(peer)) }
      }
    },
    {
      method: 'POST',
      path: '/api/calls',
      handler: async (req) => {
        const to = sessionId(field(req.body, 'to'))
        const video = field(req.body, 'video') ?? false
        if (typeof video !== 'boolean') throw new ApiError(400, 'ERR_BAD_REQUEST', '"video" is true or false')
        return { call: await withStatus(init.calls().start(to, { video, sdp: field(req.body, 'sdp') })) }
      }
    },
    { method: 'GET', path: '/api/calls/:id', handler: async (req) => ({ call: await withStatus(Promise.resolve().then(() => init.calls().get(callId(req.params.id)))) }) },
    { method: 'POST', path: '/api/calls/:id/answer', handler: async (req) => ({ call: await withStatus(init.calls().answer(callId(req.params.id), field(req.body, 'sdp'))) }) },
    { method: 'POST', path: '/api/calls/:id/decline', handler: async (req) => ({ call: await withStatus(init.calls().decline(callId(req.params.id))) }) },
    { method: 'POST', path: '/api/calls/:id/hangup', handler: async (req) => ({ call: await withStatus(init.calls().hangup(callId(req.params.id))) }) },
    {
      method: 'POST',
      path: '/api/calls/:id/candidates',
      handler: async (req) => { await withStatus(init.calls().addCandidates(callId(req.params.id), field(req.body, 'candidates'))); return {} }
    }
  ]
}

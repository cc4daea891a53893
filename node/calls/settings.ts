/**
 * The call settings kept with the node's others (config.json): an optional TURN relay, which
 * the user enters (a coturn URL and its credentials). It is never needed on a LAN, and no
 * STUN or TURN server outside the user's own is ever used by default.
 */
import { SottoError } from '../errors.js'

export interface TurnServer { url: string, username: string, credential: string }
export interface CallSettings { turn: TurnServer | null }

export const DEFAULT_CALL_SETTINGS: CallSettings = { turn: null }

/** `turn:` or `turns:` then host[:port][?transport=udp|tcp] (RFC 7065), no spaces. */
const TURN_URL_RE = /^turns?:[A-Za-z0-9.\-[\]:]{1,253}(\?transport=(udp|tcp))?$/
const MAX_TURN_FIELD = 256

export class CallSettingsError extends SottoError {}

function field (body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined
}

function turnOf (raw: unknown): TurnServer | null {
  if (raw === null) return null
  const url = field(raw, 'url')
  const username = field(raw, 'username')
  const credential = field(raw, 'credential')
  if (typeof url !== 'string' || !TURN_URL_RE.test(url)) throw new CallSettingsError('ERR_BAD_REQUEST', 'turn.url is a turn: or turns: URL (turn:host:3478)')
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_TURN_FIELD) throw new CallSettingsError('ERR_BAD_REQUEST', `turn.username is 1 to ${MAX_TURN_FIELD} characters`)
  if (typeof credential !== 'string' || credential.length === 0 || credential.length > MAX_TURN_FIELD) throw new CallSettingsError('ERR_BAD_REQUEST', `turn.credential is 1 to ${MAX_TURN_FIELD} characters`)
  return { url, username, credential }
}

/** The call fields of a settings PUT body, checked: only those present; a wrong one throws ERR_BAD_REQUEST. */
export function callSettingsChange (body: unknown): Partial<CallSettings> {
  const turn = field(body, 'turn')
  return turn === undefined ? {} : { turn: turnOf(turn) }
}

/** The call fields as stored: anything malformed falls back to the default. */
export function storedCallSettings (raw: unknown): CallSettings {
  try {
    return { turn: turnOf(field(raw, 'turn') ?? null) }
  } catch {
    return { ...DEFAULT_CALL_SETTINGS }
  }
}

/** RTCIceServer as the browser takes it. */
export interface IceServer { urls: string[], username?: string, credential?: string }

/**
 * The ICE servers the UI gives its RTCPeerConnection: host candidates need none; this node's
 * STUN responder when it runs (--stun); the user's TURN relay when set. Nothing else, so no
 * packet goes to a server the user did not choose.
 */
export function iceServersOf (stun: { host: string, port: number } | undefined, settings: CallSettings): IceServer[] {
  const out: IceServer[] = []
  if (stun !== undefined) out.push({ urls: [`stun:${stun.host.includes(':') ? `[${stun.host}]` : stun.host}:${stun.port}`] })
  if (settings.turn !== null) out.push({ urls: [settings.turn.url], username: settings.turn.username, credential: settings.turn.credential })
  return out
}

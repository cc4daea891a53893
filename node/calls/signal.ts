/**
 * Call signalling as it travels inside the 1:1 Double Ratchet session (payload
 * `{ v: 1, t: 'call', call }`, docs/PROTOCOL.md §12): an offer, an answer, ICE candidates, a
 * hangup, a decline, a busy. It comes from a peer (authenticated by the ratchet, but a peer
 * can still lie), so every field is checked strictly and bounded; nothing else is kept.
 */
import { ParseError } from '../errors.js'
import { MAX_CANDIDATE_CHARS, MAX_CANDIDATES_PER_SIGNAL, MAX_MID_CHARS, MAX_SDP_CHARS } from './constants.js'

export const CALL_ID_RE = /^[0-9a-f]{32}$/

/** One ICE candidate, as RTCIceCandidateInit has it. */
export interface IceCandidate { candidate: string, sdpMid?: string, sdpMLineIndex?: number }

export type CallSignal =
  | { kind: 'offer', id: string, sdp: string, video: boolean, sentAt: number }
  | { kind: 'answer', id: string, sdp: string }
  | { kind: 'ice', id: string, candidates: IceCandidate[] }
  | { kind: 'hangup', id: string }
  | { kind: 'decline', id: string }
  | { kind: 'busy', id: string }

export type CallSignalKind = CallSignal['kind']

function bad (what: string): never {
  throw new ParseError(`bad call signal: ${what}`, 'ERR_PAYLOAD')
}

function isObject (raw: unknown): raw is Record<string, unknown> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw)
}

/** Only the fields a kind has: an unknown field is refused, so nothing unparsed rides along. */
function onlyFields (raw: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) bad(`unknown field ${JSON.stringify(k.slice(0, 32))}`)
}

export function parseSdp (raw: unknown): string {
  // An SDP is lines of printable ASCII (RFC 8866 §5): no control characters beyond CR and LF.
  // eslint-disable-next-line no-control-regex
  if (typeof raw !== 'string' || raw.length < 10 || raw.length > MAX_SDP_CHARS || !raw.startsWith('v=0') || /[^\x20-\x7e\r\n]/.test(raw)) bad('sdp')
  return raw
}

export function parseCandidates (raw: unknown): IceCandidate[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_CANDIDATES_PER_SIGNAL) bad('candidates')
  return raw.map((c: unknown) => {
    if (!isObject(c)) bad('candidate')
    onlyFields(c, ['candidate', 'sdpMid', 'sdpMLineIndex'])
    // An empty candidate is the end-of-candidates mark (RFC 8838 §4.4).
    // eslint-disable-next-line no-control-regex
    if (typeof c.candidate !== 'string' || c.candidate.length > MAX_CANDIDATE_CHARS || /[^\x20-\x7e]/.test(c.candidate)) bad('candidate')
    const out: IceCandidate = { candidate: c.candidate }
    if (c.sdpMid !== undefined && c.sdpMid !== null) {
      // eslint-disable-next-line no-control-regex
      if (typeof c.sdpMid !== 'string' || c.sdpMid.length > MAX_MID_CHARS || /[^\x21-\x7e]/.test(c.sdpMid)) bad('sdpMid')
      out.sdpMid = c.sdpMid
    }
    if (c.sdpMLineIndex !== undefined && c.sdpMLineIndex !== null) {
      if (!Number.isInteger(c.sdpMLineIndex) || (c.sdpMLineIndex as number) < 0 || (c.sdpMLineIndex as number) > 63) bad('sdpMLineIndex')
      out.sdpMLineIndex = c.sdpMLineIndex as number
    }
    return out
  })
}

export function parseCallSignal (raw: unknown): CallSignal {
  if (!isObject(raw)) bad('not an object')
  if (typeof raw.id !== 'string' || !CALL_ID_RE.test(raw.id)) bad('id')
  const id = raw.id
  switch (raw.kind) {
    case 'offer':
      onlyFields(raw, ['kind', 'id', 'sdp', 'video', 'sentAt'])
      if (typeof raw.video !== 'boolean') bad('video')
      if (!Number.isSafeInteger(raw.sentAt) || (raw.sentAt as number) < 0) bad('sentAt')
      return { kind: 'offer', id, sdp: parseSdp(raw.sdp), video: raw.video, sentAt: raw.sentAt as number }
    case 'answer':
      onlyFields(raw, ['kind', 'id', 'sdp'])
      return { kind: 'answer', id, sdp: parseSdp(raw.sdp) }
    case 'ice':
      onlyFields(raw, ['kind', 'id', 'candidates'])
      return { kind: 'ice', id, candidates: parseCandidates(raw.candidates) }
    case 'hangup':
    case 'decline':
    case 'busy':
      onlyFields(raw, ['kind', 'id'])
      return { kind: raw.kind, id }
    default:
      return bad('kind')
  }
}

/**
 * What travels inside an encrypted session message: a text (maybe quoting an earlier one), a
 * receipt for texts, the sender's profile, a request to delete the sender's own texts, or a
 * change of the conversation's disappearing-message timer.
 * Parsed strictly, since it comes from a peer (after decryption, but a peer can still lie).
 * JSON is fine here: it is inside the ratchet's AEAD and padded to a bucket.
 */
import { ParseError } from '../errors.js'
import { cleanName } from './contacts.js'
import { parseAttachmentRefs, type AttachmentRef } from '../attachments/refs.js'
import { validTimer, type TimerMode } from './timer.js'
import { parseCallSignal, type CallSignal } from '../calls/signal.js'

/** Longest text we send or accept (characters); the padding buckets are sized for it. */
export const MAX_TEXT_LENGTH = 8000
/** Most message ids one receipt (or one delete) may name. */
export const MAX_RECEIPT_IDS = 100
/** Characters of a quoted text carried in a reply. */
export const MAX_QUOTE_LENGTH = 200
/** A profile name longer than this is refused before it is even cleaned. */
const MAX_RAW_PROFILE_NAME = 256
const ID_RE = /^[0-9a-f]{32}$/

export type ReceiptKind = 'delivered' | 'read'

/** The message a text replies to, as the sender saw it. */
export interface ReplyTo { id: string, text: string }

/**
 * The conversation's timer as the sender had it when it sent a text (docs/PROTOCOL.md §12):
 * mode "off" too, so a receiver behind on the setting learns of a newer version.
 */
export interface TextTimer { mode: TimerMode, seconds: number, version: number }

/** A text may carry files (node/attachments): then its text may be empty. */
export type TextPayload = { v: 1, t: 'text', id: string, sentAt: number, text: string, replyTo?: ReplyTo, attachments?: AttachmentRef[], timer?: TextTimer }
/** A change of the conversation's disappearing-message timer (node/messaging/timer.ts). */
export type TimerPayload = { v: 1, t: 'timer', mode: TimerMode, seconds: number, version: number, changedAt: number }
export type ProfilePayload = { v: 1, t: 'profile', name: string | null, version: number }
/** Call signalling (node/calls/signal.ts, parsed strictly there): sent directly only, never via a mailbox. */
export type CallPayload = { v: 1, t: 'call', call: CallSignal }

/**
 * Group control (node/groups): a signed group state or a sender key, carried inside the 1:1
 * session so it inherits its secrecy (G8). Here only its shape is checked (an object of
 * bounded size); node/groups/control.ts parses it strictly inside the same commit.
 */
export type GroupControlPayload = { v: 1, t: 'group', group: Record<string, unknown> }
/** Longest group control object, as JSON (a state of 100 members is about 7 KB encoded). */
export const MAX_GROUP_CONTROL_CHARS = 32 * 1024

export type Payload =
  | TextPayload
  | GroupControlPayload
  | { v: 1, t: 'receipt', kind: ReceiptKind, ids: string[] }
  | ProfilePayload
  | { v: 1, t: 'delete', ids: string[] }
  | TimerPayload
  | CallPayload

export function encodePayload (p: Payload): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(p))
}

export function decodePayload (bytes: Uint8Array): Payload {
  let raw: any
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new ParseError('a message payload is not valid JSON', 'ERR_PAYLOAD')
  }
  if (raw?.v !== 1) throw new ParseError('unknown payload version', 'ERR_PAYLOAD_VERSION')
  if (raw.t === 'text') {
    if (typeof raw.id !== 'string' || !ID_RE.test(raw.id)) throw new ParseError('bad message id', 'ERR_PAYLOAD')
    if (typeof raw.text !== 'string' || raw.text.length > MAX_TEXT_LENGTH) throw new ParseError('bad message text', 'ERR_PAYLOAD')
    if (!Number.isSafeInteger(raw.sentAt) || raw.sentAt < 0) throw new ParseError('bad timestamp', 'ERR_PAYLOAD')
    const text: TextPayload = { v: 1, t: 'text', id: raw.id, sentAt: raw.sentAt, text: raw.text }
    if (raw.replyTo !== undefined) text.replyTo = replyTo(raw.replyTo)
    if (raw.attachments !== undefined) text.attachments = parseAttachmentRefs(raw.attachments)
    if (raw.timer !== undefined) text.timer = textTimer(raw.timer)
    return text
  }
  if (raw.t === 'timer') {
    if (!validTimer(raw.mode, raw.seconds)) throw new ParseError('bad timer', 'ERR_PAYLOAD')
    if (!Number.isSafeInteger(raw.version) || raw.version < 1) throw new ParseError('bad timer version', 'ERR_PAYLOAD')
    if (!Number.isSafeInteger(raw.changedAt) || raw.changedAt < 0) throw new ParseError('bad timer time', 'ERR_PAYLOAD')
    return { v: 1, t: 'timer', mode: raw.mode, seconds: raw.seconds, version: raw.version, changedAt: raw.changedAt }
  }
  if (raw.t === 'call') return { v: 1, t: 'call', call: parseCallSignal(raw.call) }
  if (raw.t === 'receipt') {
    if (raw.kind !== 'delivered' && raw.kind !== 'read') throw new ParseError('bad receipt kind', 'ERR_PAYLOAD')
    return { v: 1, t: 'receipt', kind: raw.kind, ids: ids(raw.ids) }
  }
  if (raw.t === 'profile') {
    if (!Number.isSafeInteger(raw.version) || raw.version < 1) throw new ParseError('bad profile version', 'ERR_PAYLOAD')
    return { v: 1, t: 'profile', name: profileName(raw.name), version: raw.version }
  }
  if (raw.t === 'delete') return { v: 1, t: 'delete', ids: ids(raw.ids) }
  if (raw.t === 'group') {
    if (typeof raw.group !== 'object' || raw.group === null || Array.isArray(raw.group) || JSON.stringify(raw.group).length > MAX_GROUP_CONTROL_CHARS) throw new ParseError('bad group payload', 'ERR_PAYLOAD')
    return { v: 1, t: 'group', group: raw.group }
  }
  throw new ParseError('unknown payload type', 'ERR_PAYLOAD')
}

/** 1 to MAX_RECEIPT_IDS message ids, each 32 hex digits. */
function ids (raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_RECEIPT_IDS ||
      !raw.every((id: unknown) => typeof id === 'string' && ID_RE.test(id))) {
    throw new ParseError('bad message ids', 'ERR_PAYLOAD')
  }
  return [...raw] as string[]
}

function textTimer (raw: any): TextTimer {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParseError('bad timer', 'ERR_PAYLOAD')
  if (!validTimer(raw.mode, raw.seconds)) throw new ParseError('bad timer', 'ERR_PAYLOAD')
  if (!Number.isSafeInteger(raw.version) || raw.version < 1) throw new ParseError('bad timer version', 'ERR_PAYLOAD')
  return { mode: raw.mode, seconds: raw.seconds, version: raw.version }
}

function replyTo (raw: any): ReplyTo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParseError('bad reply', 'ERR_PAYLOAD')
  if (typeof raw.id !== 'string' || !ID_RE.test(raw.id)) throw new ParseError('bad reply id', 'ERR_PAYLOAD')
  if (typeof raw.text !== 'string' || raw.text.length > MAX_QUOTE_LENGTH) throw new ParseError('bad reply text', 'ERR_PAYLOAD')
  return { id: raw.id, text: raw.text }
}

/** null (no name) or a name that is still 1..64 characters after the same cleaning as ours. */
function profileName (raw: unknown): string | null {
  if (raw === null) return null
  if (typeof raw !== 'string' || raw.length > MAX_RAW_PROFILE_NAME) throw new ParseError('bad profile name', 'ERR_PAYLOAD')
  try {
    return cleanName(raw)
  } catch {
    throw new ParseError('bad profile name', 'ERR_PAYLOAD')
  }
}

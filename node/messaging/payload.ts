/**
 * What travels inside an encrypted session message: a text, or a receipt for texts. Parsed
 * strictly, since it comes from a peer (after decryption, but a peer can still lie).
 * JSON is fine here: it is inside the ratchet's AEAD and padded to a bucket.
 */
import { ParseError } from '../errors.js'

/** Longest text we send or accept (characters); the padding buckets are sized for it. */
export const MAX_TEXT_LENGTH = 8000
/** Most message ids one receipt may name. */
export const MAX_RECEIPT_IDS = 100
const ID_RE = /^[0-9a-f]{32}$/

export type ReceiptKind = 'delivered' | 'read'

export type Payload =
  | { v: 1, t: 'text', id: string, sentAt: number, text: string }
  | { v: 1, t: 'receipt', kind: ReceiptKind, ids: string[] }

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
    return { v: 1, t: 'text', id: raw.id, sentAt: raw.sentAt, text: raw.text }
  }
  if (raw.t === 'receipt') {
    if (raw.kind !== 'delivered' && raw.kind !== 'read') throw new ParseError('bad receipt kind', 'ERR_PAYLOAD')
    if (!Array.isArray(raw.ids) || raw.ids.length === 0 || raw.ids.length > MAX_RECEIPT_IDS ||
        !raw.ids.every((id: unknown) => typeof id === 'string' && ID_RE.test(id))) {
      throw new ParseError('bad receipt ids', 'ERR_PAYLOAD')
    }
    return { v: 1, t: 'receipt', kind: raw.kind, ids: [...raw.ids] }
  }
  throw new ParseError('unknown payload type', 'ERR_PAYLOAD')
}

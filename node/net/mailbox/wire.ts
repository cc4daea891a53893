/**
 * Byte layouts shared by both ends of /sotto/mailbox/1 and /2 (see protocol.ts for the
 * exchanges): request and reply codes, put statuses, and the batch put of /2. Bytes from
 * the network become typed values here, or a FrameError.
 */
import { concatBytes } from '../../bytes.js'
import { FrameError, FRAME_VERSION } from '../frames.js'
import { MAX_PUT_BATCH } from './constants.js'

export const OP = { put: 0x01, challenge: 0x02, fetch: 0x03, ack: 0x04, subscribe: 0x05, putBatch: 0x06 } as const
export const REPLY = 0x80
/** Append only: a status is its index on the wire. BATCH_TOO_LARGE answers only a batch put (/2). */
export const PUT_STATUS = ['ok', 'duplicate', 'TOO_LARGE', 'MAILBOX_FULL', 'NODE_FULL', 'RATE_LIMITED', 'BAD_REQUEST', 'DISABLED', 'SENDER_FULL', 'BATCH_TOO_LARGE'] as const
export type PutStatus = typeof PUT_STATUS[number]

export function u32 (n: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
export function u64 (n: number): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b }
export const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

/** One envelope of a put: where, for how long (whole seconds on the wire), what. */
export interface PutItem { mailbox: Uint8Array, ttlMs: number, envelope: Uint8Array }
/** The answer to one envelope of a put. */
export interface PutAnswer { status: PutStatus, expiresAt: number }

const MAILBOX_BYTES = 32
const ITEM_HEADER = MAILBOX_BYTES + 4 + 4
const ANSWER_BYTES = 1 + 8

/** `[v|0x06|count u16|(mailbox(32)|ttl s u32|len u32|envelope)*]` */
export function encodePutBatch (items: readonly PutItem[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(FRAME_VERSION, OP.putBatch, items.length >> 8, items.length & 0xff)]
  for (const it of items) parts.push(it.mailbox, u32(Math.floor(it.ttlMs / 1000)), u32(it.envelope.length), it.envelope)
  return concatBytes(...parts)
}

/** Bytes a batch of these envelopes takes on the wire (for splitting under MAX_PUT_BATCH_FRAME). */
export function putBatchBytes (envelopeBytes: number, count: number): number {
  return 1 + 1 + 2 + count * ITEM_HEADER + envelopeBytes
}

/**
 * A batch put's body after the version byte. `tooMany` when it names more than
 * MAX_PUT_BATCH envelopes (refused whole, nothing read); a body whose entries do not fill it
 * exactly is malformed (the stream is reset).
 */
export function decodePutBatch (body: Uint8Array): { tooMany: true } | { tooMany: false, items: PutItem[] } {
  if (body.length < 3 || body[0] !== OP.putBatch) throw new FrameError('ERR_MALFORMED', 'short batch put')
  const count = dv(body).getUint16(1)
  if (count > MAX_PUT_BATCH) return { tooMany: true }
  if (count === 0) throw new FrameError('ERR_MALFORMED', 'empty batch put')
  const items: PutItem[] = []
  let o = 3
  for (let n = 0; n < count; n++) {
    if (o + ITEM_HEADER > body.length) throw new FrameError('ERR_MALFORMED', 'truncated batch put')
    const len = dv(body).getUint32(o + MAILBOX_BYTES + 4)
    if (o + ITEM_HEADER + len > body.length) throw new FrameError('ERR_MALFORMED', 'truncated batch put')
    items.push({ mailbox: body.slice(o, o + MAILBOX_BYTES), ttlMs: dv(body).getUint32(o + MAILBOX_BYTES) * 1000, envelope: body.slice(o + ITEM_HEADER, o + ITEM_HEADER + len) })
    o += ITEM_HEADER + len
  }
  if (o !== body.length) throw new FrameError('ERR_MALFORMED', 'trailing bytes in batch put')
  return { tooMany: false, items }
}

/**
 * `[v|0x86|refusal u8|count u16|(status u8|expiresAt u64)*]`: refusal 0 (ok) when each
 * envelope is answered in order, else the status of the whole batch, with no answers.
 */
export function encodePutBatchReply (answers: readonly PutAnswer[], refusal: PutStatus = 'ok'): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(FRAME_VERSION, REPLY | OP.putBatch, PUT_STATUS.indexOf(refusal), answers.length >> 8, answers.length & 0xff)]
  for (const a of answers) parts.push(Uint8Array.of(PUT_STATUS.indexOf(a.status)), u64(a.expiresAt))
  return concatBytes(...parts)
}

/** A batch put reply's body after the version byte, for a batch of `expected` envelopes. */
export function decodePutBatchReply (body: Uint8Array, expected: number): PutAnswer[] {
  if (body.length < 4 || body[0] !== (REPLY | OP.putBatch)) throw new FrameError('ERR_PROTOCOL', 'not a batch put reply')
  const refusal = PUT_STATUS[body[1]]
  if (refusal === undefined) throw new FrameError('ERR_PROTOCOL', 'unknown put status')
  const count = dv(body).getUint16(2)
  if (refusal !== 'ok') {
    if (count !== 0) throw new FrameError('ERR_PROTOCOL', 'a refused batch with answers')
    return Array.from({ length: expected }, () => ({ status: refusal, expiresAt: 0 }))
  }
  if (count !== expected || body.length !== 4 + count * ANSWER_BYTES) throw new FrameError('ERR_PROTOCOL', 'batch put reply does not match the request')
  const out: PutAnswer[] = []
  for (let n = 0; n < count; n++) {
    const o = 4 + n * ANSWER_BYTES
    const status = PUT_STATUS[body[o]]
    if (status === undefined) throw new FrameError('ERR_PROTOCOL', 'unknown put status')
    out.push({ status, expiresAt: Number(dv(body).getBigUint64(o + 1)) })
  }
  return out
}

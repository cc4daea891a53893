/**
 * What Sotto keeps per contact: the current session state and a few archived ones (after a
 * new session replaced one, e.g. simultaneous initiation, H14), in a versioned binary form
 * stored under ['session', <peer Session ID>].
 *
 * Session state:
 *   u8 version 0x01 | local identity X25519 (32) | remote identity X25519 (32) | u64 createdAt
 *   | u8 flags (bit 0: initiator, bit 1: has base key, bit 2: has pending initial header)
 *   | [base key (32)] | [u16 len | pending initial header (pqxdh.ts) | u64 pending since]
 *   | ratchet state (ratchet/state.ts)
 * Record:
 *   u8 version 0x01 | u8 has-current | [u32 len | state] | u8 n (<= MAX_ARCHIVED_STATES) | n x (u32 len | state)
 * Unknown versions are a StateError: a state is never silently reset.
 */
import { MAX_ARCHIVED_STATES, MAX_SKIPPED_KEYS, SESSION_RECORD_VERSION } from './constants.js'
import { Reader, Writer } from './encoding.js'
import { StateError } from './errors.js'
import { decodeInitialHeader, encodeInitialHeader, type InitialHeader } from './pqxdh.js'
import { readRatchetState, writeRatchetState, type RatchetState } from './ratchet/state.js'

export interface SessionState {
  readonly localIdentity: Uint8Array
  readonly remoteIdentity: Uint8Array
  readonly createdAt: number
  /** True when we started this session (we are "Alice"). */
  readonly initiator: boolean
  /** The initiator's base key: identifies the session in repeated initial messages (H6). */
  readonly baseKey: Uint8Array | undefined
  /** Alice, until the peer answers: the PQXDH header every message repeats (PQXDH §3.3). */
  readonly pending: { readonly header: InitialHeader, readonly since: number } | undefined
  readonly ratchet: RatchetState
}

export interface SessionRecord {
  readonly current: SessionState | undefined
  /** Newest first. */
  readonly archived: readonly SessionState[]
}

export const EMPTY_RECORD: SessionRecord = { current: undefined, archived: [] }

function writeState (w: Writer, s: SessionState): void {
  w.u8(SESSION_RECORD_VERSION).bytes(s.localIdentity).bytes(s.remoteIdentity).u64(s.createdAt)
  const flags = (s.initiator ? 1 : 0) | (s.baseKey !== undefined ? 2 : 0) | (s.pending !== undefined ? 4 : 0)
  w.u8(flags)
  if (s.baseKey !== undefined) w.bytes(s.baseKey)
  if (s.pending !== undefined) w.var16(encodeInitialHeader(s.pending.header)).u64(s.pending.since)
  writeRatchetState(w, s.ratchet)
}

function readState (r: Reader): SessionState {
  if (r.u8() !== SESSION_RECORD_VERSION) r.fail('unknown session state version')
  const localIdentity = r.copy(32)
  const remoteIdentity = r.copy(32)
  const createdAt = r.u64()
  const flags = r.u8()
  if (flags > 7) r.fail('bad flags')
  const baseKey = (flags & 2) !== 0 ? r.copy(32) : undefined
  let pending: SessionState['pending']
  if ((flags & 4) !== 0) {
    const bytes = r.var16(4096)
    const { header, rest } = decodeInitialHeader(bytes)
    if (rest.length !== 0) r.fail('bad pending header')
    pending = { header, since: r.u64() }
  }
  const ratchet = readRatchetState(r)
  return { localIdentity, remoteIdentity, createdAt, initiator: (flags & 1) !== 0, baseKey, pending, ratchet }
}

export function encodeSessionRecord (record: SessionRecord): Uint8Array {
  const w = new Writer(1024)
  w.u8(SESSION_RECORD_VERSION)
  if (record.current === undefined) w.u8(0)
  else {
    w.u8(1)
    writeState(w, record.current)
  }
  if (record.archived.length > MAX_ARCHIVED_STATES) throw new RangeError('too many archived states')
  w.u8(record.archived.length)
  for (const s of record.archived) writeState(w, s)
  return w.finish()
}

export function decodeSessionRecord (bytes: Uint8Array): SessionRecord {
  try {
    const r = new Reader(bytes, 'session record', 'ERR_STATE')
    if (r.u8() !== SESSION_RECORD_VERSION) throw new StateError('session record (unknown version)', 'ERR_STATE_VERSION')
    const has = r.u8()
    if (has > 1) r.fail('bad flag')
    const current = has === 1 ? readState(r) : undefined
    const n = r.u8()
    if (n > MAX_ARCHIVED_STATES) r.fail('too many archived states')
    const archived: SessionState[] = []
    for (let i = 0; i < n; i++) archived.push(readState(r))
    r.end()
    return { current, archived }
  } catch (err) {
    if (err instanceof StateError) throw err
    throw new StateError('session record')
  }
}

/** Skipped keys across all states of a record; the cap of MAX_SKIPPED_KEYS applies to the sum (R13). */
export function capRecordSkipped (record: SessionRecord): SessionRecord {
  const states = [record.current, ...record.archived].filter((s): s is SessionState => s !== undefined)
  const total = states.reduce((n, s) => n + s.ratchet.skipped.length, 0)
  if (total <= MAX_SKIPPED_KEYS) return record
  // Evict the oldest keys first, across states.
  const all = states.flatMap((s, si) => s.ratchet.skipped.map((k) => ({ si, k })))
  all.sort((a, b) => a.k.storedAt - b.k.storedAt)
  const drop = new Set(all.slice(0, total - MAX_SKIPPED_KEYS).map((x) => x.k))
  const trim = (s: SessionState): SessionState => ({ ...s, ratchet: { ...s.ratchet, skipped: s.ratchet.skipped.filter((k) => !drop.has(k)) } })
  return { current: record.current === undefined ? undefined : trim(record.current), archived: record.archived.map(trim) }
}

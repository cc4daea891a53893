/**
 * The signed group state: id, name, members, admins, a version, and the admin who made this
 * version (with the state it was made from). Every change is a whole new state signed by its
 * author's identity key under its own context (K9); every member checks the signature and
 * that the author was an admin of the state the change was made from (G2), then applies it
 * if it wins: a higher version wins, and between equal versions the lower hash, so every
 * node that has seen the same states holds the same one (G5). A member may sign one change
 * without being an admin: its own leave (the state before, less itself).
 *
 * Encoding (signed bytes, big-endian):
 *   0x01 | id (32) | u16 len | name (UTF-8) | u16 n | n × member X25519 (32, sorted)
 *   | u16 m | m × admin X25519 (32, sorted) | u32 version | parent hash (32, zero for the first)
 *   | author X25519 (32) | author Ed25519 (32) | u64 createdAt
 * then the 64-byte Ed25519 signature over "Sotto/group-state/v1\0" || signed bytes.
 * hash = SHA-256("Sotto/group-state-hash/v1\0" || signed bytes): never over the signature (K7).
 */
import { createHash } from 'node:crypto'
import { concatBytes, equalBytes } from '../bytes.js'
import { matchesX25519 } from '../crypto/primitives/ed25519.js'
import { signEd25519, verifyEd25519Ctx } from './signing.js'
import type { IdentityKeys } from '../identity/keys.js'
import { parseSessionId, sessionIdToX25519, x25519ToSessionId, type SessionId } from '../identity/session-id.js'
import { cleanName } from '../messaging/contacts.js'
import { GROUP_STATE_CONTEXT, GROUP_STATE_HASH_CONTEXT, GROUP_STATE_VERSION, MAX_GROUP_MEMBERS } from './constants.js'
import { GroupError } from './errors.js'

export interface GroupState {
  /** 64 hex digits (32 random bytes). */
  id: string
  name: string
  members: SessionId[]
  admins: SessionId[]
  version: number
  /** Hash (hex) of the state this one was made from; '' for the first. */
  parent: string
  author: SessionId
  authorKey: Uint8Array
  createdAt: number
  signature: Uint8Array
}

export type UnsignedState = Omit<GroupState, 'authorKey' | 'signature' | 'author'>

const ZERO32 = new Uint8Array(32)
const sortIds = (ids: Iterable<SessionId>): SessionId[] => [...new Set(ids)].sort()

function u16 (n: number): Uint8Array { return Uint8Array.of(n >> 8, n & 0xff) }
function u32 (n: number): Uint8Array { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
function u64 (n: number): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b }

function hexBytes (hex: string, length: number, what: string): Uint8Array {
  if (hex.length !== length * 2 || !/^[0-9a-f]*$/.test(hex)) throw new GroupError('ERR_GROUP_STATE', `bad ${what}`)
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** The bytes the author signs. */
export function signedBytes (s: Omit<GroupState, 'signature'>): Uint8Array {
  const name = new TextEncoder().encode(s.name)
  return concatBytes(
    Uint8Array.of(GROUP_STATE_VERSION), hexBytes(s.id, 32, 'group id'),
    u16(name.length), name,
    u16(s.members.length), ...s.members.map(sessionIdToX25519),
    u16(s.admins.length), ...s.admins.map(sessionIdToX25519),
    u32(s.version), s.parent === '' ? ZERO32 : hexBytes(s.parent, 32, 'parent hash'),
    sessionIdToX25519(s.author), s.authorKey, u64(s.createdAt)
  )
}

export function stateHash (s: Omit<GroupState, 'signature'>): string {
  return createHash('sha256').update(GROUP_STATE_HASH_CONTEXT).update(signedBytes(s)).digest('hex')
}

export function encodeState (s: GroupState): Uint8Array {
  return concatBytes(signedBytes(s), s.signature)
}

/** Parses an encoded state strictly; the signature is checked here too (ERR_BAD_SIGNATURE). */
export function decodeState (bytes: Uint8Array): GroupState {
  const bad = (what: string): never => { throw new GroupError('ERR_GROUP_STATE', `malformed group state: ${what}`) }
  let o = 0
  const take = (n: number): Uint8Array => { if (o + n > bytes.length) bad('truncated'); const b = bytes.subarray(o, o + n); o += n; return b }
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)
  if (bytes.length > 16 * 1024) bad('too large')
  if (take(1)[0] !== GROUP_STATE_VERSION) throw new GroupError('ERR_UNKNOWN_VERSION', 'unknown group state version')
  const id = Buffer.from(take(32)).toString('hex')
  let name: string
  try { name = new TextDecoder('utf-8', { fatal: true }).decode(take(dv(take(2)).getUint16(0))) } catch { return bad('name') }
  const ids = (): SessionId[] => {
    const n = dv(take(2)).getUint16(0)
    if (n > MAX_GROUP_MEMBERS) bad('too many members')
    const out: SessionId[] = []
    for (let i = 0; i < n; i++) {
      try { out.push(parseSessionId(x25519ToSessionId(take(32)))) } catch { bad('member') }
    }
    return out
  }
  const members = ids()
  const admins = ids()
  const version = dv(take(4)).getUint32(0)
  const parentBytes = take(32)
  const parent = equalBytes(parentBytes, ZERO32) ? '' : Buffer.from(parentBytes).toString('hex')
  let author: SessionId
  try { author = parseSessionId(x25519ToSessionId(take(32))) } catch { return bad('author') }
  const authorKey = Uint8Array.from(take(32))
  const createdAt = Number(dv(take(8)).getBigUint64(0))
  const signature = Uint8Array.from(take(64))
  if (o !== bytes.length) bad('trailing bytes')
  const state: GroupState = { id, name, members, admins, version, parent, author, authorKey, createdAt, signature }
  checkShape(state)
  if (!matchesX25519(authorKey, sessionIdToX25519(author)) ||
      !verifyEd25519Ctx(authorKey, GROUP_STATE_CONTEXT, bytes.subarray(0, bytes.length - 64), signature)) {
    throw new GroupError('ERR_BAD_SIGNATURE', 'the group state is not signed by its author')
  }
  return state
}

/** Sorted, distinct, admins among members, a name, bounds. */
export function checkShape (s: Pick<GroupState, 'name' | 'members' | 'admins' | 'version' | 'id'>): void {
  if (!/^[0-9a-f]{64}$/.test(s.id)) throw new GroupError('ERR_GROUP_STATE', 'bad group id')
  if (s.version < 1) throw new GroupError('ERR_GROUP_STATE', 'bad version')
  if (cleanName(s.name, 'ERR_GROUP_NAME') !== s.name) throw new GroupError('ERR_GROUP_NAME', 'the group name is not clean')
  const sorted = (ids: SessionId[]) => ids.every((v, i) => i === 0 || ids[i - 1] < v)
  if (!sorted(s.members) || !sorted(s.admins)) throw new GroupError('ERR_GROUP_STATE', 'members and admins are sorted and distinct')
  if (s.members.length === 0 || s.members.length > MAX_GROUP_MEMBERS) throw new GroupError('ERR_GROUP_SIZE', `a group has 1 to ${MAX_GROUP_MEMBERS} members`)
  if (s.admins.length === 0 || !s.admins.every((a) => s.members.includes(a))) throw new GroupError('ERR_GROUP_STATE', 'admins are members, and there is one at least')
}

/** Signs a new state as `identity`. */
export function signState (unsigned: UnsignedState, identity: IdentityKeys): GroupState {
  const body = { ...unsigned, members: sortIds(unsigned.members), admins: sortIds(unsigned.admins), author: identity.sessionId, authorKey: identity.signingPublicKey }
  checkShape(body)
  return { ...body, signature: signEd25519(identity.signingSeed, GROUP_STATE_CONTEXT, signedBytes(body)) }
}

/** The state a removal, addition or leave makes from `current` (unsigned). */
export function nextState (current: GroupState, change: { members?: SessionId[], admins?: SessionId[], name?: string }, now: number): UnsignedState {
  return {
    id: current.id,
    name: change.name ?? current.name,
    members: sortIds(change.members ?? current.members),
    admins: sortIds(change.admins ?? current.admins),
    version: current.version + 1,
    parent: stateHash(current),
    createdAt: now
  }
}

/** Whether `candidate` should replace `current`: higher version, or equal version and lower hash (G5). */
export function wins (candidate: GroupState, current: GroupState): boolean {
  if (candidate.version !== current.version) return candidate.version > current.version
  return stateHash(candidate) < stateHash(current)
}

/**
 * Whether the author of `s` may make it from `base` (the state it names as parent, or our
 * current one when we do not have that): an admin of base, or a member of base leaving
 * (s = base less the author, admins kept but for the author; with no admin left, the
 * member with the lowest Session ID becomes one).
 */
export function authorised (s: GroupState, base: GroupState): boolean {
  if (s.id !== base.id) return false
  if (base.admins.includes(s.author)) return true
  if (!base.members.includes(s.author) || s.members.includes(s.author) || s.name !== base.name) return false
  const rest = base.members.filter((m) => m !== s.author)
  const admins = leaveAdmins(base, s.author)
  return rest.length === s.members.length && rest.every((m, i) => s.members[i] === m) &&
    admins.length === s.admins.length && admins.every((a, i) => s.admins[i] === a)
}

/** The admins after `who` leaves `base`: the rest, or the lowest remaining member when none is left. */
export function leaveAdmins (base: GroupState, who: SessionId): SessionId[] {
  const rest = base.members.filter((m) => m !== who)
  const admins = base.admins.filter((a) => a !== who)
  return admins.length > 0 || rest.length === 0 ? admins : [rest[0]]
}

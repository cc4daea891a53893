/**
 * The group records in the account's sealed store: each group's state (with recent earlier
 * states, for checking concurrent changes against their parent), its secrets by state, the
 * local view (accepted, request, removed, left; unread; last message), our own sender key and
 * each member's. Writes come back as StoreOps for the caller's batch.
 */
import type { SessionId } from '../identity/session-id.js'
import type { LastMessage } from '../messaging/contacts.js'
import type { TimerSetting } from '../messaging/timer.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { MAX_OLD_SENDER_KEYS, MAX_PENDING_PER_GROUP } from './constants.js'
import { decodeState, encodeState, stateHash, type GroupState } from './group-state.js'
import { loadSenderKey, storeSenderKey, type SenderKey, type StoredSenderKey } from './sender-key.js'

export type GroupLocalState = 'accepted' | 'request' | 'removed' | 'left'

export interface GroupSecret { stateHash: string, secret: string, since: number }

export interface GroupRecord {
  id: string
  /** Current state, encoded (base64). */
  state: string
  /** Recent earlier states and concurrent losers, encoded (base64), newest last. */
  history: string[]
  /** Secrets by the state that brought them, newest last; older than the retention dropped. */
  secrets: GroupSecret[]
  local: GroupLocalState
  unread: number
  lastMessageAt?: number
  lastMessage?: LastMessage
  joinedAt: number
  /** The last day (UTC day number) whose group mailbox was read. */
  collectedDay?: number
  /** The change of ours that lost to a concurrent one, to be made again on the winner (G5). */
  retry?: { remove?: SessionId, add?: SessionId }
  /** The group's disappearing-message timer (group-timer.ts); off while never set. */
  timer?: TimerSetting
}

export interface MemberKeys { current: StoredSenderKey, old: StoredSenderKey[] }
/** A group message kept aside (its key not here yet, or waiting for the catch-up); `live`: it came by gossip or direct, not from a mailbox. */
export interface PendingMessage { bytes: string, at: number, live?: boolean }

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')

export function stateOf (r: GroupRecord): GroupState {
  return decodeState(new Uint8Array(Buffer.from(r.state, 'base64')))
}

export function encodeStateB64 (s: GroupState): string { return b64(encodeState(s)) }

export function currentSecret (r: GroupRecord): Uint8Array | undefined {
  const hash = stateHash(stateOf(r))
  const found = r.secrets.find((s) => s.stateHash === hash) ?? r.secrets[r.secrets.length - 1]
  return found === undefined ? undefined : new Uint8Array(Buffer.from(found.secret, 'base64'))
}

export class GroupStore {
  constructor (private readonly store: SecureStore) {}

  async get (id: string): Promise<GroupRecord | undefined> {
    return await getJson<GroupRecord>(this.store, ['group', id])
  }

  async list (): Promise<GroupRecord[]> {
    const out: GroupRecord[] = []
    for await (const v of this.store.list(['group'])) out.push(JSON.parse(new TextDecoder().decode(v)) as GroupRecord)
    return out
  }

  /**
   * The write that stores a group. The text of a disappearing last message stays out of it
   * (the record has no short-lived key): it is read from the message's own row (LastMessage.timed).
   */
  putOp (r: GroupRecord): StoreOp {
    const stored = r.lastMessage?.timed === true ? { ...r, lastMessage: { ...r.lastMessage, text: '' } } : r
    return { type: 'put', key: ['group', r.id], value: jsonValue(stored) }
  }

  async ownKey (id: string): Promise<SenderKey | undefined> {
    const s = await getJson<StoredSenderKey>(this.store, ['group-own-key', id])
    return s === undefined ? undefined : loadSenderKey(s)
  }

  ownKeyOp (id: string, key: SenderKey | undefined): StoreOp {
    return key === undefined ? { type: 'del', key: ['group-own-key', id] } : { type: 'put', key: ['group-own-key', id], value: jsonValue(storeSenderKey(key)) }
  }

  async memberKeys (id: string, member: SessionId): Promise<MemberKeys | undefined> {
    return await getJson<MemberKeys>(this.store, ['group-key', id, member])
  }

  /** The writes that make `key` a member's current sender key (the previous one kept a little). */
  async memberKeyOps (id: string, member: SessionId, key: SenderKey): Promise<StoreOp[]> {
    const existing = await this.memberKeys(id, member)
    if (existing?.current.keyId === key.keyId || existing?.old.some((k) => k.keyId === key.keyId) === true) return []
    const old = existing === undefined ? [] : [...existing.old, existing.current].slice(-MAX_OLD_SENDER_KEYS)
    const dropped = existing === undefined ? [] : [...existing.old, existing.current].filter((k) => !old.includes(k))
    return [
      { type: 'put', key: ['group-key', id, member], value: jsonValue({ current: storeSenderKey(key), old }) },
      { type: 'put', key: ['group-key-index', key.keyId], value: jsonValue({ group: id, member }) },
      ...dropped.map((k): StoreOp => ({ type: 'del', key: ['group-key-index', k.keyId] }))
    ]
  }

  /** The write that stores one member key advanced (found by keyId among current and old). */
  updatedKeyOp (id: string, member: SessionId, keys: MemberKeys, key: SenderKey): StoreOp {
    const stored = storeSenderKey(key)
    const next: MemberKeys = keys.current.keyId === key.keyId
      ? { ...keys, current: stored }
      : { ...keys, old: keys.old.map((k) => k.keyId === key.keyId ? stored : k) }
    return { type: 'put', key: ['group-key', id, member], value: jsonValue(next) }
  }

  async dropMemberKeysOps (id: string, member: SessionId): Promise<StoreOp[]> {
    const existing = await this.memberKeys(id, member)
    if (existing === undefined) return []
    return [
      { type: 'del', key: ['group-key', id, member] },
      ...[existing.current, ...existing.old].map((k): StoreOp => ({ type: 'del', key: ['group-key-index', k.keyId] }))
    ]
  }

  async keyOwner (keyId: string): Promise<{ group: string, member: SessionId } | undefined> {
    return await getJson<{ group: string, member: SessionId }>(this.store, ['group-key-index', keyId])
  }

  async pending (id: string): Promise<PendingMessage[]> {
    return (await getJson<PendingMessage[]>(this.store, ['group-pending', id])) ?? []
  }

  pendingOp (id: string, list: PendingMessage[]): StoreOp {
    return list.length === 0 ? { type: 'del', key: ['group-pending', id] } : { type: 'put', key: ['group-pending', id], value: jsonValue(list.slice(-MAX_PENDING_PER_GROUP)) }
  }
}

/**
 * Finished calls, kept sealed in the account's store beside the conversation they belong to,
 * so a missed, declined or unavailable call leaves its line (GET /api/calls?peer=). Keys:
 * ['call', peer, endedAt, id]: the peer is a keyed hash on disk, the time keeps them in order.
 * Nothing of the call's media or SDP is kept: who, which way, when, how it ended.
 */
import type { SessionId } from '../identity/session-id.js'
import { jsonValue } from '../store/sealed-store.js'
import type { SecureStore } from '../store/types.js'
import { CALL_LOG_PAGE } from './constants.js'

const TABLE = 'call'

export type CallDirection = 'in' | 'out'
/**
 * How a call ended, from this side: `missed` (rang here, not answered), `declined` (by us, or
 * by them for our call), `busy` (they were in another call), `unavailable` (their device could
 * not be reached directly), `no-answer` (we gave up), `cancelled` (we hung up before an
 * answer), `hangup` (after talking), `failed` (an answer could not be delivered).
 */
export type EndReason = 'missed' | 'declined' | 'busy' | 'unavailable' | 'no-answer' | 'cancelled' | 'hangup' | 'failed'

export interface CallRecord {
  id: string
  peer: SessionId
  direction: CallDirection
  video: boolean
  reason: EndReason
  startedAt: number
  answeredAt?: number
  endedAt: number
}

export class CallLog {
  constructor (private readonly store: SecureStore) {}

  async add (record: CallRecord): Promise<void> {
    await this.store.put([TABLE, record.peer, record.endedAt, record.id], jsonValue(record))
  }

  /** The peer's latest finished calls, oldest first. */
  async of (peer: SessionId, limit = CALL_LOG_PAGE): Promise<CallRecord[]> {
    const out: CallRecord[] = []
    for await (const v of this.store.list([TABLE, peer], { reverse: true, limit })) out.push(JSON.parse(new TextDecoder().decode(v)) as CallRecord)
    return out.reverse()
  }

  /** Forgets a peer's calls (the contact and its conversation were deleted). */
  async removePeer (peer: SessionId): Promise<void> {
    const ops = []
    for await (const v of this.store.list([TABLE, peer])) {
      const r = JSON.parse(new TextDecoder().decode(v)) as CallRecord
      ops.push({ type: 'del' as const, key: [TABLE, peer, r.endedAt, r.id] as const })
    }
    if (ops.length > 0) await this.store.batch(ops)
  }
}

/**
 * Which disappearing messages are waiting for what, as records with no content (docs/PROTOCOL.md
 * §12): `expiry` rows, one per message whose clock runs, ordered by when it expires (numeric
 * key part), and `burn-wait` rows, one per after-read message whose clock has not started
 * (nobody read it yet). They also tell which short-lived keys are still needed: a message with
 * an expiry time is sealed under the key of its expiry hour, a waiting one under the current
 * "unread" key (rowSealer below).
 */
import { randomBytes } from 'node:crypto'
import type { SessionId } from '../identity/session-id.js'
import type { EphemeralKeys } from '../store/ephemeral-keys.js'
import { jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import type { Message, RowSealer } from './message-log.js'

export const HOUR_MS = 60 * 60 * 1000
/** Expired messages deleted per batch, so one sweep after a long time off stays bounded. */
export const MAX_EXPIRED_PER_BATCH = 200

export interface ExpiryEntry { peer: SessionId, id: string, at: number }

const ROW_AD = 'msg-row'
const UNREAD_PREFIX = 'unread-'

/** The short-lived key a message's row is sealed under: its expiry hour, or the unread key. */
export function hourBucket (at: number): string {
  return `h${Math.floor(at / HOUR_MS)}`
}

function unreadBucket (keys: EphemeralKeys): string {
  return keys.buckets().find((b) => b.startsWith(UNREAD_PREFIX)) ?? UNREAD_PREFIX + randomBytes(6).toString('hex')
}

export function rowSealer (keys: EphemeralKeys): RowSealer {
  return {
    seal: (m: Message, plaintext: Uint8Array) => keys.seal(m.expiresAt === undefined ? unreadBucket(keys) : hourBucket(m.expiresAt), plaintext, ROW_AD),
    open: (sealed) => keys.open(sealed, ROW_AD)
  }
}

export class ExpiryIndex {
  constructor (private readonly store: SecureStore) {}

  /** The message's clock runs: it goes at `at`. */
  expireOp (peer: SessionId, id: string, at: number): StoreOp {
    return { type: 'put', key: ['expiry', at, id], value: jsonValue({ peer, id, at } satisfies ExpiryEntry) }
  }

  doneOp (e: Pick<ExpiryEntry, 'id' | 'at'>): StoreOp {
    return { type: 'del', key: ['expiry', e.at, e.id] }
  }

  /** An after-read message waits for its first reading. */
  waitOp (peer: SessionId, id: string): StoreOp {
    return { type: 'put', key: ['burn-wait', peer, id], value: jsonValue({ peer, id }) }
  }

  unwaitOp (peer: SessionId, id: string): StoreOp {
    return { type: 'del', key: ['burn-wait', peer, id] }
  }

  /** Entries due at `now`, soonest first, at most `limit`. */
  async due (now: number, limit = MAX_EXPIRED_PER_BATCH): Promise<ExpiryEntry[]> {
    const out: ExpiryEntry[] = []
    for await (const value of this.store.list(['expiry'])) {
      const e = JSON.parse(new TextDecoder().decode(value)) as ExpiryEntry
      if (e.at > now || out.length >= limit) break
      out.push(e)
    }
    return out
  }

  /** When the next message expires, if any does. */
  async next (): Promise<number | undefined> {
    for await (const value of this.store.list(['expiry'], { limit: 1 })) return (JSON.parse(new TextDecoder().decode(value)) as ExpiryEntry).at
    return undefined
  }

  /** The writes that drop a peer's waiting messages (its conversation is removed). */
  async dropPeerOps (peer: SessionId): Promise<StoreOp[]> {
    const ops: StoreOp[] = []
    for await (const value of this.store.list(['burn-wait', peer])) ops.push(this.unwaitOp(peer, (JSON.parse(new TextDecoder().decode(value)) as { id: string }).id))
    return ops
  }

  /**
   * The short-lived keys still needed: the hour of every pending expiry, and the unread key
   * while any after-read message waits. Every other key may go.
   */
  async neededBuckets (keys: EphemeralKeys): Promise<Set<string>> {
    const needed = new Set<string>()
    for await (const value of this.store.list(['expiry'])) needed.add(hourBucket((JSON.parse(new TextDecoder().decode(value)) as ExpiryEntry).at))
    for await (const _ of this.store.list(['burn-wait'], { limit: 1 })) {
      for (const b of keys.buckets()) if (b.startsWith(UNREAD_PREFIX)) needed.add(b)
    }
    return needed
  }
}

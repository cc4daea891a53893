/**
 * The sender's outbox (R11): every sealed envelope stays on disk until some path
 * (direct delivery or at least one mailbox) acknowledges it, and is retried with backoff,
 * across restarts. The wire exchange lives in node/net; this is only the retry policy.
 */
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import type { DeliveryResult, EnvelopeTransport } from './ports.js'

/** First retry after this, doubling each time up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 2_000
export const MAX_BACKOFF_MS = 5 * 60_000
/** After this long an undelivered message is given up on (the mailboxes' own TTL). */
export const OUTBOX_GIVE_UP_MS = 14 * 24 * 60 * 60 * 1000

/**
 * What an entry carries: a text (its id is the message's), our profile, a request to delete
 * our texts (`ids`), a group control payload, or a change of the conversation's timer (rebuilt
 * from the contact's setting when sealed again). Entries written before kinds existed are texts.
 */
export type OutboxKind = 'text' | 'profile' | 'delete' | 'group' | 'timer'

export interface OutboxEntry {
  id: string
  peer: SessionId
  kind?: OutboxKind
  /** kind "delete": the messages it deletes, so it can be sealed again after a refusal. */
  ids?: string[]
  /** kind "group": the control payload (JSON), so it can be sealed again after a refusal. */
  group?: string
  envelope: string
  createdAt: number
  attempts: number
  nextAttemptAt: number
  /** Set once the envelope was sealed again after a refusal; a second refusal is final. */
  resealed?: boolean
  /**
   * A text sent under an after-send timer: when it disappears. No mailbox is asked to keep it
   * longer, and once past it the entry is dropped unsent.
   */
  expiresAt?: number
}

/** A mailbox keeps an envelope whole seconds (mailbox/protocol.ts): less than one left is nothing to keep. */
const MIN_MAILBOX_TTL_MS = 1000

export interface OutboxInit {
  store: SecureStore
  /**
   * The table its entries live in; default "outbox". Group messages keep theirs apart
   * (node/groups/group-delivery.ts), so the 1:1 outbox never hands them to a 1:1 transport.
   */
  table?: string
  transport: EnvelopeTransport
  logger: ComponentLogger
  now: () => number
  /**
   * Called when an entry's fate is known: delivered/stored (result.ok) or given up, with `drop`
   * (the entry's removal), which the owner commits in the same batch as what that fate changes:
   * a settled message is one write, not two.
   */
  onSettled: (entry: OutboxEntry, result: DeliveryResult, drop: StoreOp) => Promise<void>
  /**
   * The recipient refused the envelope (say, a one-time prekey another sender used first,
   * H5): a new envelope to try once instead, or undefined to give up.
   */
  onRefused?: (entry: OutboxEntry) => Promise<Uint8Array | undefined>
  /**
   * Seals an entry that was queued unsealed (`envelope` empty: its first seal failed, say no
   * prekey record was found yet): the envelope, or undefined to try again later.
   */
  seal?: (entry: OutboxEntry) => Promise<Uint8Array | undefined>
  /** An attempt failed and the entry stays queued (say, no mailbox peer could take it yet). */
  onAttemptFailed?: (entry: OutboxEntry, result: Extract<DeliveryResult, { ok: false }>) => Promise<void>
}

/** The transport's failure as an error code a person can be told about (Message.lastError). */
export function deliveryErrorCode (error: string): string {
  // Neither the device nor any mailbox peer took it: nothing near the mailbox can hold it yet.
  if (error === 'UNREACHABLE') return 'ERR_NO_MAILBOX_PEER'
  return error.startsWith('ERR_') ? error : `ERR_${error}`
}

export class Outbox {
  private timer: NodeJS.Timeout | undefined
  private running = false
  private readonly inFlight = new Set<string>()
  private readonly table: string

  constructor (private readonly init: OutboxInit) {
    this.table = init.table ?? 'outbox'
  }

  /** The write that queues an envelope; commit it in the same batch as the message. */
  queueOp (entry: OutboxEntry): StoreOp {
    return { type: 'put', key: [this.table, entry.id], value: jsonValue(entry) }
  }

  dropOp (id: string): StoreOp {
    return { type: 'del', key: [this.table, id] }
  }

  /** The writes that drop every queued entry for a peer. */
  async dropAllOps (peer: SessionId): Promise<StoreOp[]> {
    return (await this.entries()).filter((e) => e.peer === peer).map((e) => this.dropOp(e.id))
  }

  async entries (): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    for await (const v of this.init.store.list([this.table])) out.push(JSON.parse(new TextDecoder().decode(v)) as OutboxEntry)
    return out
  }

  /** Tries one entry now; on failure it stays queued with its next attempt time. */
  async attempt (entry: OutboxEntry, options: { signal?: AbortSignal } = {}): Promise<DeliveryResult> {
    if (this.inFlight.has(entry.id)) return { ok: false, error: 'IN_FLIGHT' }
    this.inFlight.add(entry.id)
    try {
      const ttlMs = entry.expiresAt === undefined ? undefined : entry.expiresAt - this.init.now()
      if (ttlMs !== undefined && ttlMs < MIN_MAILBOX_TTL_MS) {
        // Its time is (nearly) up: the messenger's expiry deletes the message; nothing is sent.
        await this.init.store.del([this.table, entry.id])
        return { ok: false, error: 'EXPIRED' }
      }
      const envelope = await this.envelopeOf(entry)
      const result: DeliveryResult = envelope === undefined
        ? { ok: false, error: 'ERR_NO_SESSION' }
        : await this.init.transport.deliver(entry.peer, envelope, { ...options, ...(ttlMs === undefined ? {} : { ttlMs }) })
      const now = this.init.now()
      if (result.ok) {
        await this.finish(entry, result)
        return result
      }
      const attempts = entry.attempts + 1
      if (result.error === 'REFUSED') {
        // A refused envelope will be refused again: seal it anew once, else give up.
        const again = entry.resealed === true || this.init.onRefused === undefined ? undefined : await this.init.onRefused(entry)
        if (again !== undefined) {
          const next: OutboxEntry = { ...entry, envelope: Buffer.from(again).toString('base64'), resealed: true, attempts, nextAttemptAt: now }
          await this.init.store.put([this.table, entry.id], jsonValue(next))
          this.inFlight.delete(entry.id)
          return await this.attempt(next, options)
        }
        await this.finish(entry, result)
        return result
      }
      if (now - entry.createdAt > OUTBOX_GIVE_UP_MS) {
        await this.finish(entry, result)
        return result
      }
      const current = await getJson<OutboxEntry>(this.init.store, [this.table, entry.id])
      if (current !== undefined) {
        const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** (attempts - 1), MAX_BACKOFF_MS)
        await this.init.store.put([this.table, entry.id], jsonValue({ ...current, attempts, nextAttemptAt: now + backoff }))
        await this.init.onAttemptFailed?.(entry, result)
      }
      return result
    } finally {
      this.inFlight.delete(entry.id)
    }
  }

  /** The entry leaves the queue, its removal committed by the owner with its fate. */
  private async finish (entry: OutboxEntry, result: DeliveryResult): Promise<void> {
    await this.init.onSettled(entry, result, this.dropOp(entry.id))
  }

  /** The entry's envelope, sealed now (and stored) if it was queued unsealed; undefined if it still cannot be. */
  private async envelopeOf (entry: OutboxEntry): Promise<Uint8Array | undefined> {
    if (entry.envelope !== '') return new Uint8Array(Buffer.from(entry.envelope, 'base64'))
    const sealed = await this.init.seal?.(entry)
    if (sealed === undefined) return undefined
    const current = await getJson<OutboxEntry>(this.init.store, [this.table, entry.id])
    if (current !== undefined) await this.init.store.put([this.table, entry.id], jsonValue({ ...current, envelope: Buffer.from(sealed).toString('base64') }))
    return sealed
  }

  /** Retries due entries every second until stop(). */
  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { void this.retryDue() }, 1000)
    this.timer.unref()
  }

  /** Retries everything now (e.g. when a peer connects). */
  async retryDue (force = false): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      const now = this.init.now()
      for (const entry of await this.entries()) {
        if (force || entry.nextAttemptAt <= now) await this.attempt(entry)
      }
    } catch (err) {
      this.init.logger.warn('outbox retry failed', { code: (err as { code?: string }).code ?? 'ERR_INTERNAL' })
    } finally {
      this.running = false
    }
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

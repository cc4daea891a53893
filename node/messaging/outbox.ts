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
 * What an entry carries: a text (its id is the message's), our profile, or a request to
 * delete our texts (`ids`). Entries written before kinds existed are texts.
 */
export type OutboxKind = 'text' | 'profile' | 'delete' | 'group'

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
}

export interface OutboxInit {
  store: SecureStore
  transport: EnvelopeTransport
  logger: ComponentLogger
  now: () => number
  /** Called when an entry's fate is known: delivered/stored (result.ok) or given up. */
  onSettled: (entry: OutboxEntry, result: DeliveryResult) => Promise<void>
  /**
   * The recipient refused the envelope (say, a one-time prekey another sender used first,
   * H5): a new envelope to try once instead, or undefined to give up.
   */
  onRefused?: (entry: OutboxEntry) => Promise<Uint8Array | undefined>
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

  constructor (private readonly init: OutboxInit) {}

  /** The write that queues an envelope; commit it in the same batch as the message. */
  queueOp (entry: OutboxEntry): StoreOp {
    return { type: 'put', key: ['outbox', entry.id], value: jsonValue(entry) }
  }

  dropOp (id: string): StoreOp {
    return { type: 'del', key: ['outbox', id] }
  }

  /** The writes that drop every queued entry for a peer. */
  async dropAllOps (peer: SessionId): Promise<StoreOp[]> {
    return (await this.entries()).filter((e) => e.peer === peer).map((e) => this.dropOp(e.id))
  }

  async entries (): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    for await (const v of this.init.store.list(['outbox'])) out.push(JSON.parse(new TextDecoder().decode(v)) as OutboxEntry)
    return out
  }

  /** Tries one entry now; on failure it stays queued with its next attempt time. */
  async attempt (entry: OutboxEntry, options: { signal?: AbortSignal } = {}): Promise<DeliveryResult> {
    if (this.inFlight.has(entry.id)) return { ok: false, error: 'IN_FLIGHT' }
    this.inFlight.add(entry.id)
    try {
      const result = await this.init.transport.deliver(entry.peer, new Uint8Array(Buffer.from(entry.envelope, 'base64')), options)
      const now = this.init.now()
      if (result.ok) {
        await this.init.store.del(['outbox', entry.id])
        await this.init.onSettled(entry, result)
        return result
      }
      const attempts = entry.attempts + 1
      if (result.error === 'REFUSED') {
        // A refused envelope will be refused again: seal it anew once, else give up.
        const again = entry.resealed === true || this.init.onRefused === undefined ? undefined : await this.init.onRefused(entry)
        if (again !== undefined) {
          const next: OutboxEntry = { ...entry, envelope: Buffer.from(again).toString('base64'), resealed: true, attempts, nextAttemptAt: now }
          await this.init.store.put(['outbox', entry.id], jsonValue(next))
          this.inFlight.delete(entry.id)
          return await this.attempt(next, options)
        }
        await this.init.store.del(['outbox', entry.id])
        await this.init.onSettled(entry, result)
        return result
      }
      if (now - entry.createdAt > OUTBOX_GIVE_UP_MS) {
        await this.init.store.del(['outbox', entry.id])
        await this.init.onSettled(entry, result)
        return result
      }
      const current = await getJson<OutboxEntry>(this.init.store, ['outbox', entry.id])
      if (current !== undefined) {
        const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** (attempts - 1), MAX_BACKOFF_MS)
        await this.init.store.put(['outbox', entry.id], jsonValue({ ...current, attempts, nextAttemptAt: now + backoff }))
        await this.init.onAttemptFailed?.(entry, result)
      }
      return result
    } finally {
      this.inFlight.delete(entry.id)
    }
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

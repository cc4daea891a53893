/**
 * Keeps the account's prekey record in the DHT: published when the account opens, again on
 * a timer, when the prekeys change (a one-time prekey used) and, until a put has reached a
 * peer, whenever a peer connects. One put at a time; a request during a put is folded in.
 */
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import type { SottoError } from '../errors.js'

/** How often the record is published again even when nothing changed. */
export const REPUBLISH_INTERVAL_MS = 10 * 60 * 1000

export interface RecordPublisherInit {
  sessionId: SessionId
  /** A freshly signed record for where the device is now. */
  currentRecord: () => Promise<Uint8Array>
  /** Puts the record; resolves with how many peers took it. */
  put: (sessionId: SessionId, record: Uint8Array) => Promise<{ peers: number }>
  log: ComponentLogger
  now: () => number
  onPublished: () => void
}

export class RecordPublisher {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private published: { at: number, record: Uint8Array } | undefined

  constructor (private readonly init: RecordPublisherInit) {}

  get publishedAt (): number | undefined { return this.published?.at }
  get record (): Uint8Array | undefined { return this.published?.record }

  /** Publishes now and then every REPUBLISH_INTERVAL_MS. */
  async start (): Promise<void> {
    this.timer = setInterval(() => { this.schedule() }, REPUBLISH_INTERVAL_MS)
    this.timer.unref()
    this.schedule()
    await this.running
  }

  /** Asks for a put soon; no-op while one runs. */
  schedule (): void {
    if (this.running !== undefined) return
    this.running = this.publish().finally(() => { this.running = undefined })
  }

  async stop (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.running
  }

  private async publish (): Promise<void> {
    try {
      const record = await this.init.currentRecord()
      const { peers } = await this.init.put(this.init.sessionId, record)
      // A put that reached no peer is not "published": retried when a peer connects.
      if (peers > 0) {
        this.published = { at: this.init.now(), record }
        this.init.log.info('prekey record published', { peers })
      }
      this.init.onPublished()
    } catch (err) {
      this.init.log.warn('could not publish the prekey record', { code: (err as SottoError).code ?? 'ERR_INTERNAL' })
    }
  }
}

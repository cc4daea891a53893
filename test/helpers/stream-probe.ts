/**
 * What the transport-limit tests share: a record of the codes a server logged when it reset
 * a stream, awaited by event (never on a timer); what a server did with a stream (answered,
 * ended, reset); and a libp2p peer with none of Sotto's limits on its side.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { FrameReader } from '../../node/net/frames.js'
import { createLogger, type Logger } from '../../node/log.js'

/** Reset codes a server logged, in order, and a way to wait for the next one or any other change. */
export class ResetLog {
  readonly codes: string[] = []
  private readonly changed = new EventTarget()
  /** A logger whose `resetMessage` records carry the FrameError code of a reset. */
  readonly logger: Logger

  constructor (resetMessage: string) {
    this.logger = createLogger({
      level: 'debug',
      sink: (r) => {
        if (r.message === resetMessage) { this.codes.push(String(r.fields?.code)); this.notify() }
      }
    })
  }

  /** Wakes whoever waits in `until` (also for changes other than resets). */
  notify (): void { this.changed.dispatchEvent(new Event('change')) }

  /** Resolves once `condition` holds; re-checked on every change, never on a timer. */
  async until (condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => this.changed.addEventListener('change', resolve, { once: true }))
  }

  /** The code of the reset logged after `index` earlier ones. */
  async code (index: number): Promise<string> {
    await this.until(() => this.codes.length > index)
    return this.codes[index]
  }
}

export type Outcome = { kind: 'reply', frame: Uint8Array } | { kind: 'end' } | { kind: 'reset' } | { kind: 'error', name: string, code?: string }

/** What the server did with this stream: answered a frame, ended it, or reset it. */
export async function outcome (stream: Stream, ms = 5000, reader = new FrameReader(stream, 2 * 1024 * 1024, ms)): Promise<Outcome> {
  try {
    const frame = await reader.read()
    return frame === undefined ? { kind: 'end' } : { kind: 'reply', frame: Uint8Array.from(frame) }
  } catch (err) {
    const e = err as { name: string, code?: string }
    return e.name === 'StreamResetError' ? { kind: 'reset' } : { kind: 'error', name: e.name, code: e.code }
  }
}

/** The `code` of what `fn` throws, or undefined when it does not throw. */
export function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

/** A peer that does not run Sotto's code: libp2p defaults, none of Sotto's limits on its side. */
export async function plainNode (): Promise<Libp2p> {
  return await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

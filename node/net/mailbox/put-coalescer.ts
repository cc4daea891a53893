/**
 * Sender side of batch puts: envelopes put on the same mailbox node within
 * PUT_COALESCE_WINDOW_MS of each other go out as one request (protocol.ts putEnvelopes: a
 * /sotto/mailbox/2 batch, or single puts with a node that speaks only /1), each caller still
 * getting its own envelope's answer. An outbox retrying a backlog for offline contacts puts
 * many envelopes on the same few nodes at once; one stream per envelope was most of a put's
 * cost on both sides.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { MAX_PUT_BATCH, PUT_COALESCE_WINDOW_MS } from './constants.js'
import { putEnvelopes, type PutItem, type PutOutcome } from './protocol.js'

interface Waiting { item: PutItem, resolve: (o: PutOutcome) => void }
interface Queue { peer: PeerId, waiting: Waiting[], timer: NodeJS.Timeout | undefined }

export class PutCoalescer {
  private readonly queues = new Map<string, Queue>()

  constructor (private readonly libp2p: Libp2p, private readonly windowMs = PUT_COALESCE_WINDOW_MS) {}

  /** Puts one envelope on `peer`, together with others put on it within the window. Never rejects. */
  async put (peer: PeerId, item: PutItem): Promise<PutOutcome> {
    return await new Promise<PutOutcome>((resolve) => {
      const key = peer.toString()
      let q = this.queues.get(key)
      if (q === undefined) {
        q = { peer, waiting: [], timer: undefined }
        this.queues.set(key, q)
      }
      q.waiting.push({ item, resolve })
      // A full batch goes at once; putEnvelopes splits it further by bytes.
      if (q.waiting.length >= MAX_PUT_BATCH) this.flush(key)
      else q.timer ??= setTimeout(() => { this.flush(key) }, this.windowMs)
    })
  }

  private flush (key: string): void {
    const q = this.queues.get(key)
    if (q === undefined) return
    this.queues.delete(key)
    clearTimeout(q.timer)
    const { peer, waiting } = q
    putEnvelopes(this.libp2p, peer, waiting.map((w) => w.item)).then(
      (outcomes) => { waiting.forEach((w, n) => { w.resolve(outcomes[n]) }) },
      () => { for (const w of waiting) w.resolve({ ok: false, error: 'PROTOCOL' }) }
    )
  }
}

/**
 * The coalescer of one node: puts from its outbox, groups and attachments meet in it. Held
 * per libp2p instance and dropped with it, so two nodes in one process never share one.
 */
const coalescers = new WeakMap<Libp2p, PutCoalescer>()
export function coalescerFor (libp2p: Libp2p): PutCoalescer {
  let c = coalescers.get(libp2p)
  if (c === undefined) {
    c = new PutCoalescer(libp2p)
    coalescers.set(libp2p, c)
  }
  return c
}

/** The bench's side of one mailbox worker process (compiled bench/lib/mailbox-worker.js). */
import { fileURLToPath } from 'node:url'
import type { MailboxBenchCommand } from './mailbox-protocol.js'
import { ForkedWorker } from './forked-worker.js'

const WORKER = fileURLToPath(new URL('./mailbox-worker.js', import.meta.url))

export class MailboxWorker extends ForkedWorker<MailboxBenchCommand> {
  constructor (readonly index: number) {
    super(WORKER, `worker ${index}`, { cmd: 'exit' }, { env: { BENCH_WORKER: String(index) } })
  }
}

/**
 * The bench's side of one attachments peer process (compiled bench/lib/att-peer.js), a
 * ForkedWorker run with --expose-gc ('mark' collects before taking the RSS baseline) and
 * BENCH_PEER_ARGS for more V8 flags (--trace-gc, …).
 */
import { fileURLToPath } from 'node:url'
import type { AttCommand } from './att-protocol.js'
import { ForkedWorker } from './forked-worker.js'

const PEER = fileURLToPath(new URL('./att-peer.js', import.meta.url))

export class PeerProcess extends ForkedWorker<AttCommand> {
  constructor (readonly role: string, env: NodeJS.ProcessEnv = {}) {
    super(PEER, role, { cmd: 'exit' }, {
      env: { ...env, BENCH_ROLE: role },
      execArgv: ['--expose-gc', ...(process.env.BENCH_PEER_ARGS ?? '').split(' ').filter((a) => a !== '')]
    })
  }
}

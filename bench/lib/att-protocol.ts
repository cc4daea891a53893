/**
 * IPC between bench/attachments.ts and its two peer processes (bench/lib/att-peer.ts): one
 * request per command, one reply with the same id, plain JSON.
 */

export type AttCommand =
  /** Bare libp2p node that counts what arrives on /bench/bare/1. */
  | { cmd: 'bareListen' }
  /** Resolves once `bytes` arrived on the bare listener. */
  | { cmd: 'bareWait', bytes: number }
  /** Bare libp2p node that dials `addrs` and writes `bytes` in 64 KiB pieces. */
  | { cmd: 'bareSend', addrs: string[], bytes: number }
  | { cmd: 'bareStop' }
  /** A Sotto node with a new account. */
  | { cmd: 'start', bootstrap: string[] }
  | { cmd: 'published' }
  | { cmd: 'addContact', sessionId: string, name: string }
  /** Collects garbage, then starts measuring RSS and CPU time. */
  | { cmd: 'mark' }
  /** The transfer starts: CPU time from here is reported apart, and the CPU profile starts (with BENCH_CPU_PROF; written at 'report'). */
  | { cmd: 'transfer' }
  | { cmd: 'send', to: string, attachmentId: string }
  /** Resolves once the attachment's record says "ready" (or after `timeoutMs`). */
  | { cmd: 'waitReady', id: string, timeoutMs: number }
  /** Stops measuring; answers with what was measured since 'mark'. */
  | { cmd: 'report' }
  | { cmd: 'exit' }

export interface AttRequest { id: number, command: AttCommand }
export type AttReply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

export interface Started { sessionId: string, apiPort: number, token: string, addresses: string[] }
export interface Measured {
  baseRss: number
  peakRss: number
  /** Growth of anonymous memory and of mapped files in RSS (peaks, each apart; Linux only, else NaN). */
  anonGrowth: number
  fileGrowth: number
  /** Peak RSS from 'mark' to 'transfer' (the upload). */
  uploadPeakRss: number
  /** User + system CPU time since 'mark', ms. */
  cpuMs: number
  /** The same since 'transfer'. */
  transferCpuMs: number
  /** Largest event-loop delay seen since 'mark', ms. */
  loopDelayMaxMs: number
}

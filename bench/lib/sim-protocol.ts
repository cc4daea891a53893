/**
 * The scale harness's IPC between the coordinator (bench/sim.ts) and its workers
 * (bench/lib/sim-worker.ts): one request per command, answered by one reply with the same id.
 * Every value is plain JSON (process.send serialises it).
 */

export interface WorkerConfig {
  /** This worker's number, for messages only. */
  worker: number
  /** Folder under which each node's data folder lives (`n<index>/data`); removed by the coordinator. */
  root: string
  /** Passphrase of every account in the run. */
  passphrase: string
  /** Delay before sealed "delivered" receipts, ms. */
  receiptDelayMs: number
  /** `silent` counts warnings and errors only; another level also writes them to stderr. */
  logLevel: 'silent' | 'debug' | 'info' | 'warn' | 'error'
}

export type Command =
  | { cmd: 'init', config: WorkerConfig }
  | { cmd: 'start', index: number, bootstrap: string[], passphrase?: boolean }
  | { cmd: 'createAccount', index: number }
  | { cmd: 'published', indices: number[] }
  | { cmd: 'usage' }
  /** A record lookup through `SottoNode.lookupRecord` (a verified DHT lookup). */
  | { cmd: 'lookup', index: number, target: string, timeoutMs: number }
  | { cmd: 'send', index: number, to: string, text: string, timeoutMs: number }
  | { cmd: 'stop', index: number }
  /** Starts the node again on its data folder (unlocked) and watches its inbox for `expect`. */
  | { cmd: 'restartAndWatch', index: number, bootstrap: string[], expect: string[], windowMs: number, settleMs: number }
  | { cmd: 'stopAll', timeoutMs: number }
  /** Exits the worker normally (after its reply), so `--cpu-prof` can write its profile. */
  | { cmd: 'exit' }

export interface Usage {
  rss: number
  /** process.cpuUsage(), µs. */
  cpu: { user: number, system: number }
  nodes: number
  /** /proc/self/io: bytes through read()/write() syscalls (sockets, files, IPC); NaN where there is none. */
  io: { rchar: number, wchar: number }
  /** Event-loop delay since the previous usage call (monitorEventLoopDelay), ms. */
  loopDelay: { p50: number, p99: number, max: number }
  /** Warnings and errors the nodes logged, "component: message" -> count. */
  logged: Record<string, number>
  /** Unhandled rejections and uncaught exceptions caught in the worker, first few messages. */
  faults: string[]
  faultCount: number
}

export interface StartResult { index: number, peerId: string, addresses: string[], ms: number }
export interface SendResult { state: string, ms: number, error?: string }
export interface LookupResult { found: boolean, ms: number, error?: string }
export interface WatchResult {
  index: number
  /** When the node was started again, wall clock (Date.now()). */
  restartAt: number
  /** How long startSottoNode took (unlock included). */
  startMs: number
  /** Per expected text: ms from the restart until it was first in the inbox, or null. */
  arrivalMs: Record<string, number | null>
  /** Per expected text: how many times it is in the inbox at the end. */
  count: Record<string, number>
}

export type Result = StartResult | SendResult | LookupResult | WatchResult | Usage | Record<string, boolean> | { sessionId: string } | { stopped: number } | null

export interface Request { id: number, command: Command }
export type Reply = { id: number, ok: true, result: Result } | { id: number, ok: false, error: string }

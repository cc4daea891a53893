/**
 * One worker process of the scale harness (bench/sim.ts forks it): runs its share of the
 * Sotto nodes in-process and answers the coordinator's commands over IPC
 * (bench/lib/sim-protocol.ts). It exits as soon as the coordinator goes away, removing the
 * data folders of its nodes and its state folder (SOTTO_STATE_DIR) on the way out.
 */
import { readFileSync, rmdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startSottoNode } from '../../node/daemon/sotto-node.js'
import type { SottoNode } from '../../node/daemon/types.js'
import { parseSessionId } from '../../node/identity/session-id.js'
import { createLogger, type LogRecord, type Logger } from '../../node/log.js'
import { MIN_SCRYPT } from '../../node/store/kdf.js'
import type { Command, LookupResult, Reply, Request, Result, SendResult, StartResult, Usage, WatchResult, WorkerConfig } from './sim-protocol.js'

let config: WorkerConfig | undefined
const nodes = new Map<number, SottoNode>()
const logged: Record<string, number> = {}
const faults: string[] = []
let faultCount = 0
// 50 nodes share one event loop here: how late its callbacks run says whether the worker, not the product, was the limit.
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()

function fault (kind: string, err: unknown): void {
  faultCount++
  if (faults.length < 10) faults.push(`${kind}: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`)
}
// A product bug in one of 50 nodes should be reported, not take the other 49 down with it.
process.on('unhandledRejection', (err) => { fault('unhandledRejection', err) })
process.on('uncaughtException', (err) => { fault('uncaughtException', err) })

function cleanUpAndExit (code: number): never {
  if (config !== undefined) {
    for (const index of nodes.keys()) {
      try { rmSync(join(config.root, `n${index}`), { recursive: true, force: true }) } catch { /* best effort */ }
    }
    const stateDir = process.env.SOTTO_STATE_DIR
    if (stateDir !== undefined && stateDir.startsWith(config.root)) {
      try { rmSync(stateDir, { recursive: true, force: true }) } catch { /* best effort */ }
    }
    // The last worker out finds the root empty and removes it.
    try { rmdirSync(config.root) } catch { /* others still have folders there */ }
  }
  process.exit(code)
}
// The coordinator died or let go of us: nothing is left to report to.
process.on('disconnect', () => { cleanUpAndExit(3) })

function loggerFor (index: number): Logger {
  const level = config?.logLevel ?? 'silent'
  const sink = (r: LogRecord): void => {
    if (r.level === 'warn' || r.level === 'error') {
      const key = `${r.level} ${r.component}: ${r.message}`
      logged[key] = (logged[key] ?? 0) + 1
    }
    if (level !== 'silent') process.stderr.write(`[n${index}] ${r.level} ${r.component}: ${r.message}${r.fields === undefined ? '' : ' ' + JSON.stringify(r.fields)}\n`)
  }
  return createLogger({ level: level === 'silent' ? 'warn' : level, sink })
}

function need (): WorkerConfig {
  if (config === undefined) throw new Error('worker not initialised')
  return config
}

function nodeAt (index: number): SottoNode {
  const node = nodes.get(index)
  if (node === undefined) throw new Error(`node ${index} is not running in this worker`)
  return node
}

function io (): Usage['io'] {
  try {
    const text = readFileSync('/proc/self/io', 'utf8')
    return { rchar: Number(/rchar:\s*(\d+)/.exec(text)?.[1] ?? NaN), wchar: Number(/wchar:\s*(\d+)/.exec(text)?.[1] ?? NaN) }
  } catch {
    return { rchar: NaN, wchar: NaN }
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Resolves with `fallback` if `p` has not settled within `ms`. */
async function bounded<T> (p: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<T>((resolve) => { timer = setTimeout(() => { resolve(fallback()) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

async function start (index: number, bootstrap: string[], unlock: boolean): Promise<SottoNode> {
  const c = need()
  const node = await startSottoNode({
    dataDir: join(c.root, `n${index}`, 'data'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    mdns: false,
    apiPort: 0,
    logger: loggerFor(index),
    kdf: MIN_SCRYPT,
    receiptDelayMs: () => c.receiptDelayMs,
    // The run may outlast the default 15 minutes; a UI lock would make the messenger refuse.
    idleLockMs: 24 * 3_600_000,
    ...(unlock ? { passphrase: c.passphrase } : {})
  })
  nodes.set(index, node)
  return node
}

async function watchInbox (node: SottoNode, expect: string[], restartAt: number, windowMs: number, settleMs: number): Promise<Pick<WatchResult, 'arrivalMs' | 'count'>> {
  const arrivalMs: Record<string, number | null> = Object.fromEntries(expect.map((t) => [t, null]))
  const count: Record<string, number> = Object.fromEntries(expect.map((t) => [t, 0]))
  let after = 0
  const poll = async (): Promise<void> => {
    for (;;) {
      const page = await node.controller.messenger().log.inbox(after, 100)
      if (page.length === 0) return
      const now = Date.now()
      for (const m of page) {
        after = Math.max(after, m.inboxSeq ?? after)
        if (!(m.text in count)) continue
        count[m.text]++
        if (arrivalMs[m.text] === null) arrivalMs[m.text] = now - restartAt
      }
    }
  }
  const deadline = restartAt + windowMs
  while (Date.now() < deadline) {
    await poll()
    if (expect.every((t) => arrivalMs[t] !== null)) break
    await sleep(100)
  }
  // A second copy (a mailbox that was not acked, a retried direct delivery) would come soon after.
  await sleep(settleMs)
  await poll()
  return { arrivalMs, count }
}

async function handle (command: Command): Promise<Result> {
  switch (command.cmd) {
    case 'init':
      config = command.config
      return null
    case 'start': {
      const t = performance.now()
      const node = await start(command.index, command.bootstrap, command.passphrase === true)
      const r: StartResult = { index: command.index, peerId: node.peerId, addresses: node.addresses(), ms: performance.now() - t }
      return r
    }
    case 'createAccount': {
      const created = await nodeAt(command.index).controller.createAccount(need().passphrase)
      return { sessionId: created.sessionId }
    }
    case 'published': {
      const out: Record<string, boolean> = {}
      for (const i of command.indices) out[i] = (await nodeAt(i).controller.status()).dht.recordPublished
      return out
    }
    case 'usage': {
      const ms = (ns: number): number => Math.round(ns / 1e5) / 10
      const u: Usage = {
        rss: process.memoryUsage().rss,
        cpu: process.cpuUsage(),
        nodes: nodes.size,
        io: io(),
        loopDelay: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
        logged: { ...logged },
        faults: [...faults],
        faultCount
      }
      loopDelay.reset()
      return u
    }
    case 'lookup': {
      const node = nodeAt(command.index)
      const t = performance.now()
      const signal = AbortSignal.timeout(command.timeoutMs)
      const r = await bounded<LookupResult>(
        node.lookupRecord(parseSessionId(command.target), { signal }).then(
          (rec) => ({ found: rec !== undefined, ms: performance.now() - t }),
          (err: unknown) => ({ found: false, ms: performance.now() - t, error: (err as { code?: string, name?: string }).code ?? (err as Error).name })),
        command.timeoutMs + 2000, () => ({ found: false, ms: performance.now() - t, error: 'TIMEOUT' }))
      return r
    }
    case 'send': {
      const node = nodeAt(command.index)
      const t = performance.now()
      const signal = AbortSignal.timeout(command.timeoutMs)
      const r = await bounded<SendResult>(
        node.controller.messenger().send(command.to, command.text, { signal }).then(
          (m) => ({ state: m.state, ms: performance.now() - t, ...(m.lastError !== undefined ? { error: m.lastError } : {}) }),
          (err: unknown) => ({ state: 'threw', ms: performance.now() - t, error: (err as { code?: string }).code ?? String(err) })),
        command.timeoutMs + 5000, () => ({ state: 'timeout', ms: performance.now() - t }))
      return r
    }
    case 'stop': {
      const node = nodeAt(command.index)
      nodes.delete(command.index)
      await node.stop()
      return null
    }
    case 'restartAndWatch': {
      if (nodes.has(command.index)) throw new Error(`node ${command.index} is running`)
      const restartAt = Date.now()
      const t = performance.now()
      const node = await start(command.index, command.bootstrap, true)
      const startMs = performance.now() - t
      const seen = await watchInbox(node, command.expect, restartAt, command.windowMs, command.settleMs)
      const r: WatchResult = { index: command.index, restartAt, startMs, ...seen }
      return r
    }
    case 'stopAll': {
      const all = [...nodes.values()]
      nodes.clear()
      await bounded(Promise.allSettled(all.map(async (n) => { await n.stop() })), command.timeoutMs, () => [])
      return { stopped: all.length }
    }
    case 'exit':
      setTimeout(() => { cleanUpAndExit(0) }, 50)
      return null
  }
}

process.on('message', (raw: unknown) => {
  const request = raw as Request
  handle(request.command).then(
    (result) => { send({ id: request.id, ok: true, result }) },
    (err: unknown) => { send({ id: request.id, ok: false, error: (err as { code?: string }).code !== undefined ? `${(err as { code: string }).code}: ${(err as Error).message}` : String((err as Error)?.message ?? err) }) }
  )
})

function send (reply: Reply): void {
  if (process.connected) process.send?.(reply)
}

if (process.send === undefined) {
  process.stderr.write('sim-worker: run by bench/sim.ts (child_process.fork), not directly\n')
  process.exit(1)
}

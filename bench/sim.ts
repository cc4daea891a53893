/**
 * `npm run sim -- --nodes N [--churn 0.3] [--workers 4] [--users 30] [--messages 20]
 *  [--return-after-ms 65000] [--idle-ms 60000] [--lookups 40] [--seed S] [--json]`:
 * the scale harness. N real Sotto nodes (startSottoNode, loopback TCP, mDNS off, API on a free
 * port, the minimum KDF, a temp data folder each, SOTTO_STATE_DIR a temp folder) spread over W
 * worker processes (bench/lib/sim-worker.ts), driven by this coordinator over IPC.
 *
 * 1. start node 0, then the others in waves, each bootstrapping from 2-3 nodes started before it;
 * 2. U nodes create accounts; wait (bounded) until every user's record is published;
 * 3. idle window: RSS per node, CPU per node per minute, loopback bytes per node per minute;
 * 4. lookups: SottoNode.lookupRecord of random users from random non-user nodes;
 * 5. churn: `churn` x (non-user nodes) stop at random;
 * 6. offline: M recipients among the users stop, other users send one message each to them
 *    ("stored"), `return-after-ms` later the recipients start again on the same data folder and
 *    each message must be in its recipient's inbox exactly once within 60 s of that restart.
 *
 * Every wait is bounded and the whole run stops itself (`--timeout-ms`); the workers die
 * with the coordinator. Prints one JSON object with --json, else a summary.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fmt, percentile } from './lib/measure.js'
import { WorkerPool } from './lib/sim-pool.js'
import type { LookupResult, SendResult, StartResult, Usage, WatchResult } from './lib/sim-protocol.js'
import { loopbackBytes, mapLimit, rng, shuffle, sleep } from './lib/sim-util.js'

const PASSPHRASE = 'sim passphrase 123'
const LOOKUP_TIMEOUT_MS = 10_000
const ARRIVAL_WINDOW_MS = 60_000
/** After the last expected message arrived, how long a duplicate is given to show up. */
const DUPLICATE_SETTLE_MS = 3_000
const OFFLINE_SEND_TIMEOUT_MS = 30_000
const MB = 1024 * 1024

interface Options {
  nodes: number
  churn: number
  workers: number
  users: number
  messages: number
  returnAfterMs: number
  idleMs: number
  lookups: number
  seed: number
  timeoutMs: number
  json: boolean
  logLevel: 'silent' | 'debug' | 'info' | 'warn' | 'error'
  /** Folder for a V8 CPU profile of each worker (node --cpu-prof), written when it exits. */
  cpuProf: string | undefined
}

function usage (message: string): never {
  process.stderr.write(`sim: ${message}\nusage: npm run sim -- --nodes N [--churn 0.3] [--workers 4] [--users 30] [--messages 20] [--return-after-ms 65000] [--idle-ms 60000] [--lookups 40] [--seed S] [--timeout-ms MS] [--log-level silent|info|…] [--cpu-prof DIR] [--json]\n`)
  process.exit(1)
}

function readOptions (): Options {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      options: {
        nodes: { type: 'string' },
        churn: { type: 'string' },
        workers: { type: 'string' },
        users: { type: 'string' },
        messages: { type: 'string' },
        'return-after-ms': { type: 'string' },
        'idle-ms': { type: 'string' },
        lookups: { type: 'string' },
        seed: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'log-level': { type: 'string' },
        'cpu-prof': { type: 'string' },
        json: { type: 'boolean' }
      },
      strict: true
    }).values
  } catch (err) {
    usage((err as Error).message)
  }
  const num = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values[name]
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isFinite(n) || n < min || n > max) usage(`--${name} must be a number from ${min} to ${max}`)
    return n
  }
  const nodes = Math.floor(num('nodes', 30, 3, 2000))
  const users = Math.floor(num('users', Math.min(30, nodes), 2, nodes))
  const o: Options = {
    nodes,
    churn: num('churn', 0.3, 0, 1),
    workers: Math.min(nodes, Math.floor(num('workers', 4, 1, 64))),
    users,
    messages: Math.floor(num('messages', 20, 0, 10_000)),
    returnAfterMs: num('return-after-ms', 65_000, 0, 3_600_000),
    idleMs: num('idle-ms', 60_000, 1_000, 3_600_000),
    lookups: Math.floor(num('lookups', 40, 0, 10_000)),
    seed: Math.floor(num('seed', Date.now() % 2 ** 31, 0, 2 ** 32 - 1)),
    timeoutMs: 0,
    json: values.json === true,
    logLevel: (values['log-level'] as Options['logLevel'] | undefined) ?? 'silent',
    cpuProf: values['cpu-prof'] as string | undefined
  }
  if (!['silent', 'debug', 'info', 'warn', 'error'].includes(o.logLevel)) usage('--log-level is silent, debug, info, warn or error')
  // Start, publish, lookups, offline sends, the return wait, the arrival window, shutdown.
  const budget = 60_000 + o.nodes * 1_500 + 180_000 + o.idleMs + 180_000 + 60_000 + o.returnAfterMs + ARRIVAL_WINDOW_MS + DUPLICATE_SETTLE_MS + 90_000 + 60_000
  o.timeoutMs = num('timeout-ms', budget, 10_000, 24 * 3_600_000)
  return o
}

interface SimResult {
  nodes: number
  workers: number
  rssPerNodeMb: number
  idleCpuMsPerNodePerMin: number
  idleKbPerNodePerMin: number
  lookupP50Ms: number
  lookupP95Ms: number
  lookupSuccess: number
  offlineSent: number
  offlineExactlyOnce: number
  offlineArrivalP50Ms: number
  durationMs: number
  notes: string[]
  details: Record<string, unknown>
}

const opts = readOptions()
const began = performance.now()
const random = rng(opts.seed)
const runId = Math.floor(random() * 1e9).toString(36)
const result: SimResult = {
  nodes: opts.nodes,
  workers: opts.workers,
  rssPerNodeMb: NaN,
  idleCpuMsPerNodePerMin: NaN,
  idleKbPerNodePerMin: NaN,
  lookupP50Ms: NaN,
  lookupP95Ms: NaN,
  lookupSuccess: NaN,
  offlineSent: 0,
  offlineExactlyOnce: 0,
  offlineArrivalP50Ms: NaN,
  durationMs: NaN,
  notes: [],
  details: { seed: opts.seed, users: opts.users, churn: opts.churn, messages: opts.messages, returnAfterMs: opts.returnAfterMs, idleMs: opts.idleMs, phasesMs: {} as Record<string, number>, cpuMsByPhase: {}, loopDelayByPhase: {} }
}
const phases = result.details.phasesMs as Record<string, number>
const note = (s: string): void => { result.notes.push(s) }
const progress = (s: string): void => { process.stderr.write(`[sim ${((performance.now() - began) / 1000).toFixed(1)}s] ${s}\n`) }
const round = (n: number, digits = 1): number => Number.isFinite(n) ? Number(n.toFixed(digits)) : n

// One temp root: the nodes' data folders and a state folder per worker (SOTTO_STATE_DIR), so a
// worker cleaning up after the coordinator died removes only what it alone writes to.
const root = mkdtempSync(join(tmpdir(), 'sotto-sim-'))
const pool = new WorkerPool(opts.workers, (w) => {
  const stateDir = join(root, `state-w${w}`)
  mkdirSync(stateDir, { mode: 0o700 })
  return { ...process.env, SOTTO_STATE_DIR: stateDir }
}, (w) => opts.cpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf, '--cpu-prof-name', `sim-worker-${w}.cpuprofile`])
let finished = false
function cleanUp (): void {
  pool.killAll()
  try { rmSync(root, { recursive: true, force: true }) } catch { /* a worker may still be writing; best effort */ }
}
process.on('exit', cleanUp)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => { cleanUp(); process.exit(130) })

const workerOf = (i: number): number => i % opts.workers
const addrs: string[][] = []
const online = new Set<number>()
const sessionIds = new Map<number, string>()

/** Each worker's event-loop delays since the current phase began (every usage call resets them in the worker). */
let phaseDelays: Array<Usage['loopDelay']> = []

async function usageAll (): Promise<Usage[]> {
  const all = await Promise.all(Array.from({ length: opts.workers }, async (_, w) => await pool.request<Usage>(w, { cmd: 'usage' }, 30_000)))
  phaseDelays.push(...all.map((u) => u.loopDelay))
  return all
}

const cpuTotal = (all: Usage[]): number => all.reduce((s, u) => s + (u.cpu.user + u.cpu.system) / 1000, 0)

/** Runs one phase, recording its wall time, the workers' CPU in it and their worst event-loop delay. */
async function phase<T> (name: string, run: () => Promise<T>): Promise<T> {
  progress(`${name}…`)
  const t = performance.now()
  const before = await usageAll().catch(() => [] as Usage[])
  phaseDelays = []
  try {
    return await run()
  } finally {
    phases[name] = Math.round(performance.now() - t)
    const after = await usageAll().catch(() => [] as Usage[])
    if (before.length === opts.workers && after.length === opts.workers) {
      const cpu = result.details.cpuMsByPhase as Record<string, number>
      cpu[name] = Math.round(cpuTotal(after) - cpuTotal(before))
      const delay = result.details.loopDelayByPhase as Record<string, { p99: number, max: number }>
      delay[name] = worstDelay(phaseDelays)
    }
  }
}

function bootstrapFrom (candidates: number[], k: number): string[] {
  return shuffle(candidates, random).slice(0, k).map((i) => addrs[i][0])
}

async function startAll (): Promise<void> {
  const startMs: number[] = []
  const startOne = async (i: number, bootstrap: string[]): Promise<void> => {
    const r = await pool.request<StartResult>(workerOf(i), { cmd: 'start', index: i, bootstrap }, 60_000)
    if (r.addresses.length === 0) throw new Error(`node ${i} has no address`)
    addrs[i] = r.addresses
    online.add(i)
    startMs.push(r.ms)
  }
  await startOne(0, [])
  const started = [0]
  const wave = opts.workers * 2
  for (let from = 1; from < opts.nodes; from += wave) {
    const batch = Array.from({ length: Math.min(wave, opts.nodes - from) }, (_, k) => from + k)
    await Promise.all(batch.map(async (i) => { await startOne(i, bootstrapFrom(started, 2 + Math.floor(random() * 2))) }))
    started.push(...batch)
  }
  startMs.sort((a, b) => a - b)
  result.details.nodeStartP50Ms = round(percentile(startMs, 50))
  result.details.nodeStartMaxMs = round(startMs[startMs.length - 1])
}

/** One account creation may wait behind its worker's 50 nodes on a saturated machine; the time is reported. */
const CREATE_ACCOUNT_TIMEOUT_MS = 180_000

async function createUsers (users: number[]): Promise<void> {
  const ms: number[] = []
  await mapLimit(users, opts.workers * 2, async (i) => {
    const t = performance.now()
    const r = await pool.request<{ sessionId: string }>(workerOf(i), { cmd: 'createAccount', index: i }, CREATE_ACCOUNT_TIMEOUT_MS)
    ms.push(performance.now() - t)
    sessionIds.set(i, r.sessionId)
  })
  ms.sort((a, b) => a - b)
  result.details.createAccountP50Ms = round(percentile(ms, 50))
  result.details.createAccountMaxMs = round(ms[ms.length - 1])
}

async function waitPublished (users: number[]): Promise<void> {
  const limit = Math.min(180_000, Math.max(60_000, opts.nodes * 500))
  const deadline = Date.now() + limit
  const published = new Set<number>()
  const t = performance.now()
  while (published.size < users.length && Date.now() < deadline) {
    await Promise.all(Array.from({ length: opts.workers }, async (_, w) => {
      const indices = users.filter((i) => workerOf(i) === w && !published.has(i))
      if (indices.length === 0) return
      const r = await pool.request<Record<string, boolean>>(w, { cmd: 'published', indices }, 30_000)
      for (const i of indices) if (r[i]) published.add(i)
    }))
    if (published.size < users.length) await sleep(500)
  }
  result.details.recordsPublished = published.size
  result.details.allPublishedMs = published.size === users.length ? Math.round(performance.now() - t) : null
  if (published.size < users.length) note(`only ${published.size} of ${users.length} users' records were published within ${limit} ms; the run went on`)
}

async function idleWindow (): Promise<void> {
  const u0 = await usageAll()
  result.details.loadAvgIdleStart = loadavg().map((x) => round(x, 2))
  const lo0 = loopbackBytes()
  const t0 = performance.now()
  const rssSums: number[] = []
  for (;;) {
    const left = opts.idleMs - (performance.now() - t0)
    if (left <= 0) break
    await sleep(Math.min(5_000, left))
    rssSums.push((await usageAll()).reduce((s, x) => s + x.rss, 0))
  }
  const u1 = await usageAll()
  result.details.loadAvgIdleEnd = loadavg().map((x) => round(x, 2))
  const lo1 = loopbackBytes()
  const minutes = (performance.now() - t0) / 60_000
  const cpuMs = u1.reduce((s, u, w) => s + (u.cpu.user + u.cpu.system - u0[w].cpu.user - u0[w].cpu.system) / 1000, 0)
  const rss = rssSums.reduce((a, b) => a + b, 0) / rssSums.length
  result.rssPerNodeMb = round(rss / opts.nodes / MB)
  result.idleCpuMsPerNodePerMin = round(cpuMs / opts.nodes / minutes)
  result.idleKbPerNodePerMin = round((lo1 - lo0) / 1024 / opts.nodes / minutes)
  // The workers' own read() + write() bytes: the same traffic seen from inside, without the noise.
  const ioBytes = u1.reduce((s, u, w) => s + u.io.rchar + u.io.wchar - u0[w].io.rchar - u0[w].io.wchar, 0)
  result.details.idleOwnIoKbPerNodePerMin = round(ioBytes / 1024 / opts.nodes / minutes)
  const baseline = result.details.workerBaselineRssMb as number
  result.details.rssPerNodeMarginalMb = round((rss / MB - baseline * opts.workers) / opts.nodes)
  result.details.idleWorkerCpuPercent = round(cpuMs / (minutes * 60_000) * 100 / opts.workers)
  note('loopback bytes: /proc/net/dev "lo" rx+tx over the idle window, divided by N; every byte between two local nodes counts twice (sent and received), and every other process on this machine that uses loopback (other tests, other benches) adds to it. details.idleOwnIoKbPerNodePerMin is the same traffic counted inside the workers (/proc/self/io rchar + wchar: socket reads and writes, plus their few file and IPC bytes), free of that noise')
  note(`rssPerNodeMb = the workers' RSS / N, averaged over the idle window; it includes each worker's own Node.js runtime (${fmt(baseline, 0)} MB per worker before any node started; without it: ${fmt(result.details.rssPerNodeMarginalMb as number, 1)} MB per node)`)
  note('idle CPU: process.cpuUsage() of each worker over the idle window (user + system), divided by N and by the window in minutes; the coordinator is not counted. details.cpuMsByPhase: the workers\' CPU in each phase; details.loopDelayByPhase: the worst worker event-loop delay (p99, max) in each phase; loadAvg*: the machine\'s load average, other processes included')
}

/** The worst of the workers' event-loop delays: max p99 and max over the samples. */
function worstDelay (delays: Array<Usage['loopDelay']>): { p99: number, max: number } {
  return { p99: Math.max(0, ...delays.map((d) => d.p99)), max: Math.max(0, ...delays.map((d) => d.max)) }
}

async function lookups (users: number[]): Promise<void> {
  const from = [...online].filter((i) => !users.includes(i))
  // Every node a user: the lookups come from users, never for their own record.
  const askers = from.length > 0 ? from : [...online]
  const plan = Array.from({ length: opts.lookups }, () => {
    const asker = askers[Math.floor(random() * askers.length)]
    const targets = users.filter((u) => u !== asker)
    return { asker, target: targets[Math.floor(random() * targets.length)] }
  })
  const outcomes = await mapLimit(plan, 4, async (p) => {
    const r = await pool.request<LookupResult>(workerOf(p.asker), { cmd: 'lookup', index: p.asker, target: sessionIds.get(p.target) as string, timeoutMs: LOOKUP_TIMEOUT_MS }, LOOKUP_TIMEOUT_MS + 10_000)
      .catch((err: Error) => ({ found: false, ms: NaN, error: err.message }) as LookupResult)
    return { found: r.found && r.ms <= LOOKUP_TIMEOUT_MS, ms: r.ms, detail: r.error ?? (r.found ? 'found' : 'not found') }
  })
  const times = outcomes.map((o) => o.ms).filter(Number.isFinite).sort((a, b) => a - b)
  result.lookupP50Ms = round(percentile(times, 50))
  result.lookupP95Ms = round(percentile(times, 95))
  result.lookupSuccess = outcomes.length === 0 ? NaN : round(outcomes.filter((o) => o.found).length / outcomes.length, 3)
  const outcomeCounts: Record<string, number> = {}
  for (const o of outcomes) outcomeCounts[o.detail] = (outcomeCounts[o.detail] ?? 0) + 1
  result.details.lookups = outcomes.length
  result.details.lookupOutcomes = outcomeCounts
  note(`lookups: SottoNode.lookupRecord (a verified DHT record lookup) from random ${from.length > 0 ? 'non-user' : 'user'} nodes for random (other) users, 4 at a time, before the churn; found = a valid record within ${LOOKUP_TIMEOUT_MS} ms; p50/p95 over every lookup, found or not`)
}

async function churn (users: number[]): Promise<void> {
  const nonUsers = [...online].filter((i) => !users.includes(i))
  const victims = shuffle(nonUsers, random).slice(0, Math.round(opts.churn * nonUsers.length))
  await mapLimit(victims, opts.workers * 2, async (i) => {
    await pool.request(workerOf(i), { cmd: 'stop', index: i }, 30_000)
    online.delete(i)
  })
  result.details.churned = victims.length
  if (opts.churn > 0 && nonUsers.length === 0) note('churn: every node is a user, so no node was stopped for churn (use --users < --nodes)')
}

async function offline (users: number[]): Promise<void> {
  if (opts.messages === 0) return
  const recipients = shuffle(users, random).slice(0, Math.min(opts.messages, users.length - 1))
  const senders = users.filter((u) => !recipients.includes(u))
  await mapLimit(recipients, opts.workers * 2, async (i) => {
    await pool.request(workerOf(i), { cmd: 'stop', index: i }, 30_000)
    online.delete(i)
  })
  const plan = Array.from({ length: opts.messages }, (_, k) => ({ from: senders[k % senders.length], to: recipients[k % recipients.length], text: `sim offline ${runId} #${k}` }))
  const sends = await mapLimit(plan, 4, async (p) => await pool.request<SendResult>(workerOf(p.from), { cmd: 'send', index: p.from, to: sessionIds.get(p.to) as string, text: p.text, timeoutMs: OFFLINE_SEND_TIMEOUT_MS }, OFFLINE_SEND_TIMEOUT_MS + 15_000)
    .catch((err: Error) => ({ state: 'error', ms: NaN, error: err.message }) as SendResult))
  const states: Record<string, number> = {}
  for (const s of sends) { const k = s.error !== undefined ? `${s.state} ${s.error}` : s.state; states[k] = (states[k] ?? 0) + 1 }
  result.details.offlineSendStates = states
  const sendMs = sends.map((s) => s.ms).filter(Number.isFinite).sort((a, b) => a - b)
  result.details.offlineSendP50Ms = round(percentile(sendMs, 50))
  result.details.offlineSendMaxMs = round(sendMs[sendMs.length - 1])
  const sent = plan.filter((_, k) => ['stored', 'sending', 'delivered'].includes(sends[k].state))
  result.offlineSent = sent.length
  if (sends.some((s) => s.state === 'delivered')) note('PRODUCT: a message to a stopped recipient came back "delivered"')
  if (sent.length < plan.length) note(`${plan.length - sent.length} of ${plan.length} offline messages could not be sent (see details.offlineSendStates)`)
  if (sends.some((s) => s.state === 'sending')) note('some offline messages were still queued ("sending") after their first attempt; they count as sent')

  progress(`offline: ${sent.length} messages sent; recipients return in ${opts.returnAfterMs} ms`)
  await sleep(opts.returnAfterMs)
  const watched = await mapLimit(recipients, recipients.length, async (i) => {
    const expect = sent.filter((p) => p.to === i).map((p) => p.text)
    const bootstrap = bootstrapFrom([...online], 3)
    return await pool.request<WatchResult>(workerOf(i), { cmd: 'restartAndWatch', index: i, bootstrap, expect, windowMs: ARRIVAL_WINDOW_MS, settleMs: DUPLICATE_SETTLE_MS }, 60_000 + ARRIVAL_WINDOW_MS + DUPLICATE_SETTLE_MS + 30_000)
      .then((r) => { online.add(i); return r })
      .catch((err: Error) => { note(`recipient n${i} could not restart or be watched: ${err.message}`); return undefined })
  })
  const arrivals: number[] = []
  let once = 0
  let missing = 0
  let duplicates = 0
  for (const w of watched) {
    if (w === undefined) continue
    for (const [text, ms] of Object.entries(w.arrivalMs)) {
      if (ms === null) { missing++; continue }
      arrivals.push(ms)
      if (w.count[text] === 1) once++
      else duplicates++
    }
  }
  missing += sent.length - watched.reduce((s, w) => s + (w === undefined ? 0 : Object.keys(w.arrivalMs).length), 0)
  arrivals.sort((a, b) => a - b)
  result.offlineExactlyOnce = once
  result.offlineArrivalP50Ms = round(percentile(arrivals, 50))
  result.details.offlineArrivalP95Ms = round(percentile(arrivals, 95))
  result.details.offlineArrivalMaxMs = round(arrivals[arrivals.length - 1])
  if (arrivals.length <= 50) result.details.offlineArrivalsMs = arrivals
  result.details.offlineMissing = missing
  result.details.offlineDuplicates = duplicates
  const starts = watched.filter((w): w is WatchResult => w !== undefined).map((w) => w.startMs).sort((a, b) => a - b)
  result.details.recipientStartP50Ms = round(percentile(starts, 50))
  result.details.recipients = recipients.length
  if (missing > 0) note(`${missing} offline message(s) were not in their recipient's inbox within ${ARRIVAL_WINDOW_MS} ms of its restart`)
  if (duplicates > 0) note(`PRODUCT: ${duplicates} offline message(s) arrived more than once`)
}

function report (): void {
  result.durationMs = Math.round(performance.now() - began)
  if (opts.json) { process.stdout.write(JSON.stringify(result) + '\n'); return }
  const r = result
  const lines = [
    `Sotto scale harness: ${r.nodes} nodes in ${r.workers} workers, ${opts.users} users, churn ${opts.churn}, seed ${opts.seed}`,
    `idle, per node:     RSS ${fmt(r.rssPerNodeMb)} MB   CPU ${fmt(r.idleCpuMsPerNodePerMin, 0)} ms/min   loopback ${fmt(r.idleKbPerNodePerMin)} KB/min`,
    `lookups:            p50 ${fmt(r.lookupP50Ms, 0)} ms   p95 ${fmt(r.lookupP95Ms, 0)} ms   found within 10 s: ${fmt(r.lookupSuccess * 100, 1)}%`,
    `offline:            ${r.offlineExactlyOnce} of ${r.offlineSent} sent arrived exactly once; arrival after restart p50 ${fmt(r.offlineArrivalP50Ms, 0)} ms`,
    `duration:           ${fmt(r.durationMs / 1000, 1)} s`,
    'notes:', ...r.notes.map((n) => `  - ${n}`),
    `details: ${JSON.stringify(r.details)}`
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

async function collectWorkerReports (): Promise<void> {
  const all = await usageAll().catch(() => [] as Usage[])
  const logged: Record<string, number> = {}
  let faults = 0
  for (const u of all) {
    for (const [k, v] of Object.entries(u.logged)) logged[k] = (logged[k] ?? 0) + v
    faults += u.faultCount
    for (const f of u.faults.slice(0, 3)) note(`worker fault: ${f}`)
  }
  result.details.nodeWarnings = Object.fromEntries(Object.entries(logged).sort((a, b) => b[1] - a[1]).slice(0, 15))
  if (faults > 0) note(`PRODUCT: ${faults} unhandled rejection(s) / uncaught exception(s) in the workers (first ones above)`)
}

async function main (): Promise<number> {
  const hardStop = setTimeout(() => {
    note(`the run hit its time bound (${opts.timeoutMs} ms) and was stopped`)
    finished = true
    report()
    cleanUp()
    process.exit(1)
  }, opts.timeoutMs)
  let code = 0
  try {
    await pool.init({ root, passphrase: PASSPHRASE, receiptDelayMs: 50, logLevel: opts.logLevel })
    result.details.workerBaselineRssMb = round((await usageAll()).reduce((s, u) => s + u.rss, 0) / opts.workers / MB)
    await phase('start', startAll)
    // Node 0 (the first bootstrap peer) becomes a user only when every node is one.
    const users = shuffle(Array.from({ length: opts.nodes - 1 }, (_, k) => k + 1), random).slice(0, opts.users)
    if (opts.users >= opts.nodes) users.push(0)
    await phase('accounts', async () => { await createUsers(users) })
    await phase('publish', async () => { await waitPublished(users) })
    await phase('idle', idleWindow)
    await phase('lookups', async () => { await lookups(users) })
    await phase('churn', async () => { await churn(users) })
    await phase('offline', async () => { await offline(users) })
  } catch (err) {
    note(`the run failed: ${(err as Error).message}`)
    code = 1
  }
  for (const d of pool.deaths()) note(d)
  await collectWorkerReports()
  await phase('shutdown', async () => {
    await Promise.all(Array.from({ length: opts.workers }, async (_, w) => {
      await pool.request(w, { cmd: 'stopAll', timeoutMs: 30_000 }, 40_000).catch(() => {})
      await pool.request(w, { cmd: 'exit' }, 5_000).catch(() => {})
    }))
    // A worker writing a CPU profile takes a moment; any still running after that is killed.
    await pool.waitExit(opts.cpuProf === undefined ? 2_000 : 30_000)
  })
  clearTimeout(hardStop)
  if (finished) return 1
  finished = true
  report()
  return code
}

const code = await main()
cleanUp()
process.exit(code)

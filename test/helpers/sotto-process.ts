/**
 * `sotto start` as a user runs it: a child process of the real bin (bin/sotto.js on the
 * project's Node 24), its printed link read from stdout, the CLI run against its data dir,
 * stopped with SIGTERM. Every process started here is remembered, so an afterAll can stop
 * them all even when a test failed halfway.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { NodeStatus } from '../../node/api/routes.js'
import { NODE, runSotto, SOTTO_BIN, type CliResult } from './cli.js'

/** What `sotto start` prints on stdout once the node serves its API and web UI. */
export const START_LINE = /^Sotto is running\. Open (http:\/\/127\.0\.0\.1:(\d+)\/\?token=[A-Za-z0-9_-]+)\s*$/m

export interface StartOptions {
  dataDir: string
  /** Multiaddrs for --bootstrap. */
  bootstrap?: string[]
  /** Given through SOTTO_PASSPHRASE (as the README says scripts do); never on argv. */
  passphrase?: string
  /** Adds --locked: the node starts with the account closed; unlock from the web UI. */
  locked?: boolean
  /** The API / web UI port; default 0 (a free one). A restart on the same port keeps the browser's origin, as for a user on the default port. */
  apiPort?: number
  /** More arguments after the standard ones. */
  extraArgs?: string[]
  /** How long to wait for the printed link. */
  timeoutMs?: number
}

export interface SottoProcess {
  readonly dataDir: string
  readonly child: ChildProcess
  /** The link `sotto start` printed. */
  readonly url: string
  readonly apiPort: number
  stdout: () => string
  stderr: () => string
  /** Runs `sotto ARGS --data-dir DIR` against this node's data dir. */
  cli: (args: string[], options?: { env?: Record<string, string | undefined>, timeoutMs?: number }) => Promise<CliResult>
  /** SIGTERM, then the exit code (SIGKILL if it has not exited within timeoutMs). */
  stop: (timeoutMs?: number) => Promise<number | null>
}

const running = new Set<ChildProcess>()
const KEEP = 64 * 1024

function keepTail (s: string): string { return s.length > KEEP ? s.slice(-KEEP) : s }

function exited (child: ChildProcess): boolean { return child.exitCode !== null || child.signalCode !== null }

async function waitExit (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return true
  return await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { child.off('exit', onExit); resolve(false) }, timeoutMs)
    const onExit = () => { clearTimeout(timer); resolve(true) }
    child.once('exit', onExit)
  })
}

async function terminate (child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (!exited(child)) child.kill('SIGTERM')
  if (!await waitExit(child, timeoutMs)) {
    child.kill('SIGKILL')
    await waitExit(child, 5_000)
  }
  running.delete(child)
  return child.exitCode
}

export async function startSotto (options: StartOptions): Promise<SottoProcess> {
  const args = [SOTTO_BIN, 'start', '--data-dir', options.dataDir, '--api-port', String(options.apiPort ?? 0), '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']
  for (const b of options.bootstrap ?? []) args.push('--bootstrap', b)
  if (options.locked === true) args.push('--locked')
  args.push(...(options.extraArgs ?? []))
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, SOTTO_PASSPHRASE: options.passphrase, SOTTO_DATA_DIR: undefined })) {
    if (v !== undefined) env[k] = v
  }
  // stdin is closed: a node that wanted to prompt for a passphrase fails instead of hanging.
  const child = spawn(NODE, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  let errText = ''
  child.stderr?.on('data', (d: Buffer) => { errText = keepTail(errText + d.toString()) })

  const timeoutMs = options.timeoutMs ?? 30_000
  let match: RegExpExecArray
  try {
    match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`sotto start printed no link within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${errText}`)) }, timeoutMs)
      const onData = (d: Buffer) => {
        out = keepTail(out + d.toString())
        const m = START_LINE.exec(out)
        if (m !== null) { cleanup(); resolve(m) }
      }
      const onExit = (code: number | null, signal: string | null) => {
        cleanup()
        reject(new Error(`sotto start exited (code ${code}, signal ${signal}) before printing its link\nstdout: ${out}\nstderr: ${errText}`))
      }
      const cleanup = () => { clearTimeout(timer); child.stdout?.off('data', onData); child.off('exit', onExit) }
      child.stdout?.on('data', onData)
      child.once('exit', onExit)
    })
  } catch (err) {
    await terminate(child, 5_000)
    throw err
  }
  // Keep reading, so a full pipe never blocks the node.
  child.stdout?.on('data', (d: Buffer) => { out = keepTail(out + d.toString()) })

  return {
    dataDir: options.dataDir,
    child,
    url: match[1],
    apiPort: Number(match[2]),
    stdout: () => out,
    stderr: () => errText,
    cli: async (cliArgs, cliOptions = {}) => await runSotto([...cliArgs, '--data-dir', options.dataDir], cliOptions),
    stop: async (stopTimeoutMs = 20_000) => await terminate(child, stopTimeoutMs)
  }
}

/** Stops every process startSotto started and that is still running (for afterAll). */
export async function stopAllSotto (timeoutMs = 20_000): Promise<void> {
  await Promise.all([...running].map(async (child) => await terminate(child, timeoutMs)))
}

/** `sotto status --json` prints the node's status as the API gives it. */
export type StatusJson = NodeStatus

export async function statusOf (node: SottoProcess): Promise<StatusJson> {
  const r = await node.cli(['status', '--json'])
  if (r.code !== 0) throw new Error(`sotto status --json failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as StatusJson
}

/** The node's TCP multiaddr, as another node's --bootstrap takes it. */
export async function bootstrapAddress (node: SottoProcess): Promise<string> {
  const s = await statusOf(node)
  const addr = s.addresses.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.includes('/p2p/'))
  if (addr === undefined) throw new Error(`no loopback TCP address in ${JSON.stringify(s.addresses)}`)
  return addr
}

/** `sotto inbox --json`: one JSON object per line. */
export interface InboxLine { id: string, from: string, text: string, sentAt: number, receivedAt?: number, state: string }

export async function inboxOf (node: SottoProcess): Promise<InboxLine[]> {
  const r = await node.cli(['inbox', '--json'])
  if (r.code !== 0) throw new Error(`sotto inbox --json failed (${r.code}): ${r.stderr}`)
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as InboxLine)
}

/**
 * A bounded poll: calls fn until it gives a value (not undefined/false), or throws after
 * timeoutMs. An error thrown by fn ends the wait at once (a failing CLI is a failure, not "not yet").
 */
export async function until<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

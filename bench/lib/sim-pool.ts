/**
 * The coordinator's side of the scale harness's workers: forks them (compiled
 * bench/lib/sim-worker.js), sends commands with a time bound each, and kills every worker
 * still alive when asked or when this process exits. A worker that dies fails its pending
 * commands at once.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Command, Reply, Request, Result, WorkerConfig } from './sim-protocol.js'

const WORKER = fileURLToPath(new URL('./sim-worker.js', import.meta.url))

interface Pending { resolve: (r: Result) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }

export class WorkerPool {
  private readonly children: ChildProcess[] = []
  private readonly pending: Array<Map<number, Pending>> = []
  private readonly exited: Array<string | undefined> = []
  private nextId = 1

  constructor (readonly size: number, envFor: (worker: number) => NodeJS.ProcessEnv, execArgv: (worker: number) => string[] = () => []) {
    for (let w = 0; w < size; w++) {
      // stdout and stderr go to our stderr: our stdout carries only the result.
      const child = fork(WORKER, [], { env: envFor(w), execArgv: execArgv(w), stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' })
      child.stdout?.on('data', (d: Buffer) => { process.stderr.write(d) })
      child.stderr?.on('data', (d: Buffer) => { process.stderr.write(d) })
      const pending = new Map<number, Pending>()
      child.on('message', (raw: unknown) => {
        const reply = raw as Reply
        const p = pending.get(reply.id)
        if (p === undefined) return
        pending.delete(reply.id)
        clearTimeout(p.timer)
        if (reply.ok) p.resolve(reply.result)
        else p.reject(new Error(`worker ${w}: ${reply.error}`))
      })
      child.on('exit', (code, signal) => {
        this.exited[w] = `worker ${w} exited (${signal ?? `code ${code ?? '?'}`})`
        for (const [id, p] of pending) {
          clearTimeout(p.timer)
          p.reject(new Error(this.exited[w]))
          pending.delete(id)
        }
      })
      child.on('error', () => { /* 'exit' follows and fails what is pending */ })
      this.children.push(child)
      this.pending.push(pending)
    }
  }

  /** Workers that died on their own, one line each. */
  deaths (): string[] {
    return this.exited.filter((e): e is string => e !== undefined)
  }

  async init (config: Omit<WorkerConfig, 'worker'>): Promise<void> {
    await Promise.all(this.children.map(async (_, w) => await this.request(w, { cmd: 'init', config: { ...config, worker: w } }, 30_000)))
  }

  async request<T extends Result> (w: number, command: Command, timeoutMs: number): Promise<T> {
    const child = this.children[w]
    if (this.exited[w] !== undefined || !child.connected) throw new Error(this.exited[w] ?? `worker ${w} is not connected`)
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending[w].delete(id)
        reject(new Error(`worker ${w}: ${command.cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending[w].set(id, { resolve: resolve as (r: Result) => void, reject, timer })
      const request: Request = { id, command }
      child.send(request, (err) => {
        if (err === null || err === undefined) return
        clearTimeout(timer)
        this.pending[w].delete(id)
        reject(new Error(`worker ${w}: could not send ${command.cmd}: ${err.message}`))
      })
    })
  }

  /** Kills every worker still running (synchronous, so it also works in an 'exit' handler). */
  killAll (): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        try { child.kill('SIGKILL') } catch { /* already gone */ }
      }
    }
  }

  /** Resolves once every worker has exited, or after `ms`. */
  async waitExit (ms: number): Promise<void> {
    const all = Promise.all(this.children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return
      await new Promise((resolve) => c.once('exit', resolve))
    }))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([all, new Promise((resolve) => { timer = setTimeout(resolve, ms) })])
    clearTimeout(timer)
  }
}

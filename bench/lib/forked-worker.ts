/**
 * The bench's side of one worker process (a compiled bench/lib script): forks it, sends it
 * commands over IPC with a time bound each (`{ id, command }`, answered `{ id, ok, result }` or
 * `{ id, ok: false, error }`), and kills it when asked or when this process exits. A worker
 * that dies fails its pending commands at once. Its stdout goes to our stderr: our stdout
 * carries only the bench's result.
 */
import { fork, type ChildProcess } from 'node:child_process'

export type WorkerReply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

interface Pending { resolve: (r: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }

export class ForkedWorker<Command extends { cmd: string }> {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, Pending>()
  private exited: string | undefined
  private nextId = 1

  /** `label` names the worker in errors; `exitCommand` asks it to stop by itself (close()). */
  constructor (script: string, readonly label: string, private readonly exitCommand: Command, options: { env?: NodeJS.ProcessEnv, execArgv?: string[] } = {}) {
    this.child = fork(script, [], { env: { ...process.env, ...options.env }, execArgv: options.execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' })
    this.child.stdout?.on('data', (d: Buffer) => { process.stderr.write(d) })
    this.child.stderr?.on('data', (d: Buffer) => { process.stderr.write(d) })
    this.child.on('message', (raw: unknown) => {
      const r = raw as WorkerReply
      const p = this.pending.get(r.id)
      if (p === undefined) return
      this.pending.delete(r.id)
      clearTimeout(p.timer)
      if (r.ok) p.resolve(r.result)
      else p.reject(new Error(`${label}: ${r.error}`))
    })
    this.child.on('exit', (code, signal) => {
      this.exited = `${label} exited (${signal ?? `code ${code ?? '?'}`})`
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer)
        p.reject(new Error(this.exited))
        this.pending.delete(id)
      }
    })
    this.child.on('error', () => { /* 'exit' follows and fails what is pending */ })
  }

  async request<T> (command: Command, timeoutMs = 60_000): Promise<T> {
    if (this.exited !== undefined || !this.child.connected) throw new Error(this.exited ?? `${this.label} is not connected`)
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.label}: ${command.cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer })
      this.child.send({ id, command }, (err) => {
        if (err === null || err === undefined) return
        clearTimeout(timer)
        this.pending.delete(id)
        reject(new Error(`${this.label}: could not send ${command.cmd}: ${err.message}`))
      })
    })
  }

  /** Asks the worker to exit; kills it if it has not within `ms`. */
  async close (ms = 10_000): Promise<void> {
    if (this.exited === undefined) await this.request(this.exitCommand, ms).catch(() => {})
    if (this.child.exitCode === null && this.child.signalCode === null) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([new Promise((resolve) => this.child.once('exit', resolve)), new Promise((resolve) => { timer = setTimeout(resolve, ms) })])
      clearTimeout(timer)
    }
    this.kill()
  }

  /** Synchronous, so it also works in an 'exit' handler. */
  kill (): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { this.child.kill('SIGKILL') } catch { /* already gone */ }
    }
  }
}

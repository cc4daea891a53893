/**
 * The bench's side of one mailbox worker process (compiled bench/lib/mailbox-worker.js):
 * forks it, sends commands with a time bound each, kills it when done. A worker that dies
 * fails its pending commands at once.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { MailboxBenchCommand, MailboxBenchReply, MailboxBenchRequest } from './mailbox-protocol.js'

const WORKER = fileURLToPath(new URL('./mailbox-worker.js', import.meta.url))

interface Pending { resolve: (r: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }

export class MailboxWorker {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, Pending>()
  private exited: string | undefined
  private nextId = 1

  constructor (readonly index: number) {
    // Its stdout goes to our stderr: our stdout carries only the result.
    this.child = fork(WORKER, [], { env: { ...process.env, BENCH_WORKER: String(index) }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' })
    this.child.stdout?.on('data', (d: Buffer) => { process.stderr.write(d) })
    this.child.stderr?.on('data', (d: Buffer) => { process.stderr.write(d) })
    this.child.on('message', (raw: unknown) => {
      const r = raw as MailboxBenchReply
      const p = this.pending.get(r.id)
      if (p === undefined) return
      this.pending.delete(r.id)
      clearTimeout(p.timer)
      if (r.ok) p.resolve(r.result)
      else p.reject(new Error(`worker ${index}: ${r.error}`))
    })
    this.child.on('exit', (code, signal) => {
      this.exited = `worker ${index} exited (${signal ?? `code ${code ?? '?'}`})`
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer)
        p.reject(new Error(this.exited))
        this.pending.delete(id)
      }
    })
    this.child.on('error', () => { /* 'exit' follows and fails what is pending */ })
  }

  async request<T> (command: MailboxBenchCommand, timeoutMs = 60_000): Promise<T> {
    if (this.exited !== undefined) throw new Error(this.exited)
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`worker ${this.index}: ${command.cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer })
      const request: MailboxBenchRequest = { id, command }
      this.child.send(request)
    })
  }

  async close (): Promise<void> {
    if (this.exited === undefined) await this.request({ cmd: 'exit' }, 10_000).catch(() => {})
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { this.child.kill('SIGKILL') } catch { /* already gone */ }
    }
  }
}

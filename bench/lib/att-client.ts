/**
 * The bench's side of one peer process (compiled bench/lib/att-peer.js): forks it, sends
 * commands with a time bound each, and kills it when asked or when this process exits. A
 * peer that dies fails its pending commands at once.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { AttCommand, AttReply, AttRequest } from './att-protocol.js'

const PEER = fileURLToPath(new URL('./att-peer.js', import.meta.url))

interface Pending { resolve: (r: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }

export class PeerProcess {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, Pending>()
  private exited: string | undefined
  private nextId = 1

  constructor (readonly role: string, env: NodeJS.ProcessEnv = {}) {
    // --expose-gc: 'mark' collects before taking the RSS baseline; BENCH_PEER_ARGS adds more
    // (--trace-gc, …). Its stdout goes to our stderr: our stdout carries only the result.
    this.child = fork(PEER, [], { env: { ...process.env, ...env, BENCH_ROLE: role }, execArgv: ['--expose-gc', ...(process.env.BENCH_PEER_ARGS ?? '').split(' ').filter((a) => a !== '')], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' })
    this.child.stdout?.on('data', (d: Buffer) => { process.stderr.write(d) })
    this.child.stderr?.on('data', (d: Buffer) => { process.stderr.write(d) })
    this.child.on('message', (raw: unknown) => {
      const r = raw as AttReply
      const p = this.pending.get(r.id)
      if (p === undefined) return
      this.pending.delete(r.id)
      clearTimeout(p.timer)
      if (r.ok) p.resolve(r.result)
      else p.reject(new Error(`${role}: ${r.error}`))
    })
    this.child.on('exit', (code, signal) => {
      this.exited = `${role} exited (${signal ?? `code ${code ?? '?'}`})`
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer)
        p.reject(new Error(this.exited))
        this.pending.delete(id)
      }
    })
    this.child.on('error', () => { /* 'exit' follows and fails what is pending */ })
  }

  async request<T> (command: AttCommand, timeoutMs = 60_000): Promise<T> {
    if (this.exited !== undefined || !this.child.connected) throw new Error(this.exited ?? `${this.role} is not connected`)
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.role}: ${command.cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer })
      const request: AttRequest = { id, command }
      this.child.send(request, (err) => {
        if (err === null || err === undefined) return
        clearTimeout(timer)
        this.pending.delete(id)
        reject(new Error(`${this.role}: could not send ${command.cmd}: ${err.message}`))
      })
    })
  }

  /** Asks the peer to stop its nodes and exit; kills it if it has not within `ms`. */
  async close (ms = 10_000): Promise<void> {
    if (this.exited === undefined) await this.request({ cmd: 'exit' }, ms).catch(() => {})
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

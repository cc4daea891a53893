/**
 * The CLI's side of the local API: finds the running node through <data dir>/api.json and
 * talks to it with the token. When no node runs, says so in one line.
 */
import { readApiFile } from '../node/daemon/api-file.js'
import { CliError, EXIT_REFUSED } from './errors.js'

export interface ApiClient {
  get: <T>(path: string) => Promise<T>
  post: <T>(path: string, body?: unknown) => Promise<T>
  put: <T>(path: string, body?: unknown) => Promise<T>
  del: <T>(path: string) => Promise<T>
  /**
   * Calls onEvent for each Server-Sent Event until the signal aborts or the node stops;
   * onOpen once the stream is open (events from then on will come).
   */
  events: (onEvent: (name: string, data: unknown) => void, signal: AbortSignal, onOpen?: () => void) => Promise<void>
  /** A request whose body or answer is not JSON (attachments): the answer, refusals thrown as ApiCallError. */
  raw: (method: string, path: string, init?: { body?: ReadableStream<Uint8Array>, headers?: Record<string, string> }) => Promise<Response>
}

const NOT_RUNNING = 'no Sotto node is running for this data folder (start one with: sotto start)'

/** No node answers for this data folder (no api.json, or nothing listens on its port). */
export class NodeNotRunningError extends CliError {
  readonly code = 'ERR_NOT_RUNNING'
  constructor () { super(NOT_RUNNING, EXIT_REFUSED) }
}

/** The node refused a request: its error code (docs/API.md), for commands that branch on it. */
export class ApiCallError extends CliError {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message, status >= 500 ? 1 : EXIT_REFUSED)
  }
}

export async function connect (dataDir: string): Promise<ApiClient> {
  const file = await readApiFile(dataDir)
  if (file === undefined) throw new NodeNotRunningError()
  const base = `http://127.0.0.1:${file.port}`
  const headers = { Authorization: `Bearer ${file.token}` }

  async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await fetch(base + path, {
        method,
        headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
    } catch {
      throw new NodeNotRunningError()
    }
    const json = await res.json().catch(() => ({})) as { error?: { code: string, message: string } }
    if (!res.ok) {
      const e = json.error
      throw new ApiCallError(res.status, e?.code ?? 'ERR_UNKNOWN', e?.message ?? `the node answered ${res.status}`)
    }
    return json as T
  }

  return {
    get: async (path) => await call('GET', path),
    post: async (path, body) => await call('POST', path, body ?? {}),
    put: async (path, body) => await call('PUT', path, body ?? {}),
    del: async (path) => await call('DELETE', path),
    async raw (method, path, init = {}) {
      let res: Response
      try {
        res = await fetch(base + path, { method, headers: { ...headers, ...init.headers }, body: init.body, ...(init.body === undefined ? {} : { duplex: 'half' }) } as RequestInit)
      } catch {
        throw new NodeNotRunningError()
      }
      if (!res.ok) {
        const e = (await res.json().catch(() => ({})) as { error?: { code: string, message: string } }).error
        throw new ApiCallError(res.status, e?.code ?? 'ERR_UNKNOWN', e?.message ?? `the node answered ${res.status}`)
      }
      return res
    },
    async events (onEvent, signal, onOpen) {
      let res: Response
      try {
        res = await fetch(base + '/api/events', { headers, signal })
      } catch (err) {
        if (signal.aborted) return
        throw new NodeNotRunningError()
      }
      if (!res.ok || res.body === null) throw new CliError(`the node refused the event stream (${res.status})`, EXIT_REFUSED)
      onOpen?.()
      const decoder = new TextDecoder()
      let buffer = ''
      try {
        const reader = res.body.getReader()
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          buffer += decoder.decode(value, { stream: true })
          let end: number
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const frame = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            let name = 'message'
            let data = ''
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) name = line.slice(7)
              else if (line.startsWith('data: ')) data += line.slice(6)
            }
            if (data !== '') onEvent(name, JSON.parse(data))
          }
        }
      } catch (err) {
        if (!signal.aborted) throw err
      }
    }
  }
}

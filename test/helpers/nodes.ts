/**
 * One request to a node's API with its API token (or `token`; '' for none), as the CLI makes
 * it: the status and the JSON answer ({} when the body is not JSON).
 */
export async function apiCall (n: TestNode, method: string, path: string, body?: unknown, token = n.node.token): Promise<{ status: number, json: any }> {
  const res = await fetch(`http://127.0.0.1:${n.node.apiPort}${path}`, {
    method,
    headers: { ...(token === '' ? {} : { Authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, json: await res.json().catch(() => ({})) }
}

/** Real Sotto nodes in this process, on loopback TCP, mDNS off, fast KDF, for multi-node tests. */
import { join } from 'node:path'
import { startSottoNode } from '../../node/daemon/sotto-node.js'
import type { SottoNode, SottoNodeInit } from '../../node/daemon/types.js'
import { silentLogger } from '../../node/log.js'
import { MIN_SCRYPT } from '../../node/store/kdf.js'
import { tempDir } from './cli.js'
import { rememberTempDir } from './temp-dirs.js'

export const TEST_PASSPHRASE = 'test passphrase 123'

export interface TestNode { node: SottoNode, dataDir: string, restart: (extra?: Partial<SottoNodeInit>) => Promise<SottoNode> }

export async function startTestNode (options: Partial<SottoNodeInit> & { bootstrapFrom?: SottoNode[] } = {}): Promise<TestNode> {
  let dir = options.dataDir
  if (dir === undefined) {
    const parent = await tempDir('sotto-node-')
    rememberTempDir(parent) // removed after the test file (test/helpers/cleanup.ts)
    dir = join(parent.path, 'data')
  }
  const base = (extra: Partial<SottoNodeInit> = {}): SottoNodeInit => ({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: (options.bootstrapFrom ?? []).map((n) => n.addresses()[0]),
    mdns: false,
    apiPort: 0,
    logger: silentLogger,
    kdf: MIN_SCRYPT,
    receiptDelayMs: () => 20,
    ...options,
    ...extra
  })
  const t: TestNode = {
    node: await startSottoNode(base()),
    dataDir: dir,
    async restart (extra) {
      await t.node.stop()
      t.node = await startSottoNode(base(extra))
      return t.node
    }
  }
  return t
}

export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

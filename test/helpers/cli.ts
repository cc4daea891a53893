/** Runs the real `sotto` binary (bin/sotto.js on the project's Node 24) as a child process. */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const NODE = process.execPath
export const SOTTO_BIN = join(ROOT, 'bin', 'sotto.js')

export interface CliResult { code: number | null, stdout: string, stderr: string }

export async function runSotto (args: string[], options: { env?: Record<string, string | undefined>, input?: string, timeoutMs?: number } = {}): Promise<CliResult> {
  const env: Record<string, string> = {}
  // SOTTO_NO_BROWSER: `sotto open` in a test never starts a browser (a test may turn it off).
  for (const [k, v] of Object.entries({ ...process.env, SOTTO_PASSPHRASE: undefined, SOTTO_DATA_DIR: undefined, SOTTO_NO_BROWSER: '1', ...options.env })) {
    if (v !== undefined) env[k] = v
  }
  const child = spawn(NODE, [SOTTO_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdin.end(options.input ?? '')
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export async function tempDir (prefix = 'sotto-test-'): Promise<{ path: string, remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }) } }
}

/**
 * The scale harness (bench/sim.ts) at soak size, as a child process of the compiled bench:
 * 30 nodes in 4 workers, 10 users, 30% of the other nodes stopped, 6 messages to stopped
 * recipients who return 5 s later. Every message sent must reach its recipient exactly once,
 * and at least 90% of record lookups must succeed within 10 s. Bounded: the harness stops
 * itself after 200 s, and this test kills it after 220 s. Run with `npm run test:soak`
 * (which builds first).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SIM = fileURLToPath(new URL('../../dist/bench/sim.js', import.meta.url))

interface SimResult { offlineSent: number, offlineExactlyOnce: number, lookupSuccess: number, notes: string[] }

async function runSim (args: string[], killAfterMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [SIM, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  // SIGTERM lets the harness kill its workers; SIGKILL if it does not go.
  const term = setTimeout(() => { child.kill('SIGTERM') }, killAfterMs)
  const kill = setTimeout(() => { child.kill('SIGKILL') }, killAfterMs + 5_000)
  const code = await new Promise<number | null>((resolve) => { child.on('close', (c) => { resolve(c) }) })
  clearTimeout(term)
  clearTimeout(kill)
  return { code, stdout, stderr }
}

describe('scale harness soak', () => {
  it('30 nodes, 30% churn: every offline message arrives exactly once, lookups succeed', async () => {
    expect(existsSync(SIM), 'dist/bench/sim.js: run `npm run test:soak`, which builds first').toBe(true)
    const seed = process.env.SOAK_SEED ?? '7'
    const { code, stdout, stderr } = await runSim([
      '--nodes', '30', '--churn', '0.3', '--users', '10', '--messages', '6',
      '--return-after-ms', '5000', '--idle-ms', '5000', '--seed', seed, '--timeout-ms', '200000', '--json'
    ], 220_000)
    const line = stdout.trim().split('\n').pop() ?? ''
    let result: SimResult
    try {
      result = JSON.parse(line) as SimResult
    } catch {
      throw new Error(`no JSON from the harness (exit ${String(code)}):\n${stdout}\n${stderr.slice(-4000)}`)
    }
    const context = JSON.stringify(result, null, 1)
    expect(code, context).toBe(0)
    expect(result.offlineSent, context).toBe(6)
    expect(result.offlineExactlyOnce, context).toBe(result.offlineSent)
    expect(result.lookupSuccess, context).toBeGreaterThanOrEqual(0.9)
  }, 240_000)
})

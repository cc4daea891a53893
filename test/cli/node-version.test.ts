/**
 * `sotto` on a Node.js older than it needs (24.7: ML-KEM in node:crypto) says so in one line
 * and exits 1, instead of a stack trace from deep inside a dependency. Runs the bin with the
 * machine's own Node when that one is older (Debian's is 20); skips where there is none.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SOTTO_BIN } from '../helpers/cli.js'

function olderNode (): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(candidate)) continue
    const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
    const [major, minor] = version.split('.').map(Number)
    if (major < 24 || (major === 24 && minor < 7)) return candidate
  }
  return undefined
}

const old = olderNode()
if (old === undefined) console.warn('node-version test skipped: no Node.js older than 24.7 on this machine')

describe.skipIf(old === undefined)('sotto on an old Node.js', () => {
  it('prints one line naming the Node.js it needs, and exits 1', () => {
    const r = spawnSync(old as string, [SOTTO_BIN, '--help'], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^sotto: needs Node\.js 24\.7 or newer .*; this is \d+\.\d+\.\d+\./)
  })
})

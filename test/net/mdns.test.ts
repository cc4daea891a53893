/**
 * mDNS discovery, with no bootstrap peer: run in a network namespace made for the test, so
 * no multicast packet leaves the machine (its loopback carries 224.0.0.0/4).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { NODE, ROOT } from '../helpers/cli.js'

const NS = `sotto-mdns-${process.pid}`
const canUseNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0

afterAll(() => {
  if (canUseNetns) spawnSync('ip', ['netns', 'del', NS])
})

describe.skipIf(!canUseNetns && process.env.CI !== 'true')('LAN discovery', () => {
  it('two nodes find each other by mDNS only, inside a private network namespace, and chat', () => {
    execFileSync('ip', ['netns', 'add', NS])
    execFileSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up', 'multicast', 'on'])
    execFileSync('ip', ['netns', 'exec', NS, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', 'lo'])
    const out = execFileSync('ip', ['netns', 'exec', NS, NODE, join(ROOT, 'test', 'helpers', 'mdns-pair.mjs')], { timeout: 60_000 }).toString()
    const result = JSON.parse(out.trim().split('\n').pop() as string)
    expect(result.discoveredMs).toBeGreaterThanOrEqual(0)
    expect(result.state).toBe('delivered')
    expect(result.text).toBe('found you on the LAN')
  })
})

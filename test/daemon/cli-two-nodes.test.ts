/**
 * The commands a person types, in real processes: two `sotto start` daemons on loopback,
 * `sotto contacts add`, `sotto send`, `sotto inbox --json`, `sotto status --json`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NODE, runSotto, SOTTO_BIN, tempDir } from '../helpers/cli.js'
import { waitFor } from '../helpers/nodes.js'

const PASS = 'cli test passphrase'
const daemons: ChildProcess[] = []
let root: { path: string, remove: () => Promise<void> }

async function startDaemon (dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(NODE, [SOTTO_BIN, 'start', '--data-dir', dataDir, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--json', '--log-level', 'warn', ...extra], {
    env: { ...process.env, SOTTO_PASSPHRASE: PASS }, stdio: ['ignore', 'pipe', 'pipe']
  })
  daemons.push(child)
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  let errText = ''
  child.stderr?.on('data', (d: Buffer) => { errText += d.toString() })
  const line = await waitFor('daemon start line', async () => out.includes('\n') ? out.split('\n')[0] : (child.exitCode !== null ? (() => { throw new Error(`daemon exited: ${errText}`) })() : undefined), 30_000)
  return { child, url: JSON.parse(line).url }
}

beforeAll(async () => {
  root = await tempDir('sotto-cli2-')
}, 60_000)

afterAll(async () => {
  for (const d of daemons) if (d.exitCode === null) d.kill('SIGTERM')
  await Promise.all(daemons.map(async (d) => await new Promise((r) => d.exitCode !== null ? r(null) : d.on('close', r))))
  await root.remove()
})

describe('two sotto start processes talking through the CLI', () => {
  it('send and inbox carry a message between them; status reports the node; a stopped node is said in one line', async () => {
    const a = join(root.path, 'alice')
    const b = join(root.path, 'bob')
    const env = { SOTTO_PASSPHRASE: PASS }
    const aliceId = JSON.parse((await runSotto(['init', '--json', '--data-dir', a], { env })).stdout).sessionId
    const bobId = JSON.parse((await runSotto(['init', '--json', '--data-dir', b], { env })).stdout).sessionId

    expect((await runSotto(['status', '--data-dir', a])).stderr).toMatch(/no Sotto node is running/)

    await startDaemon(a)
    const aStatus = JSON.parse((await runSotto(['status', '--json', '--data-dir', a])).stdout)
    expect(aStatus.sessionId).toBe(aliceId)
    expect(aStatus.peerId).toMatch(/^12D3/)
    expect(aStatus.addresses.length).toBeGreaterThan(0)
    const bootstrap = aStatus.addresses.find((x: string) => x.includes('/tcp/'))
    const bobDaemon = await startDaemon(b, ['--bootstrap', bootstrap])

    await waitFor('both records published', async () => {
      const sa = JSON.parse((await runSotto(['status', '--json', '--data-dir', a])).stdout)
      const sb = JSON.parse((await runSotto(['status', '--json', '--data-dir', b])).stdout)
      return sa.dht.recordPublished && sb.dht.recordPublished
    }, 30_000, 250)

    const add = await runSotto(['contacts', 'add', bobId, '--name', 'Bob', '--data-dir', a])
    expect(add.code, add.stderr).toBe(0)
    const send = await runSotto(['send', 'Bob', 'hello from the CLI', '--json', '--data-dir', a])
    expect(send.code, send.stderr).toBe(0)
    expect(JSON.parse(send.stdout).state).toBe('delivered')

    const inbox = await waitFor('message in bob inbox', async () => {
      const r = await runSotto(['inbox', '--json', '--data-dir', b])
      return r.stdout.trim() === '' ? undefined : r.stdout.trim().split('\n').map((l) => JSON.parse(l))
    })
    expect(inbox[0]).toMatchObject({ from: aliceId, text: 'hello from the CLI', state: 'received' })
    expect(typeof inbox[0].id).toBe('string')
    expect(typeof inbox[0].sentAt).toBe('number')

    bobDaemon.child.kill('SIGTERM')
    await new Promise((r) => bobDaemon.child.on('close', r))
    expect(bobDaemon.child.exitCode).toBe(0)
    const gone = await runSotto(['inbox', '--data-dir', b])
    expect(gone.code).toBe(2)
    expect(gone.stderr.trim().split('\n')).toHaveLength(1)
    expect(gone.stderr).toMatch(/no Sotto node is running/)
  })
})

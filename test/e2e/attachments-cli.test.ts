/**
 * Acceptance: files from the command line, as people use it. Every node is a child process
 * of the real bin (`sotto start`); accounts come from `sotto init`; the rest is the CLI:
 * `sotto send Bob --file PATH TEXT`, `sotto inbox --json` with "attachments", and
 * `sotto attachment save ID --out PATH`, which writes the same bytes and says where; and
 * `sotto send GROUP --file PATH TEXT`, the member's node fetching the file from the author's.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSotto, tempDir } from '../helpers/cli.js'
import { bootstrapAddress, inboxOf, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'

const PASS = 'attachments e2e passphrase'
let root: { path: string, remove: () => Promise<void> }
const users: Record<'Alice' | 'Bob', { node: SottoProcess, id: string }> = {} as any

async function cli (who: 'Alice' | 'Bob', args: string[], expected = 0): Promise<string> {
  const r = await users[who].node.cli(args, { timeoutMs: 60_000 })
  expect(r.code, `sotto ${args.join(' ')} (${who}): ${r.stderr}`).toBe(expected)
  return expected === 0 ? r.stdout : r.stderr
}

beforeAll(async () => {
  root = await tempDir('sotto-attachments-e2e-')
  const hub = await startSotto({ dataDir: join(root.path, 'hub') })
  const hubAddr = await bootstrapAddress(hub)
  for (const name of ['Alice', 'Bob'] as const) {
    const dataDir = join(root.path, name.toLowerCase())
    const init = await runSotto(['init', '--json', '--data-dir', dataDir], { env: { SOTTO_PASSPHRASE: PASS } })
    expect(init.code, init.stderr).toBe(0)
    users[name] = { id: JSON.parse(init.stdout).sessionId, node: await startSotto({ dataDir, passphrase: PASS, bootstrap: [hubAddr] }) }
  }
  for (const name of ['Alice', 'Bob'] as const) await until(`${name}'s record published`, async () => (await statusOf(users[name].node)).dht.recordPublished, 60_000)
  await cli('Alice', ['contacts', 'add', users.Bob.id, '--name', 'Bob'])
  await cli('Bob', ['contacts', 'add', users.Alice.id, '--name', 'Alice'])
}, 180_000)

afterAll(async () => {
  await stopAllSotto()
  await root?.remove()
})

describe('files from the CLI, against sotto start processes', () => {
  it('send --file, inbox --json shows the file with its state, attachment save writes the same bytes', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5)
    const path = join(root.path, 'holiday photo.jpg')
    await writeFile(path, data)
    expect((await cli('Alice', ['send', 'Bob', '--file', path, 'the photo'])).trim()).toBe('delivered')
    const line = await until('the file ready at Bob', async () => {
      const l = (await inboxOf(users.Bob.node)).find((m: any) => m.text === 'the photo') as any
      return l?.attachments?.[0]?.state === 'ready' ? l : undefined
    }, 60_000)
    expect(line.from).toBe(users.Alice.id)
    expect(line.attachments).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{64}$/), name: 'holiday photo.jpg', size: data.length, mime: 'image/jpeg', state: 'ready' }])
    const out = join(root.path, 'saved.jpg')
    expect((await cli('Bob', ['attachment', 'save', line.attachments[0].id, '--out', out])).trim()).toBe(`saved ${data.length} bytes to ${out}`)
    expect(createHash('sha256').update(await readFile(out)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
    // An existing file is never overwritten; an unknown id is refused by its code's words.
    expect(await cli('Bob', ['attachment', 'save', line.attachments[0].id, '--out', out], 1)).toMatch(/exists/)
    expect(await cli('Bob', ['attachment', 'save', 'ab'.repeat(32), '--out', join(root.path, 'x')], 2)).toMatch(/no such attachment/)
  }, 120_000)

  it('send GROUP --file: the member gets the file from the author, inbox --json shows it under the group', async () => {
    const created = JSON.parse(await cli('Alice', ['groups', 'create', 'Trip', '--member', 'Bob', '--json']))
    await until('the group at Bob', async () => {
      const r = await users.Bob.node.cli(['groups', 'list', '--json'])
      return r.code === 0 && (JSON.parse(r.stdout) as any[]).some((g) => g.id === created.id)
    }, 60_000)
    const data = randomBytes(1024 * 1024 + 3)
    const path = join(root.path, 'route.gpx')
    await writeFile(path, data)
    expect(['delivered', 'stored']).toContain((await cli('Alice', ['send', created.id, '--file', path, 'the route'])).trim())
    const line = await until('the group file ready at Bob', async () => {
      const l = (await inboxOf(users.Bob.node)).find((m: any) => m.text === 'the route') as any
      return l?.attachments?.[0]?.state === 'ready' ? l : undefined
    }, 60_000)
    expect(line).toMatchObject({ group: created.id, from: users.Alice.id })
    expect(line.attachments).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{64}$/), name: 'route.gpx', size: data.length, mime: expect.any(String), state: 'ready' }])
    const out = join(root.path, 'route-saved.gpx')
    expect((await cli('Bob', ['attachment', 'save', line.attachments[0].id, '--out', out])).trim()).toBe(`saved ${data.length} bytes to ${out}`)
    expect(createHash('sha256').update(await readFile(out)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
  }, 120_000)
})

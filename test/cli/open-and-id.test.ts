/**
 * `sotto open` (a new link, and the browser opened where there is one, never in a test) and
 * `sotto id` (asks the running node; without one, the passphrase; never "Database failed to
 * open").
 */
import { spawn } from 'node:child_process'
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { opener, openInBrowser, OPEN_PAGE_FILE, type Spawner } from '../../cli/browser.js'
import { NODE_LOCKED } from '../../cli/commands/id.js'
import { openAccount } from '../../node/store/account.js'
import { runSotto, tempDir } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, type TestNode } from '../helpers/nodes.js'
import { until } from '../helpers/sotto-process.js'

const LINK = 'http://127.0.0.1:7878/?token=SECRETtoken0123456789abcdefghijklmnopqrstu'
let n: TestNode
let sessionId = ''
const dirs: Array<{ remove: () => Promise<void> }> = []

beforeAll(async () => {
  n = await startTestNode()
  sessionId = (await n.node.controller.createAccount(TEST_PASSPHRASE)).sessionId
})
afterAll(async () => {
  await n.node.stop()
  for (const d of dirs) await d.remove()
})

async function fresh (): Promise<string> { const d = await tempDir(); dirs.push(d); return d.path }

/** A spawner that records what it was asked to run, and starts or fails as told. */
function fakeSpawn (outcome: 'spawn' | 'error'): { spawn: Spawner, calls: Array<{ command: string, args: string[] }> } {
  const calls: Array<{ command: string, args: string[] }> = []
  return {
    calls,
    spawn: (command, args) => {
      calls.push({ command, args })
      return { once: (event, listener) => { if (event === outcome) queueMicrotask(listener) }, unref: () => {} }
    }
  }
}

describe('opening the browser', () => {
  it.each([
    [{}, 'linux', undefined],
    [{ DISPLAY: ':0' }, 'linux', 'xdg-open'],
    [{ WAYLAND_DISPLAY: 'wayland-0' }, 'freebsd', 'xdg-open'],
    [{}, 'darwin', 'open'],
    [{}, 'win32', 'explorer.exe'],
    [{ DISPLAY: ':0', SOTTO_NO_BROWSER: '1' }, 'linux', undefined],
    [{ SOTTO_NO_BROWSER: '1' }, 'darwin', undefined],
    [{ DISPLAY: ':0', SOTTO_NO_BROWSER: '0' }, 'linux', 'xdg-open']
  ] as const)('env %j on %s: %s', (env, platform, command) => {
    expect(opener(env, platform)?.command).toBe(command)
  })

  it('the opener gets a 0600 page that leads to the link, never the link itself (argv is visible to every user)', async () => {
    const dir = await fresh()
    const fake = fakeSpawn('spawn')
    expect(await openInBrowser(LINK, { env: { DISPLAY: ':0' }, platform: 'linux', dataDir: dir, spawn: fake.spawn })).toBe(true)
    const page = join(dir, OPEN_PAGE_FILE)
    expect(fake.calls).toEqual([{ command: 'xdg-open', args: [pathToFileURL(page).href] }])
    expect(JSON.stringify(fake.calls)).not.toContain('SECRETtoken')
    expect((await stat(page)).mode & 0o777).toBe(0o600)
    expect(await readFile(page, 'utf8')).toContain(`<meta http-equiv="refresh" content="0;url=${LINK}">`)
  })

  it('no opener installed, or none wanted: false, and nothing thrown', async () => {
    const dir = await fresh()
    expect(await openInBrowser(LINK, { env: { DISPLAY: ':0' }, platform: 'linux', dataDir: dir, spawn: fakeSpawn('error').spawn })).toBe(false)
    const thrower: Spawner = () => { throw Object.assign(new Error('spawn EACCES'), { code: 'EACCES' }) }
    expect(await openInBrowser(LINK, { env: { DISPLAY: ':0' }, platform: 'linux', dataDir: dir, spawn: thrower })).toBe(false)
    const unused = fakeSpawn('spawn')
    const noDisplay = await fresh()
    expect(await openInBrowser(LINK, { env: {}, platform: 'linux', dataDir: noDisplay, spawn: unused.spawn })).toBe(false)
    expect(unused.calls).toEqual([])
    await expect(stat(join(noDisplay, OPEN_PAGE_FILE))).rejects.toMatchObject({ code: 'ENOENT' })
    // A real child process of a program that does not exist (ENOENT comes as an event).
    const missing = await openInBrowser(LINK, { env: { DISPLAY: ':0' }, platform: 'linux', dataDir: dir, spawn: (_c, a) => spawn('sotto-no-such-opener', a, { stdio: 'ignore' }) })
    expect(missing).toBe(false)
  })

  it('sotto open prints a fresh link and hands the system opener the page; --no-browser, and the tests\' SOTTO_NO_BROWSER, only print', async () => {
    // A stand-in xdg-open that records its arguments, first on PATH, with a display set.
    const bin = await fresh()
    const record = join(bin, 'opened.txt')
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$*" > "${record}"\n`)
    await chmod(join(bin, 'xdg-open'), 0o700)
    const env = { DISPLAY: ':99', SOTTO_NO_BROWSER: '', PATH: `${bin}:${process.env.PATH ?? ''}` }
    const page = join(n.dataDir, OPEN_PAGE_FILE)

    const opened = await runSotto(['open', '--data-dir', n.dataDir], { env })
    expect(opened.code, opened.stderr).toBe(0)
    const link = opened.stdout.trim()
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${n.node.apiPort}/\\?token=[A-Za-z0-9_-]{43}$`))
    expect(opened.stderr).toMatch(/Opening it in your browser/)
    const argv = await until('the stand-in opener ran', async () => await readFile(record, 'utf8').catch(() => undefined), 10_000, 50)
    expect(argv).toBe(pathToFileURL(page).href)
    expect(await readFile(page, 'utf8')).toContain(link)

    for (const [args, extraEnv] of [[['--no-browser'], env], [[], { ...env, SOTTO_NO_BROWSER: '1' }], [['--json'], env]] as const) {
      await rm(page, { force: true })
      await rm(record, { force: true })
      const r = await runSotto(['open', ...args, '--data-dir', n.dataDir], { env: extraEnv })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/token=/)
      expect(r.stderr).toBe('')
      // The page is written before any opener starts: no page, no opener.
      await expect(stat(page)).rejects.toMatchObject({ code: 'ENOENT' })
    }
  })
})

describe('sotto id', () => {
  it('asks the running, unlocked node: no passphrase needed, and no "Database failed to open"', async () => {
    const r = await runSotto(['id', '--data-dir', n.dataDir])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(sessionId)
    expect(JSON.parse((await runSotto(['id', '--json', '--data-dir', n.dataDir])).stdout)).toEqual({ sessionId })
  })

  it('a running node that is locked: says so, exits 2, asks nothing (UI lock, and account closed)', async () => {
    await n.node.controller.lock()
    const uiLocked = await runSotto(['id', '--data-dir', n.dataDir], { env: { SOTTO_PASSPHRASE: TEST_PASSPHRASE } })
    expect(uiLocked.code).toBe(2)
    expect(uiLocked.stderr.trim()).toBe(`sotto: ${NODE_LOCKED}`)
    expect(uiLocked.stdout).toBe('')
    await n.restart()
    const closed = await runSotto(['id', '--data-dir', n.dataDir], { env: { SOTTO_PASSPHRASE: TEST_PASSPHRASE } })
    expect(closed.code).toBe(2)
    expect(closed.stderr.trim()).toBe(`sotto: ${NODE_LOCKED}`)
    await n.node.controller.unlock(TEST_PASSPHRASE)
  })

  it('no node: the passphrase opens the folder; a folder held by another process gets a clear line, not a crash', async () => {
    await n.node.stop()
    try {
      const r = await runSotto(['id', '--data-dir', n.dataDir], { env: { SOTTO_PASSPHRASE: TEST_PASSPHRASE } })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.trim()).toBe(sessionId)
      // Another process holds the database (a node starting, before its API answers).
      const held = await openAccount(n.dataDir, TEST_PASSPHRASE)
      try {
        const busy = await runSotto(['id', '--data-dir', n.dataDir], { env: { SOTTO_PASSPHRASE: TEST_PASSPHRASE } })
        expect(busy.code).toBe(2)
        expect(busy.stderr.trim()).toBe(`sotto: a Sotto node is using ${n.dataDir}; wait until it has started (then: sotto id), or stop it`)
        expect(busy.stderr).not.toMatch(/Database failed to open/)
      } finally {
        await held.close()
      }
    } finally {
      await n.restart({ passphrase: TEST_PASSPHRASE })
    }
  })
})

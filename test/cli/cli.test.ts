/** The real `sotto` binary in child processes, as a person or a script would run it. */
import { chmod, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runSotto, tempDir } from '../helpers/cli.js'
import { startTestNode, TEST_PASSPHRASE, waitFor } from '../helpers/nodes.js'
import { startSotto, stopAllSotto } from '../helpers/sotto-process.js'

const PASS = 'a good long passphrase'
const PHRASE_12 = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
/**
 * The libsession-util vector of test/identity/keys.test.ts (oxen-io/libsession-util
 * tests/test_config_contacts.cpp: seed 0123456789abcdef0123456789abcdef + 16 zero bytes gives
 * Session ID 05d2ad01…), as the BIP39 English phrase of those 16 bytes of entropy.
 */
const LIBSESSION_PHRASE = 'abuse boss fly battle rubber wasp afraid hamster guide essence vibrant tattoo'
const LIBSESSION_SESSION_ID = '05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72'
const dirs: Array<{ remove: () => Promise<void> }> = []
afterAll(async () => {
  await stopAllSotto()
  for (const d of dirs) await d.remove()
})
async function fresh (): Promise<string> { const d = await tempDir(); dirs.push(d); return d.path }

describe('sotto CLI', () => {
  it('--help explains the commands and exits 0; no command is a usage error', async () => {
    const help = await runSotto(['--help'])
    expect(help.code).toBe(0)
    for (const word of ['init', 'restore', 'id', 'passwd', '--data-dir', '--passphrase-file']) expect(help.stdout).toContain(word)
    const none = await runSotto([])
    expect(none.code).toBe(1)
    const unknown = await runSotto(['frobnicate'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('init prints the phrase once and the Session ID; restore of that phrase gives the same ID; init refuses to overwrite', async () => {
    const root = await fresh()
    const env = { SOTTO_PASSPHRASE: PASS }
    const init = await runSotto(['init', '--json', '--data-dir', join(root, 'a')], { env })
    expect(init.code, init.stderr).toBe(0)
    const { sessionId, phrase } = JSON.parse(init.stdout)
    expect(sessionId).toMatch(/^05[0-9a-f]{64}$/)
    expect(phrase.split(' ')).toHaveLength(12)
    const id = await runSotto(['id', '--data-dir', join(root, 'a')], { env })
    expect(id.stdout.trim()).toBe(sessionId)
    // Restore on "another machine" (another folder), the phrase piped on stdin.
    const restore = await runSotto(['restore', '--json'], { env: { ...env, SOTTO_DATA_DIR: join(root, 'b') }, input: phrase + '\n' })
    expect(restore.code, restore.stderr).toBe(0)
    expect(JSON.parse(restore.stdout).sessionId).toBe(sessionId)
    const again = await runSotto(['init', '--data-dir', join(root, 'a')], { env })
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/already exists/)
    expect((await runSotto(['id', '--json', '--data-dir', join(root, 'a')], { env })).stdout).toContain(sessionId)
  })

  it('restores a known phrase to its known Session ID, human output', async () => {
    const root = await fresh()
    const r = await runSotto(['restore', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS }, input: LIBSESSION_PHRASE + '\n' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`Your Session ID: ${LIBSESSION_SESSION_ID}`)
    expect((await runSotto(['id', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })).stdout.trim()).toBe(LIBSESSION_SESSION_ID)
  })

  it('K2 via the CLI: a mistyped phrase names the problem, exits 2 and creates nothing', async () => {
    const root = await fresh()
    const cases: Array<[string, RegExp]> = [
      [PHRASE_12.replace('thank', 'thamk'), /word 3 \("thamk"\)/],
      [PHRASE_12.replace('yellow', 'winner'), /checksum/],
      [PHRASE_12.split(' ').slice(0, 11).join(' '), /12 or 24 words; this one has 11/]
    ]
    for (const [input, message] of cases) {
      const r = await runSotto(['restore', '--data-dir', join(root, 'x')], { env: { SOTTO_PASSPHRASE: PASS }, input: input + '\n' })
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toContain(input)
    }
    await expect(stat(join(root, 'x', 'account'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('a wrong passphrase says "wrong passphrase", exits 2 and changes nothing', async () => {
    const root = await fresh()
    await runSotto(['init', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })
    const before = await listing(root)
    const r = await runSotto(['id', '--data-dir', root], { env: { SOTTO_PASSPHRASE: 'wrong passphrase!' } })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('sotto: wrong passphrase')
    expect(await listing(root)).toEqual(before)
  })

  it('passwd changes the passphrase; the old one is then refused', async () => {
    const root = await fresh()
    const init = await runSotto(['init', '--json', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })
    const { sessionId } = JSON.parse(init.stdout)
    const p = await runSotto(['passwd', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS, SOTTO_NEW_PASSPHRASE: 'second passphrase' } })
    expect(p.code, p.stderr).toBe(0)
    expect((await runSotto(['id', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })).code).toBe(2)
    expect((await runSotto(['id', '--data-dir', root], { env: { SOTTO_PASSPHRASE: 'second passphrase' } })).stdout.trim()).toBe(sessionId)
  })

  it('C1: --passphrase-file works, and a world-readable one gets a warning', async () => {
    const root = await fresh()
    const file = join(root, 'pass.txt')
    await writeFile(file, PASS + '\n')
    await chmod(file, 0o644)
    const r = await runSotto(['init', '--data-dir', join(root, 'd'), '--passphrase-file', file])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/can be read by other users/)
    await chmod(file, 0o600)
    const id = await runSotto(['id', '--data-dir', join(root, 'd'), '--passphrase-file', file])
    expect(id.code).toBe(0)
    expect(id.stderr).not.toMatch(/can be read by other users/)
  })

  it('C2: the data folder is created 0700 and the key file 0600', async () => {
    const root = await fresh()
    await runSotto(['init', '--data-dir', join(root, 'd')], { env: { SOTTO_PASSPHRASE: PASS } })
    expect((await stat(join(root, 'd'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'd', 'account'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'd', 'account', 'keyfile.json'))).mode & 0o777).toBe(0o600)
  })

  it('C2: after init, a run of sotto start and a contact added, every folder in the data folder is 0700 and every file 0600', async () => {
    const root = await fresh()
    const dir = join(root, 'd')
    expect((await runSotto(['init', '--data-dir', dir], { env: { SOTTO_PASSPHRASE: PASS } })).code).toBe(0)
    const node = await startSotto({ dataDir: dir, passphrase: PASS })
    try {
      const added = await node.cli(['contacts', 'add', LIBSESSION_SESSION_ID, '--name', 'Carol'])
      expect(added.code, added.stderr).toBe(0)
    } finally {
      expect(await node.stop()).toBe(0)
    }
    const modes: Array<[string, number, boolean]> = []
    async function walk (p: string): Promise<void> {
      const s = await stat(p)
      modes.push([p.slice(dir.length), s.mode & 0o777, s.isDirectory()])
      if (s.isDirectory()) for (const name of await readdir(p)) await walk(join(p, name))
    }
    await walk(dir)
    expect(modes.some(([p]) => p.startsWith('/account/db/'))).toBe(true)
    expect(modes.filter(([, mode, isDir]) => mode !== (isDir ? 0o700 : 0o600)).map(([p, mode]) => `${p} ${mode.toString(8)}`)).toEqual([])
  })

  it('C3: errors are one line without a stack trace, unless --debug', async () => {
    const root = await fresh()
    const plain = await runSotto(['id', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })
    expect(plain.code).toBe(2)
    expect(plain.stderr.trim().split('\n')).toHaveLength(1)
    expect(plain.stderr).toMatch(/no account/)
    expect(plain.stderr).not.toMatch(/\n\s+at /)
    const debug = await runSotto(['id', '--debug', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })
    expect(debug.stderr).toMatch(/\n\s+at /)
    // No secret in an error: the passphrase never appears.
    expect(plain.stderr + debug.stderr).not.toContain(PASS)
  })

  it('sotto start with a wrong passphrase says so, exits 2 and leaves nothing running', async () => {
    const root = await fresh()
    await runSotto(['init', '--data-dir', root], { env: { SOTTO_PASSPHRASE: PASS } })
    const r = await runSotto(['start', '--data-dir', root, '--no-mdns', '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'], { env: { SOTTO_PASSPHRASE: 'not the passphrase' }, timeoutMs: 15_000 })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('sotto: wrong passphrase')
  })

  it('C1: sotto send reads the text from stdin when none is given, so it stays out of argv; help says why', async () => {
    const a = await startTestNode()
    const b = await startTestNode({ bootstrapFrom: [a.node] })
    try {
      await a.node.controller.createAccount(TEST_PASSPHRASE)
      const bob = await b.node.controller.createAccount(TEST_PASSPHRASE)
      await a.node.controller.messenger().contacts.add(bob.sessionId as never, 'Bob')
      await waitFor('both records published', async () => (await a.node.controller.status()).dht.recordPublished && (await b.node.controller.status()).dht.recordPublished)

      const text = 'words for Bob only\nand a second line'
      const piped = await runSotto(['send', 'Bob', '--data-dir', a.dataDir], { input: text + '\n' })
      expect(piped.code, piped.stderr).toBe(0)
      expect(piped.stdout.trim()).toBe('delivered')
      // B committed it before acknowledging: it is in B's inbox now, the final newline dropped.
      expect((await b.node.controller.messenger().log.inbox(0)).map((m) => m.text)).toEqual([text])

      // Text on the command line still works (documented as visible to other local users).
      const argv = await runSotto(['send', 'Bob', 'from', 'argv', '--data-dir', a.dataDir])
      expect(argv.code, argv.stderr).toBe(0)
      expect((await b.node.controller.messenger().log.inbox(0)).map((m) => m.text)).toEqual([text, 'from argv'])
      // Nothing on stdin and nothing on the command line: a usage error, nothing sent.
      const empty = await runSotto(['send', 'Bob', '--data-dir', a.dataDir], { input: '' })
      expect(empty.code).toBe(1)
      expect(empty.stderr).toMatch(/usage: sotto send CONTACT/)
      expect(await b.node.controller.messenger().log.inbox(0)).toHaveLength(2)

      const help = await runSotto(['send', '--help'])
      expect(help.stdout).toMatch(/echo .* \| sotto send/)
      expect(help.stdout).toMatch(/visible to other users of\s+this computer/)
    } finally {
      await Promise.all([a.node.stop(), b.node.stop()])
    }
  })

  it('sotto open with no node running says so in one line and exits 2', async () => {
    const root = await fresh()
    const r = await runSotto(['open', '--data-dir', root])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('sotto: no Sotto node is running for this data folder (start one with: sotto start)')
  })

  it('refuses a short passphrase for a new account', async () => {
    const root = await fresh()
    const r = await runSotto(['init', '--data-dir', root], { env: { SOTTO_PASSPHRASE: 'short' } })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/at least 8 characters/)
    await expect(stat(join(root, 'account'))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

async function listing (dir: string): Promise<string[]> {
  const out: string[] = []
  async function walk (d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else { const s = await stat(p); out.push(`${p} ${s.size} ${s.mtimeMs}`) }
    }
  }
  await walk(dir)
  return out.sort()
}

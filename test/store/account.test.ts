import { spawn } from 'node:child_process'
import { watch, type FSWatcher } from 'node:fs'
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accountExists, changePassphrase, createAccount, openAccount, jsonValue, getJson, MIN_SCRYPT } from '../../node/store/index.js'
import { ACCOUNT_DIR } from '../../node/store/account.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { deriveKek } from '../../node/store/kdf.js'
import { toHex, utf8 } from '../../node/bytes.js'
import { tempDir, NODE, ROOT } from '../helpers/cli.js'

/** Fast parameters for tests (still the enforced minimum); production uses DEFAULT_SCRYPT. */
const kdf = MIN_SCRYPT
const PASS = 'correct horse battery'
const dirs: Array<{ remove: () => Promise<void> }> = []
afterAll(async () => { for (const d of dirs) await d.remove() })
async function dataDir (): Promise<string> { const d = await tempDir(); dirs.push(d); return join(d.path, 'data') }

/** Every file under dir with its bytes; for "nothing changed" and "nothing leaked" checks. */
async function snapshot (dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  async function walk (d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out.set(p, await readFile(p))
    }
  }
  await walk(dir)
  return out
}

/** [path relative to dir, permission bits, is a folder] for dir and everything under it. */
async function fileModes (dir: string): Promise<Array<[string, number, boolean]>> {
  const out: Array<[string, number, boolean]> = []
  async function walk (p: string): Promise<void> {
    const s = await stat(p)
    out.push([p.slice(dir.length + 1) || '.', s.mode & 0o777, s.isDirectory()])
    if (s.isDirectory()) for (const name of await readdir(p)) await walk(join(p, name))
  }
  await walk(dir)
  return out
}

type KillTrigger = 'staging' | 'keyfile-tmp' | 'keyfile' | 'db' | 'commit'

/**
 * Runs account-creator.mjs on `dir` and SIGKILLs it `afterMs` after `trigger` shows on disk
 * (fs.watch on the data folder and on the staging folder inside it). True if it was killed
 * before it said "created"; false if it finished first (the trigger came too late, or never).
 */
async function killDuringCreation (script: string, dir: string, trigger: KillTrigger, afterMs: number): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const watchers: FSWatcher[] = []
  const child = spawn(NODE, [script, dir, PASS], { stdio: ['ignore', 'pipe', 'inherit'] })
  let created = false
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('created\n')) created = true })
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  let fired = false
  const fire = (): void => {
    if (fired) return
    fired = true
    const kill = (): void => { child.kill('SIGKILL') }
    if (afterMs === 0) kill()
    else setTimeout(kill, afterMs)
  }
  watchers.push(watch(dir, (_event, name) => {
    if (name === ACCOUNT_DIR && trigger === 'commit') fire()
    if (name === null || !name.startsWith('.account-staging-') || watchers.length > 1) return
    if (trigger === 'staging') { fire(); return }
    try {
      watchers.push(watch(join(dir, name), (_e, inner) => {
        if (inner === null) return
        if (trigger === 'keyfile-tmp' && inner.startsWith('keyfile.json.') && inner.endsWith('.tmp')) fire()
        if (trigger === 'keyfile' && inner === 'keyfile.json') fire()
        if (trigger === 'db' && inner === 'db') fire()
      }))
    } catch {
      // The staging folder is gone already (renamed into place): the kill comes too late.
    }
  }))
  await exited
  for (const w of watchers) w.close()
  return !created
}

describe('the encrypted account store', () => {
  it('scrypt from node:crypto gives the same keys as @noble/hashes (RFC 7914 parameters)', async () => {
    for (let i = 0; i < 3; i++) {
      const salt = utf8(`salt-${i}`)
      const ours = await deriveKek(`pass-${i}`, salt, { name: 'scrypt', logN: 15, r: 8, p: 1 })
      expect(toHex(ours)).toBe(toHex(nobleScrypt(`pass-${i}`, salt, { N: 2 ** 15, r: 8, p: 1, dkLen: 32 })))
    }
  })

  it('creates, reopens and restores: the same Session ID, identity in the store', async () => {
    const dir = await dataDir()
    const entropy = new Uint8Array(16).fill(5)
    const created = await createAccount(dir, PASS, entropy, { kdf })
    const id = created.identity.sessionId
    await created.close()
    const opened = await openAccount(dir, PASS)
    expect(opened.identity.sessionId).toBe(id)
    await opened.close()
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'account', 'keyfile.json'))).mode & 0o777).toBe(0o600)
  })

  it('L2: a wrong passphrase is refused and changes no file', async () => {
    const dir = await dataDir()
    const account = await createAccount(dir, PASS, new Uint8Array(16).fill(6), { kdf })
    await account.close()
    const before = await snapshot(dir)
    await expect(openAccount(dir, 'not the passphrase')).rejects.toMatchObject({ code: 'ERR_WRONG_PASSPHRASE' })
    await expect(changePassphrase(dir, 'not the passphrase', 'another one', kdf)).rejects.toMatchObject({ code: 'ERR_WRONG_PASSPHRASE' })
    const after = await snapshot(dir)
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort())
    for (const [p, bytes] of before) expect(after.get(p)?.equals(bytes)).toBe(true)
  })

  it('changing the passphrase rewraps the key only: old one refused, new one opens the same data', async () => {
    const dir = await dataDir()
    const account = await createAccount(dir, PASS, new Uint8Array(16).fill(7), { kdf })
    await account.store.put(['contact', 'x'], jsonValue({ name: 'Zed' }))
    await account.close()
    const dbBefore = await snapshot(join(dir, 'account', 'db'))
    await changePassphrase(dir, PASS, 'a brand new passphrase', kdf)
    const dbAfter = await snapshot(join(dir, 'account', 'db'))
    for (const [p, bytes] of dbBefore) if (!p.endsWith('LOG') && !p.endsWith('LOG.old')) expect(dbAfter.get(p)?.equals(bytes)).toBe(true)
    await expect(openAccount(dir, PASS)).rejects.toMatchObject({ code: 'ERR_WRONG_PASSPHRASE' })
    const reopened = await openAccount(dir, 'a brand new passphrase')
    expect(await getJson(reopened.store, ['contact', 'x'])).toEqual({ name: 'Zed' })
    await reopened.close()
  })

  it('L6: KDF parameters in the key file are authenticated and cannot go below the minimum', async () => {
    const dir = await dataDir()
    const account = await createAccount(dir, PASS, new Uint8Array(16).fill(8), { kdf: { name: 'scrypt', logN: 16, r: 8, p: 1 } })
    await account.close()
    const file = join(dir, 'account', 'keyfile.json')
    const original = JSON.parse(await readFile(file, 'utf8'))
    // Lowered to the minimum (allowed value, but not what was written): the unwrap fails.
    await writeFile(file, JSON.stringify({ ...original, kdf: { ...original.kdf, logN: 15 } }))
    await expect(openAccount(dir, PASS)).rejects.toMatchObject({ code: 'ERR_WRONG_PASSPHRASE' })
    // Below the minimum: refused before any work.
    await writeFile(file, JSON.stringify({ ...original, kdf: { ...original.kdf, logN: 10 } }))
    await expect(openAccount(dir, PASS)).rejects.toMatchObject({ code: 'ERR_KDF_TOO_WEAK' })
    await writeFile(file, JSON.stringify(original))
    const ok = await openAccount(dir, PASS)
    await ok.close()
  })

  it('refuses to create a second account in the same folder', async () => {
    const dir = await dataDir()
    const a = await createAccount(dir, PASS, new Uint8Array(16).fill(9), { kdf })
    await a.close()
    await expect(createAccount(dir, PASS, new Uint8Array(16).fill(10), { kdf })).rejects.toMatchObject({ code: 'ERR_ACCOUNT_EXISTS' })
    const again = await openAccount(dir, PASS)
    expect(again.identity.sessionId).toBe((await import('../../node/identity/keys.js')).deriveIdentity(new Uint8Array(16).fill(9)).sessionId)
    await again.close()
  })

  it('L1: no byte of the data folder holds a marker message, a contact\'s Session ID, the phrase entropy or a private key', async () => {
    const dir = await dataDir()
    const entropy = new Uint8Array(16).map((_, i) => 0xa0 + i)
    const account = await createAccount(dir, PASS, entropy, { kdf })
    const marker = `MARKER-${toHex(new Uint8Array(8).map(() => Math.floor(Math.random() * 256)))}`
    const contact = '05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72'
    await account.store.put(['contact', contact], jsonValue({ id: contact, name: 'Bob' }))
    for (let i = 0; i < 50; i++) await account.store.put(['msg', contact, i], jsonValue({ from: contact, text: `${marker} number ${i}` }))
    const secrets = [account.identity.signingSeed, account.identity.dhPrivateKey, entropy].map((b) => Buffer.from(b))
    const ownId = account.identity.sessionId
    await account.close()
    const needles = [
      Buffer.from(marker), Buffer.from(marker, 'utf16le'), Buffer.from(contact), Buffer.from(contact.slice(2), 'hex'),
      Buffer.from(ownId), Buffer.from(ownId.slice(2), 'hex'), ...secrets, Buffer.from(toHex(entropy))
    ]
    const files = await snapshot(dir)
    expect(files.size).toBeGreaterThan(2)
    for (const [path, bytes] of files) {
      for (const needle of needles) expect(bytes.includes(needle), `${path} contains a secret`).toBe(false)
    }
  })

  it('L1: after creating an account and writing to it, every folder of the data folder is 0700 and every file 0600', async () => {
    const dir = await dataDir()
    const account = await createAccount(dir, PASS, new Uint8Array(16).fill(5), { kdf })
    for (let i = 0; i < 20; i++) await account.store.put(['msg', 'log', i], jsonValue({ n: i, text: 'x'.repeat(2000) }))
    await account.close()
    // Reopening replays LevelDB's log into new files: those too.
    const again = await openAccount(dir, PASS)
    await again.store.put(['meta', 'counter'], jsonValue({ n: 20 }))
    await again.close()
    const modes = await fileModes(dir)
    expect(modes.some(([path]) => path.includes(`${ACCOUNT_DIR}/db/`))).toBe(true)
    const wrong = modes.filter(([, mode, isDir]) => mode !== (isDir ? 0o700 : 0o600)).map(([path, mode]) => `${path} ${mode.toString(8)}`)
    expect(wrong).toEqual([])
  })

  it('L1: a database folder left 0755/0644 by an older version is made private when the account opens', async () => {
    const dir = await dataDir()
    const account = await createAccount(dir, PASS, new Uint8Array(16).fill(6), { kdf })
    await account.close()
    const db = join(dir, ACCOUNT_DIR, 'db')
    await chmod(db, 0o755)
    for (const name of await readdir(db)) await chmod(join(db, name), 0o644)
    await (await openAccount(dir, PASS)).close()
    const wrong = (await fileModes(dir)).filter(([, mode, isDir]) => mode !== (isDir ? 0o700 : 0o600)).map(([path, mode]) => `${path} ${mode.toString(8)}`)
    expect(wrong).toEqual([])
  })

  it('L4: a process killed at any point of its writes leaves the store openable and consistent', async () => {
    const dir = await dataDir()
    const account = await createAccount(dir, PASS, new Uint8Array(16).fill(11), { kdf })
    await account.close()
    const script = join(ROOT, 'test', 'helpers', 'store-writer.mjs')
    for (let round = 0; round < 4; round++) {
      const child = spawn(NODE, [script, dir, PASS], { stdio: ['ignore', 'pipe', 'inherit'] })
      // Kill once the writer is in its loop, at a different moment each round.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      await new Promise((r) => setTimeout(r, 20 + round * 37))
      child.kill('SIGKILL')
      await new Promise((r) => child.on('close', r))
      const opened = await openAccount(dir, PASS)
      const counter = await getJson<{ n: number }>(opened.store, ['meta', 'counter'])
      expect(counter).toBeDefined()
      // Each batch wrote the counter and its message together: both or neither.
      const last = await getJson<{ n: number }>(opened.store, ['msg', 'log', counter!.n])
      expect(last?.n).toBe(counter!.n)
      expect(await opened.store.get(['msg', 'log', counter!.n + 1])).toBeUndefined()
      await opened.close()
    }
  })

  it('L4: an account creation killed at any point of its writes leaves no account or a whole one, and init works after', async () => {
    const script = join(ROOT, 'test', 'helpers', 'account-creator.mjs')
    const expectedId = deriveIdentity(new Uint8Array(16).fill(12)).sessionId
    // Where the kill lands, each counted from an event of createAccount seen on disk: the
    // staging folder appearing (creation has started; the KDF runs next), the key file's
    // temporary file, the key file, the database folder (then a few ms into the database
    // writes), and the staging folder renamed into place (the commit point).
    const points: Array<[KillTrigger, number]> = [
      ['staging', 0], ['staging', 15], ['keyfile-tmp', 0], ['keyfile', 0], ['keyfile', 1],
      ['db', 0], ['db', 1], ['db', 2], ['db', 4], ['db', 8], ['db', 15], ['commit', 0]
    ]
    const rounds: Array<{ trigger: KillTrigger, afterMs: number, killed: boolean, account: boolean, staging: string[] }> = []
    for (const [trigger, afterMs] of points) {
      const dir = await dataDir()
      const killed = await killDuringCreation(script, dir, trigger, afterMs)
      const account = await accountExists(dir)
      const names = await readdir(dir)
      const staging = names.filter((n) => n.startsWith('.account-staging-'))
      const stagingContents = staging.length === 0 ? [] : await readdir(join(dir, staging[0]))
      rounds.push({ trigger, afterMs, killed, account, staging: stagingContents })
      if (account) {
        // Past the commit point: the account is whole, with its identity.
        expect(staging, 'the staging folder was renamed into place').toEqual([])
        const a = await openAccount(dir, PASS)
        expect(a.identity.sessionId).toBe(expectedId)
        await a.close()
      } else {
        // Before it: no account at all, whatever the staging folder holds...
        expect(names.filter((n) => !n.startsWith('.account-staging-'))).toEqual([])
        await expect(openAccount(dir, PASS)).rejects.toMatchObject({ code: 'ERR_NO_ACCOUNT' })
        // ...and creating one works and leaves no staging folder behind.
        const b = await createAccount(dir, PASS, new Uint8Array(16).fill(13), { kdf })
        expect(b.identity.sessionId).toBe(deriveIdentity(new Uint8Array(16).fill(13)).sessionId)
        await b.close()
        expect((await readdir(dir)).filter((n) => n.startsWith('.account-staging-'))).toEqual([])
      }
    }
    // The kills did land inside the writes: before the KDF finished (empty staging folder),
    // and after the key file was written but before the commit.
    const summary = JSON.stringify(rounds)
    expect(rounds.some((r) => r.killed && !r.account && r.staging.length === 0), summary).toBe(true)
    expect(rounds.some((r) => r.killed && !r.account && r.staging.includes('keyfile.json')), summary).toBe(true)
    // And some after the commit point, where the account must be whole.
    expect(rounds.some((r) => r.killed && r.account), summary).toBe(true)
    expect(rounds.filter((r) => r.killed).length, summary).toBeGreaterThanOrEqual(points.length - 2)
  })
})

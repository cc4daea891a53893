/**
 * An account on disk: `<data dir>/account/` holding the key file and the level database.
 * Creating one is all-or-nothing: everything is written in a hidden sibling folder that is
 * renamed into place only when complete, so a process killed mid-way leaves no half account.
 * Opening checks the passphrase against the key file before the database is touched, so a
 * wrong passphrase changes no file (L2).
 */
import { randomBytes } from 'node:crypto'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { access, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { deriveIdentity, type IdentityKeys } from '../identity/keys.js'
import { toHex, fromHex, utf8, wipe } from '../bytes.js'
import { AccountExistsError, NoAccountError, StoreFormatError } from './errors.js'
import { DEFAULT_SCRYPT, type ScryptParams } from './kdf.js'
import { fsyncDir, newDataKey, readKeyFile, unwrapDataKey, wrapDataKey, writeKeyFile } from './keyfile.js'
import { openLevelKV, type RawKV } from './raw.js'
import { compactTables } from './compaction.js'
import { EPHEMERAL_KEYS_FILE, EphemeralKeys, fileKeyStore } from './ephemeral-keys.js'
import { createSealedStore, getJson, jsonValue } from './sealed-store.js'
import { ensurePrivateDir } from './data-dir.js'
import type { SecureStore } from './types.js'

export const ACCOUNT_DIR = 'account'
const DB_DIR = 'db'
const STAGING_PREFIX = '.account-staging-'
const IDENTITY_KEY = ['account', 'identity'] as const

interface IdentityRecord { v: 1, entropy: string, createdAt: number }

export interface Account {
  readonly dir: string
  readonly store: SecureStore
  readonly identity: IdentityKeys
  /** The entropy behind the recovery phrase (secret), for showing the phrase again. */
  readonly entropy: Uint8Array
  /** Short-lived keys for disappearing records, kept outside the database (ephemeral-keys.ts). */
  readonly ephemeral: EphemeralKeys
  /** Rewrites the database files holding these tables, so deleted values leave them. */
  compact: (tables: Iterable<string>) => Promise<void>
  close: () => Promise<void>
}

export interface CreateAccountOptions {
  kdf?: ScryptParams
  now?: () => number
}

export function accountDir (dataDir: string): string {
  return join(dataDir, ACCOUNT_DIR)
}

export async function accountExists (dataDir: string): Promise<boolean> {
  try {
    await access(join(accountDir(dataDir), 'keyfile.json'))
    return true
  } catch {
    return false
  }
}

export async function createAccount (dataDir: string, passphrase: string, entropy: Uint8Array, options: CreateAccountOptions = {}): Promise<Account> {
  await ensurePrivateDir(dataDir)
  if (await accountExists(dataDir)) throw new AccountExistsError(dataDir)
  await removeStaleStaging(dataDir)
  const identity = deriveIdentity(entropy)
  const staging = join(dataDir, STAGING_PREFIX + randomBytes(6).toString('hex'))
  await ensurePrivateDir(staging)
  const dataKey = newDataKey()
  try {
    await writeKeyFile(staging, await wrapDataKey(dataKey, passphrase, options.kdf ?? DEFAULT_SCRYPT))
    const store = createSealedStore(await openLevelKV(join(staging, DB_DIR)), dataKey)
    const record: IdentityRecord = { v: 1, entropy: toHex(entropy), createdAt: (options.now ?? Date.now)() }
    await store.put(IDENTITY_KEY, jsonValue(record))
    await store.close()
    await fsyncDir(staging)
    // The commit point: a rename within one folder is atomic.
    await rename(staging, accountDir(dataDir)).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new AccountExistsError(dataDir)
      }
      throw err
    })
    await fsyncDir(dataDir)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  } finally {
    wipe(dataKey)
  }
  return await openAccount(dataDir, passphrase)
}

export async function openAccount (dataDir: string, passphrase: string): Promise<Account> {
  const dir = accountDir(dataDir)
  if (!(await accountExists(dataDir))) throw new NoAccountError(dataDir)
  const keyFile = await readKeyFile(dir)
  const dataKey = await unwrapDataKey(keyFile, passphrase)
  let store: SecureStore
  let raw: RawKV
  // The ephemeral key file is sealed under its own subkey of the data key.
  const ephemeralWrap = hkdf(sha256, dataKey, undefined, utf8('sotto/store/ephemeral/v1'), 32)
  let ephemeral: EphemeralKeys
  try {
    raw = await openLevelKV(join(dir, DB_DIR))
    store = createSealedStore(raw, dataKey)
    ephemeral = await EphemeralKeys.open(fileKeyStore(join(dir, EPHEMERAL_KEYS_FILE)), ephemeralWrap)
  } finally {
    wipe(dataKey, ephemeralWrap)
  }
  const record = await getJson<IdentityRecord>(store, IDENTITY_KEY)
  const entropy = record === undefined ? undefined : fromHex(record.entropy)
  if (record?.v !== 1 || entropy === undefined) {
    await store.close()
    throw new StoreFormatError('ERR_NO_IDENTITY', 'the account has no identity record')
  }
  return {
    dir,
    store,
    identity: deriveIdentity(entropy),
    entropy,
    ephemeral,
    compact: async (tables) => { await compactTables(raw, tables) },
    async close () {
      wipe(entropy)
      ephemeral.close()
      await store.close()
    }
  }
}

/** Rewraps the data key under a new passphrase; the database is not touched. */
export async function changePassphrase (dataDir: string, oldPassphrase: string, newPassphrase: string, kdf: ScryptParams = DEFAULT_SCRYPT): Promise<void> {
  const dir = accountDir(dataDir)
  if (!(await accountExists(dataDir))) throw new NoAccountError(dataDir)
  const dataKey = await unwrapDataKey(await readKeyFile(dir), oldPassphrase)
  try {
    await writeKeyFile(dir, await wrapDataKey(dataKey, newPassphrase, kdf))
  } finally {
    wipe(dataKey)
  }
}

/** Staging folders are left only by a process that died while creating an account. */
async function removeStaleStaging (dataDir: string): Promise<void> {
  for (const name of await readdir(dataDir)) {
    if (name.startsWith(STAGING_PREFIX)) await rm(join(dataDir, name), { recursive: true, force: true })
  }
}

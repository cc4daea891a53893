/**
 * The key file: the only plaintext file Sotto writes besides the database's own bookkeeping.
 * It holds the scrypt parameters and salt, and the data key wrapped (XChaCha20-Poly1305)
 * under the passphrase key. Parameters and salt are the wrap's associated data, so editing
 * them (to lower the cost, say) makes the unwrap fail rather than silently weakening it.
 * Changing the passphrase rewrites this file only, atomically (write, fsync, rename).
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { utf8, wipe } from '../bytes.js'
import { WrongPassphraseError, StoreFormatError } from './errors.js'
import { checkScryptParams, deriveKek, type ScryptParams } from './kdf.js'

export const KEYFILE_NAME = 'keyfile.json'
const FORMAT = 'sotto-keyfile'
const VERSION = 1
const DATA_KEY_LENGTH = 32

export interface KeyFile {
  readonly format: typeof FORMAT
  readonly version: typeof VERSION
  readonly kdf: ScryptParams & { readonly salt: string }
  readonly wrap: { readonly alg: 'xchacha20poly1305', readonly nonce: string, readonly ciphertext: string }
}

function associatedData (kdf: KeyFile['kdf']): Uint8Array {
  return utf8(`${FORMAT}/v${VERSION}|${kdf.name}|${kdf.logN}|${kdf.r}|${kdf.p}|${kdf.salt}`)
}

export async function wrapDataKey (dataKey: Uint8Array, passphrase: string, params: ScryptParams): Promise<KeyFile> {
  const salt = randomBytes(16)
  const kdf = { ...params, salt: salt.toString('base64') }
  const kek = await deriveKek(passphrase, salt, params)
  const nonce = randomBytes(24)
  try {
    const ciphertext = xchacha20poly1305(kek, nonce, associatedData(kdf)).encrypt(dataKey)
    return {
      format: FORMAT,
      version: VERSION,
      kdf,
      wrap: { alg: 'xchacha20poly1305', nonce: nonce.toString('base64'), ciphertext: Buffer.from(ciphertext).toString('base64') }
    }
  } finally {
    wipe(kek)
  }
}

export async function unwrapDataKey (file: KeyFile, passphrase: string): Promise<Uint8Array> {
  const kek = await deriveKek(passphrase, Buffer.from(file.kdf.salt, 'base64'), file.kdf)
  try {
    const cipher = xchacha20poly1305(kek, Buffer.from(file.wrap.nonce, 'base64'), associatedData(file.kdf))
    const key = cipher.decrypt(Buffer.from(file.wrap.ciphertext, 'base64'))
    if (key.length !== DATA_KEY_LENGTH) throw new StoreFormatError('ERR_KEYFILE', 'the key file holds a key of the wrong size')
    return key
  } catch (err) {
    if (err instanceof StoreFormatError) throw err
    // Wrong passphrase and tampered parameters look the same from here, by design.
    throw new WrongPassphraseError()
  } finally {
    wipe(kek)
  }
}

export function newDataKey (): Uint8Array {
  return new Uint8Array(randomBytes(DATA_KEY_LENGTH))
}

/** Parses the key file's JSON into a KeyFile, or a StoreFormatError naming what is wrong. */
export function parseKeyFile (text: string): KeyFile {
  let raw: any
  try {
    raw = JSON.parse(text)
  } catch {
    throw new StoreFormatError('ERR_KEYFILE', 'the key file is not valid JSON')
  }
  if (raw?.format !== FORMAT) throw new StoreFormatError('ERR_KEYFILE', 'not a Sotto key file')
  if (raw.version !== VERSION) throw new StoreFormatError('ERR_KEYFILE_VERSION', `key file version ${String(raw.version)} is not supported`)
  const kdf = raw.kdf
  const wrap = raw.wrap
  if (typeof kdf?.salt !== 'string' || wrap?.alg !== 'xchacha20poly1305' ||
      typeof wrap.nonce !== 'string' || typeof wrap.ciphertext !== 'string') {
    throw new StoreFormatError('ERR_KEYFILE', 'the key file is incomplete')
  }
  const params: ScryptParams = { name: kdf.name, logN: kdf.logN, r: kdf.r, p: kdf.p }
  checkScryptParams(params)
  return {
    format: FORMAT,
    version: VERSION,
    kdf: { ...params, salt: kdf.salt },
    wrap: { alg: 'xchacha20poly1305', nonce: wrap.nonce, ciphertext: wrap.ciphertext }
  }
}

export async function readKeyFile (dir: string): Promise<KeyFile> {
  return parseKeyFile(await readFile(join(dir, KEYFILE_NAME), 'utf8'))
}

/** Write to a temporary name, fsync, rename over the old file, fsync the folder. */
export async function writeKeyFile (dir: string, file: KeyFile): Promise<void> {
  await writeFileAtomic(join(dir, KEYFILE_NAME), JSON.stringify(file, null, 2) + '\n')
}

export async function writeFileAtomic (path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(tmp, 'wx', mode)
  try {
    await handle.writeFile(content)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fsyncDir(dirname(path))
}

export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

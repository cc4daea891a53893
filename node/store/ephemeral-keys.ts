/**
 * Short-lived keys for records that must stop being readable when they disappear
 * (docs/PROTOCOL.md §12, disappearing messages). LevelDB keeps a deleted value in its log
 * and table files until a compaction rewrites them, and the data key that seals every record
 * lives as long as the account: a leftover copy would open. Records sealed a second time under
 * one of these keys do not, once the key is gone; and the keys are kept outside LevelDB, in one
 * small file rewritten whole (write, fsync, rename), so a deleted key leaves no older copy of
 * itself behind in a database file.
 *
 * One key per "bucket" (the caller names them: an expiry hour, the unread after-read
 * messages). This module knows nothing of messages; it seals, opens, forgets.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { xchachaOpen, xchachaSeal } from '../crypto/primitives/xchacha.js'
import { utf8, wipe } from '../bytes.js'
import { StoreFormatError } from './errors.js'
import { writeFileAtomic } from './keyfile.js'

export const EPHEMERAL_KEYS_FILE = 'ephemeral-keys.json'
const FORMAT = 'sotto-ephemeral-keys'
const FILE_AD = utf8(`${FORMAT}/v1`)
const KEY_LENGTH = 32
const NONCE_LENGTH = 24
const BUCKET_RE = /^[a-z0-9-]{1,40}$/
/** Buckets a file may hold: an hour each for a week of timers, plus a few unread generations. */
export const MAX_BUCKETS = 7 * 24 + 64

/** A value sealed under a bucket key: which bucket, nonce and ciphertext (base64). */
export interface EphemeralSealed { b: string, n: string, c: string }

/** Where the sealed key file is kept: a file in the account folder, or memory (tests). */
export interface EphemeralKeyFile {
  load: () => Promise<Uint8Array | undefined>
  save: (bytes: Uint8Array) => Promise<void>
}

export function fileKeyStore (path: string): EphemeralKeyFile {
  return {
    load: async () => await readFile(path).then((b) => new Uint8Array(b), (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }),
    save: async (bytes) => { await writeFileAtomic(path, bytes) }
  }
}

export function memoryKeyStore (): EphemeralKeyFile {
  let held: Uint8Array | undefined
  return { load: async () => held, save: async (bytes) => { held = Uint8Array.from(bytes) } }
}

export class EphemeralKeys {
  private readonly keys = new Map<string, Uint8Array>()
  private dirty = false
  private writing: Promise<void> = Promise.resolve()

  private constructor (private readonly file: EphemeralKeyFile, private readonly wrapKey: Uint8Array) {}

  /** Loads the key file (sealed with `wrapKey`, 32 bytes, which this object keeps until close). */
  static async open (file: EphemeralKeyFile, wrapKey: Uint8Array): Promise<EphemeralKeys> {
    if (wrapKey.length !== KEY_LENGTH) throw new StoreFormatError('ERR_EPHEMERAL_KEYS', 'the wrap key has 32 bytes')
    const keys = new EphemeralKeys(file, Uint8Array.from(wrapKey))
    const bytes = await file.load()
    if (bytes !== undefined) keys.read(bytes)
    return keys
  }

  /** Bucket names that have a key. */
  buckets (): string[] {
    return [...this.keys.keys()]
  }

  /** Seals under the bucket's key, making the key (in memory) if it has none: flush() before committing. */
  seal (bucket: string, plaintext: Uint8Array, ad: string): EphemeralSealed {
    if (!BUCKET_RE.test(bucket)) throw new StoreFormatError('ERR_EPHEMERAL_KEYS', 'bad bucket name')
    let key = this.keys.get(bucket)
    if (key === undefined) {
      if (this.keys.size >= MAX_BUCKETS) throw new StoreFormatError('ERR_EPHEMERAL_KEYS', 'too many ephemeral keys')
      key = new Uint8Array(randomBytes(KEY_LENGTH))
      this.keys.set(bucket, key)
      this.dirty = true
    }
    const nonce = randomBytes(NONCE_LENGTH)
    const c = xchachaSeal(key, nonce, plaintext, utf8(`${bucket}|${ad}`))
    return { b: bucket, n: nonce.toString('base64'), c: Buffer.from(c).toString('base64') }
  }

  /** The plaintext, or undefined when its bucket's key is gone (the record expired) or it does not open. */
  open (sealed: EphemeralSealed, ad: string): Uint8Array | undefined {
    const key = this.keys.get(sealed.b)
    if (key === undefined) return undefined
    try {
      return xchachaOpen(key, Buffer.from(sealed.n, 'base64'), Buffer.from(sealed.c, 'base64'), utf8(`${sealed.b}|${ad}`), () => new StoreFormatError('ERR_EPHEMERAL_KEYS', 'a record does not open'))
    } catch {
      return undefined
    }
  }

  /** Forgets buckets' keys (in memory at once; on disk at the next flush). */
  drop (buckets: Iterable<string>): void {
    for (const b of buckets) {
      const key = this.keys.get(b)
      if (key === undefined) continue
      wipe(key)
      this.keys.delete(b)
      this.dirty = true
    }
  }

  /**
   * Writes the file if a key was made or dropped since the last write. A key must be on disk
   * before any record sealed under it is committed, so callers flush before their batch.
   */
  async flush (): Promise<void> {
    const run = this.writing.then(async () => {
      if (!this.dirty) return
      this.dirty = false
      try {
        await this.file.save(this.write())
      } catch (err) {
        this.dirty = true
        throw err
      }
    })
    this.writing = run.catch(() => {})
    await run
  }

  close (): void {
    for (const k of this.keys.values()) wipe(k)
    this.keys.clear()
    wipe(this.wrapKey)
  }

  private write (): Uint8Array {
    const body = utf8(JSON.stringify(Object.fromEntries([...this.keys].map(([b, k]) => [b, Buffer.from(k).toString('base64')]))))
    const nonce = randomBytes(NONCE_LENGTH)
    const ct = xchachaSeal(this.wrapKey, nonce, body, FILE_AD)
    body.fill(0)
    return utf8(JSON.stringify({ format: FORMAT, version: 1, nonce: nonce.toString('base64'), ciphertext: Buffer.from(ct).toString('base64') }))
  }

  private read (bytes: Uint8Array): void {
    let raw: any
    let body: Uint8Array
    try {
      raw = JSON.parse(new TextDecoder().decode(bytes))
      if (raw?.format !== FORMAT || raw.version !== 1) throw new Error('format')
      body = xchachaOpen(this.wrapKey, Buffer.from(raw.nonce, 'base64'), Buffer.from(raw.ciphertext, 'base64'), FILE_AD, () => new Error('tag'))
    } catch {
      throw new StoreFormatError('ERR_EPHEMERAL_KEYS', 'the ephemeral key file does not open')
    }
    const entries = JSON.parse(new TextDecoder().decode(body)) as Record<string, string>
    body.fill(0)
    for (const [b, k] of Object.entries(entries)) {
      const key = new Uint8Array(Buffer.from(k, 'base64'))
      if (BUCKET_RE.test(b) && key.length === KEY_LENGTH) this.keys.set(b, key)
    }
  }
}

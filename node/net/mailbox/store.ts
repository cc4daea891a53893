/**
 * What a mailbox node holds for others, on disk (so a restart loses nothing, M4): sealed
 * envelopes under the recipient's mailbox key, each with an expiry. The node learns only
 * "an envelope of this padded size for mailbox M".
 *
 * One file per envelope, `<root>/<mailbox hex>/<expiry ms>-<id hex>`, written to a temporary
 * name and renamed into place, so a mailbox killed mid-put leaves it wholly there or absent.
 * Files rather than LevelDB because a delete must really remove the bytes (M3): LevelDB
 * keeps deleted values in older table files until a compaction that may never rewrite them.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toHex, fromHex } from '../../bytes.js'
import { MAX_BATCH, MAX_BYTES_PER_MAILBOX, MAX_ENVELOPE_BYTES, MAX_ENVELOPES_PER_MAILBOX, MAX_TTL_MS } from './constants.js'

export const MAILBOX_KEY_LENGTH = 32
export const ENVELOPE_ID_LENGTH = 16

export type PutRefusal = 'TOO_LARGE' | 'MAILBOX_FULL' | 'NODE_FULL' | 'BAD_REQUEST'
export type PutResult = { ok: true, id: Uint8Array, expiresAt: number, duplicate: boolean } | { ok: false, reason: PutRefusal }

export interface HeldEnvelope { id: Uint8Array, expiresAt: number, envelope: Uint8Array }

/** The id of an envelope: a hash of its bytes, so five copies of one envelope are one message (M5). */
export function envelopeId (envelope: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(envelope).digest().subarray(0, ENVELOPE_ID_LENGTH))
}

interface Entry { expiresAt: number, size: number }
const NAME_RE = /^(\d{1,16})-([0-9a-f]{32})$/
const DIR_RE = /^[0-9a-f]{64}$/

export interface MailboxStoreInit { totalQuotaBytes: number, now: () => number }

export class MailboxStore {
  /** mailbox hex -> envelope id hex -> entry; the whole index lives in memory (bounded by quotas). */
  private readonly index = new Map<string, Map<string, Entry>>()
  private totalBytes = 0
  private totalCount = 0

  private constructor (private readonly root: string, private readonly init: MailboxStoreInit) {}

  static async open (root: string, init: MailboxStoreInit): Promise<MailboxStore> {
    await mkdir(root, { recursive: true, mode: 0o700 })
    const store = new MailboxStore(root, init)
    for (const dir of await readdir(root)) {
      if (!DIR_RE.test(dir)) {
        // Left by a put that died before its rename.
        if (dir.startsWith('.tmp-')) await rm(join(root, dir), { force: true })
        continue
      }
      for (const name of await readdir(join(root, dir))) {
        const m = NAME_RE.exec(name)
        if (m === null) { await rm(join(root, dir, name), { force: true }); continue }
        const bytes = await readFile(join(root, dir, name))
        store.add(dir, m[2], { expiresAt: Number(m[1]), size: bytes.length })
      }
    }
    return store
  }

  stats (): { envelopes: number, bytes: number, mailboxes: number } {
    return { envelopes: this.totalCount, bytes: this.totalBytes, mailboxes: this.index.size }
  }

  async put (mailbox: Uint8Array, envelope: Uint8Array, ttlMs: number): Promise<PutResult> {
    if (mailbox.length !== MAILBOX_KEY_LENGTH || envelope.length === 0) return { ok: false, reason: 'BAD_REQUEST' }
    if (envelope.length > MAX_ENVELOPE_BYTES) return { ok: false, reason: 'TOO_LARGE' }
    const id = envelopeId(envelope)
    const m = toHex(mailbox)
    const i = toHex(id)
    const held = this.index.get(m)
    const existing = held?.get(i)
    if (existing !== undefined) return { ok: true, id, expiresAt: existing.expiresAt, duplicate: true }
    const count = held?.size ?? 0
    let bytes = 0
    for (const e of held?.values() ?? []) bytes += e.size
    if (count + 1 > MAX_ENVELOPES_PER_MAILBOX || bytes + envelope.length > MAX_BYTES_PER_MAILBOX) return { ok: false, reason: 'MAILBOX_FULL' }
    if (this.totalBytes + envelope.length > this.init.totalQuotaBytes) return { ok: false, reason: 'NODE_FULL' }
    // The sender may ask for less time, never more than this node's own maximum (M8).
    const expiresAt = this.init.now() + Math.max(0, Math.min(ttlMs, MAX_TTL_MS))
    // Reserve before the first await, so concurrent puts cannot both pass the quota check.
    this.add(m, i, { expiresAt, size: envelope.length })
    try {
      await mkdir(join(this.root, m), { recursive: true, mode: 0o700 })
      const tmp = join(this.root, `.tmp-${randomBytes(8).toString('hex')}`)
      await writeFile(tmp, envelope, { mode: 0o600 })
      await rename(tmp, join(this.root, m, `${expiresAt}-${i}`))
    } catch (err) {
      this.remove(m, i)
      throw err
    }
    return { ok: true, id, expiresAt, duplicate: false }
  }

  async list (mailbox: Uint8Array, limit = MAX_BATCH): Promise<HeldEnvelope[]> {
    const m = toHex(mailbox)
    const held = this.index.get(m)
    if (held === undefined) return []
    const now = this.init.now()
    const out: HeldEnvelope[] = []
    const ordered = [...held.entries()].filter(([, e]) => e.expiresAt > now).sort((a, b) => a[1].expiresAt - b[1].expiresAt)
    for (const [i, e] of ordered.slice(0, Math.min(limit, MAX_BATCH))) {
      try {
        const envelope = new Uint8Array(await readFile(join(this.root, m, `${e.expiresAt}-${i}`)))
        out.push({ id: fromHex(i) as Uint8Array, expiresAt: e.expiresAt, envelope })
      } catch {
        this.remove(m, i)
      }
    }
    return out
  }

  /** Deletes the named envelopes of one mailbox; returns how many were there. */
  async ack (mailbox: Uint8Array, ids: Uint8Array[]): Promise<number> {
    const m = toHex(mailbox)
    let removed = 0
    for (const id of ids.slice(0, MAX_BATCH)) {
      const i = toHex(id)
      if (await this.delete(m, i)) removed++
    }
    return removed
  }

  /** Removes every envelope whose time is up (M3). */
  async purgeExpired (): Promise<number> {
    const now = this.init.now()
    let purged = 0
    for (const [m, held] of [...this.index]) {
      for (const [i, e] of [...held]) if (e.expiresAt <= now && await this.delete(m, i)) purged++
    }
    return purged
  }

  /** The mailbox keys held, for re-replication. */
  mailboxes (): Uint8Array[] {
    return [...this.index.keys()].map((m) => fromHex(m) as Uint8Array)
  }

  /** Every live envelope of one mailbox, read one at a time (re-replication walks all, not one batch). */
  async * held (mailbox: Uint8Array): AsyncGenerator<HeldEnvelope> {
    const m = toHex(mailbox)
    const now = this.init.now()
    for (const [i, e] of [...(this.index.get(m) ?? [])]) {
      if (e.expiresAt <= now) continue
      try {
        yield { id: fromHex(i) as Uint8Array, expiresAt: e.expiresAt, envelope: new Uint8Array(await readFile(join(this.root, m, `${e.expiresAt}-${i}`))) }
      } catch {
        this.remove(m, i)
      }
    }
  }

  /** Deletes the named envelopes of one mailbox, however many (a holder letting go of copies others confirmed). */
  async release (mailbox: Uint8Array, ids: readonly Uint8Array[]): Promise<number> {
    const m = toHex(mailbox)
    let removed = 0
    for (const id of ids) if (await this.delete(m, toHex(id))) removed++
    return removed
  }

  async close (): Promise<void> {}

  private async delete (m: string, i: string): Promise<boolean> {
    const e = this.index.get(m)?.get(i)
    if (e === undefined) return false
    this.remove(m, i)
    await unlink(join(this.root, m, `${e.expiresAt}-${i}`)).catch(() => {})
    if (this.index.get(m) === undefined) await rmdir(join(this.root, m)).catch(() => {})
    return true
  }

  private add (m: string, i: string, e: Entry): void {
    let held = this.index.get(m)
    if (held === undefined) { held = new Map(); this.index.set(m, held) }
    held.set(i, e)
    this.totalBytes += e.size
    this.totalCount++
  }

  private remove (m: string, i: string): void {
    const held = this.index.get(m)
    const e = held?.get(i)
    if (held === undefined || e === undefined) return
    held.delete(i)
    if (held.size === 0) this.index.delete(m)
    this.totalBytes -= e.size
    this.totalCount--
  }
}

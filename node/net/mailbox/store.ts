/**
 * What a mailbox node holds for others, on disk (so a restart loses nothing, M4): sealed
 * envelopes under the recipient's mailbox key, each with an expiry and the sender that put
 * it. The node learns only "an envelope of this padded size for mailbox M, put by PeerId P".
 *
 * One pack file per put request (`<root>/packs/`, pack.ts: the request's envelopes with their
 * mailbox, id, expiry and sender tag), written to a temporary name and renamed into place, so
 * a mailbox killed mid-put leaves the whole request there or none of it (M4). A delete
 * overwrites the envelope's record with zeros, and the pack goes once none of it is live.
 * Stores written before packs hold one file per envelope,
 * `<root>/<mailbox hex>/<expiry ms>-<id hex>-<sender tag hex>`: still read, and deleted by
 * unlinking. Files rather than LevelDB because a delete must really remove the bytes (M3):
 * LevelDB keeps deleted values in older table files until a compaction that may never
 * rewrite them.
 *
 * The sender tag is a keyed hash of the PeerId that put the envelope (the key lives in
 * `<root>/sender-key`): quotas per sender survive a restart, and the folder names no PeerId.
 *
 * Quotas (M2), all in charged bytes (at least MIN_CHARGED_BYTES per envelope) and counts:
 * per sender in one mailbox, per sender on the node, per mailbox, per node. A put over a
 * sender's own quota is refused (SENDER_FULL). A put into a full mailbox or a full node from a
 * sender holding less than its fair share there (the quota divided among the senders holding
 * there) evicts envelopes of the sender holding the most, latest expiry first; from anyone
 * else it is refused (MAILBOX_FULL, NODE_FULL). So whoever comes first cannot keep a newcomer
 * out, and a flood costs the flooder its own envelopes first.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toHex, fromHex } from '../../bytes.js'
import {
  MAILBOX_SHARE_OF_NODE, MAX_BATCH, MAX_BYTES_PER_MAILBOX, MAX_ENVELOPE_BYTES, MAX_ENVELOPES_PER_MAILBOX, MAX_ENVELOPES_PER_NODE,
  MAX_ENVELOPES_PER_SENDER, MAX_TTL_MS, MIN_CHARGED_BYTES, PRESSURE_LEVEL, PRESSURE_SENDER_SHARE, PRESSURE_TTL_MS,
  MAX_TOMBSTONES, SENDER_SHARE_OF_MAILBOX, SENDER_SHARE_OF_NODE
} from './constants.js'
import { encodePack, erasePacked, PACK_NAME_RE, readPack, readPacked, recordBytes } from './pack.js'

export const MAILBOX_KEY_LENGTH = 32
export const ENVELOPE_ID_LENGTH = 16

export type PutRefusal = 'TOO_LARGE' | 'MAILBOX_FULL' | 'NODE_FULL' | 'SENDER_FULL' | 'BAD_REQUEST'
export type PutResult = { ok: true, id: Uint8Array, expiresAt: number, duplicate: boolean } | { ok: false, reason: PutRefusal }

export interface HeldEnvelope { id: Uint8Array, expiresAt: number, envelope: Uint8Array }
/** Where a fetch goes on: after this envelope in the order (expiry, then id). */
export interface MailboxCursor { expiresAt: number, id: Uint8Array }
export interface HeldPage { envelopes: HeldEnvelope[], more: boolean }

/** The id of an envelope: a hash of its bytes, so five copies of one envelope are one message (M5). */
export function envelopeId (envelope: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(envelope).digest().subarray(0, ENVELOPE_ID_LENGTH))
}

/**
 * `pending` while its file is being written: not listed, not evicted. `pack` and `offset`:
 * its record in a pack; without them, a file of its own (a store from before packs).
 */
interface Entry { expiresAt: number, size: number, charge: number, sender: string, pending: boolean, pack?: string, offset?: number }
interface Usage { bytes: number, count: number }
interface Box { entries: Map<string, Entry>, usage: Usage, bySender: Map<string, Usage> }
/** A quota scope: the whole node, or one mailbox (hex). */
type Scope = { mailbox: string } | 'node'
interface Victim { m: string, i: string, e: Entry }
/** A put that passed every check and is in the index, its record still to be written. */
interface Reservation { m: string, i: string, id: Uint8Array, entry: Entry, victims: Victim[], envelope: Uint8Array }
interface PackGroup { reserved: Reservation[], bytes: number, done: Promise<void> }
/**
 * A pack's live records (`<mailbox hex>/<id hex>`) and bytes, against its size on disk. Erased
 * records still take their zeros on disk, and quotas count live envelopes only: once less than
 * half a pack is live, its live records are copied to a new pack and it goes, so what is on
 * disk stays within twice what is live (else acking all but one of every batch would fill a
 * disk while holding little).
 */
interface PackInfo { keys: Set<string>, liveBytes: number, bytes: number, compacting: boolean }

/** Envelopes from before sender tags were kept: counted as one unnamed sender. */
const UNNAMED_SENDER = ''
const NAME_RE = /^(\d{1,16})-([0-9a-f]{32})(?:-([0-9a-f]{16}))?$/
const DIR_RE = /^[0-9a-f]{64}$/
const SENDER_KEY_FILE = 'sender-key'
const PACK_DIR = 'packs'
/** A pack holds at most this much: one write buffers it whole. */
const MAX_PACK_BYTES = 4 * 1024 * 1024
const MAX_PACK_ENVELOPES = 512
const ZERO: Usage = Object.freeze({ bytes: 0, count: 0 })
const MAX_CACHED_TAGS = 4096

export interface MailboxStoreInit { totalQuotaBytes: number, now: () => number }

const fileName = (i: string, e: Entry): string => e.sender === UNNAMED_SENDER ? `${e.expiresAt}-${i}` : `${e.expiresAt}-${i}-${e.sender}`
const fits = (used: Usage, need: Usage, cap: Usage): boolean => used.bytes + need.bytes <= cap.bytes && used.count + need.count <= cap.count
const charge = (size: number): number => Math.max(size, MIN_CHARGED_BYTES)
function bump (u: Usage, bytes: number, count: number): void { u.bytes += bytes; u.count += count }
/** Order of a fetch: expiry, then id. */
const before = (a: { expiresAt: number, i: string }, b: { expiresAt: number, i: string }): number =>
  a.expiresAt !== b.expiresAt ? a.expiresAt - b.expiresAt : (a.i < b.i ? -1 : a.i > b.i ? 1 : 0)

export class MailboxStore {
  /** mailbox hex -> its envelopes and usage; the whole index lives in memory (bounded by quotas). */
  private readonly boxes = new Map<string, Box>()
  /** sender tag -> its usage on the node and its envelopes (`<mailbox hex>/<id hex>`). */
  private readonly senders = new Map<string, { usage: Usage, keys: Set<string> }>()
  private readonly total: Usage = { bytes: 0, count: 0 }
  private totalSize = 0
  /**
   * Envelopes the owner acked here, until they would have expired: a holder elsewhere that
   * still has a copy cannot put it back (it gets "duplicate"), so acked mail stops moving.
   * Memory only, bounded; after a restart a re-put copy is fetched and acked once more.
   */
  private readonly tombstones = new Map<string, number>()
  /** Per mailbox, a counter that moves on every envelope added or removed. */
  private readonly changeCount = new Map<string, number>()

  /** Sender -> tag: an HMAC (with its key import) per put was a tenth of a put's CPU on the mailbox. */
  private readonly tags = new Map<string, string>()
  /** File names: unique per store without a random draw per put. */
  private readonly tmpPrefix = randomBytes(6).toString('hex')
  private tmpCount = 0
  /** Puts waiting for the pack written at the end of this turn of the event loop. */
  private group: PackGroup | undefined
  /** Pack file name -> its live records; a pack goes when none is left. */
  private readonly packs = new Map<string, PackInfo>()

  private constructor (private readonly root: string, private readonly init: MailboxStoreInit, private readonly senderKey: Uint8Array) {}

  static async open (root: string, init: MailboxStoreInit): Promise<MailboxStore> {
    await mkdir(root, { recursive: true, mode: 0o700 })
    const store = new MailboxStore(root, init, await senderKey(root))
    for (const dir of await readdir(root)) {
      if (!DIR_RE.test(dir)) {
        // Left by a put that died before its rename.
        if (dir.startsWith('.tmp-')) await rm(join(root, dir), { force: true })
        continue
      }
      for (const name of await readdir(join(root, dir))) {
        const m = NAME_RE.exec(name)
        if (m === null) { await rm(join(root, dir, name), { force: true }); continue }
        const size = (await stat(join(root, dir, name))).size
        store.add(dir, m[2], { expiresAt: Number(m[1]), size, charge: charge(size), sender: m[3] ?? UNNAMED_SENDER, pending: false })
      }
    }
    await mkdir(join(root, PACK_DIR), { recursive: true, mode: 0o700 })
    for (const name of await readdir(join(root, PACK_DIR))) {
      const path = join(root, PACK_DIR, name)
      if (!PACK_NAME_RE.test(name)) { await rm(path, { force: true }); continue }
      const { records, bytes } = await readPack(path)
      const info: PackInfo = { keys: new Set(), liveBytes: 0, bytes, compacting: false }
      for (const r of records) {
        // The same envelope in two packs (put again after a restart lost its tombstone, or a
        // compaction cut short): one is kept.
        if (store.boxes.get(r.mailbox)?.entries.has(r.id) === true) { await erasePacked(path, r.offset, r.size); continue }
        store.add(r.mailbox, r.id, { expiresAt: r.expiresAt, size: r.size, charge: charge(r.size), sender: r.sender, pending: false, pack: name, offset: r.offset })
        info.keys.add(`${r.mailbox}/${r.id}`)
        info.liveBytes += recordBytes(r.size)
      }
      if (info.keys.size === 0) await rm(path, { force: true })
      else store.packs.set(name, info)
    }
    return store
  }

  stats (): { envelopes: number, bytes: number, chargedBytes: number, mailboxes: number, senders: number } {
    return { envelopes: this.total.count, bytes: this.totalSize, chargedBytes: this.total.bytes, mailboxes: this.boxes.size, senders: this.senders.size }
  }

  /** What one sender (a PeerId, as put() got it) holds on this node, in charged bytes. */
  heldBy (sender: string): { envelopes: number, chargedBytes: number } {
    const u = this.senders.get(this.tagOf(sender))?.usage ?? ZERO
    return { envelopes: u.count, chargedBytes: u.bytes }
  }

  /** The quotas at this node's total quota (see constants.ts for the reasons). */
  quotas (): { node: Usage, mailbox: Usage, sender: Usage, senderInMailbox: Usage } {
    const q = this.init.totalQuotaBytes
    const mailbox = { bytes: Math.min(MAX_BYTES_PER_MAILBOX, q * MAILBOX_SHARE_OF_NODE), count: MAX_ENVELOPES_PER_MAILBOX }
    return {
      node: { bytes: q, count: MAX_ENVELOPES_PER_NODE },
      mailbox,
      sender: { bytes: q * SENDER_SHARE_OF_NODE, count: MAX_ENVELOPES_PER_SENDER },
      senderInMailbox: { bytes: mailbox.bytes * SENDER_SHARE_OF_MAILBOX, count: Math.floor(mailbox.count * SENDER_SHARE_OF_MAILBOX) }
    }
  }

  /** Stores an envelope `sender` (the PeerId that put it) asked to keep for `ttlMs`. */
  async put (mailbox: Uint8Array, envelope: Uint8Array, ttlMs: number, sender: string): Promise<PutResult> {
    return (await this.putMany([{ mailbox, envelope, ttlMs }], sender))[0]
  }

  /**
   * Stores several envelopes from one sender, answered one by one in order. Each is checked
   * against every quota as if put alone, after the ones before it: a batch is charged
   * envelope by envelope. All reservations (and evictions) land before the first await; the
   * envelopes are then written in one pack, with those of other puts made in the same turn
   * of the event loop (concurrent single puts from /1 senders share a file too). A write that
   * fails throws, for every put in its pack.
   */
  async putMany (items: ReadonlyArray<{ mailbox: Uint8Array, envelope: Uint8Array, ttlMs: number }>, sender: string): Promise<PutResult[]> {
    const results: PutResult[] = []
    const reserved: Reservation[] = []
    for (const item of items) {
      const r = this.reserve(item.mailbox, item.envelope, item.ttlMs, sender)
      if ('result' in r) { results.push(r.result); continue }
      results.push({ ok: true, id: r.id, expiresAt: r.entry.expiresAt, duplicate: false })
      reserved.push(r)
    }
    if (reserved.length > 0) await this.commit(reserved)
    return results
  }

  /** Joins the pack written at the end of this turn of the event loop; resolves once it is in place. */
  private async commit (reserved: Reservation[]): Promise<void> {
    const bytes = reserved.reduce((n, r) => n + r.envelope.length, 0)
    let g = this.group
    // A full pack goes as it is; these start the next one.
    if (g !== undefined && (g.bytes + bytes > MAX_PACK_BYTES || g.reserved.length + reserved.length > MAX_PACK_ENVELOPES)) {
      this.group = undefined
      g = undefined
    }
    if (g === undefined) {
      const group: PackGroup = { reserved: [], bytes: 0, done: Promise.resolve() }
      group.done = new Promise<void>((resolve) => { setImmediate(resolve) }).then(async () => {
        if (this.group === group) this.group = undefined
        await this.write(group.reserved)
      })
      this.group = g = group
    }
    g.reserved.push(...reserved)
    g.bytes += bytes
    await g.done
  }

  /**
   * The quota checks and the index entry of one put, synchronously (so concurrent puts
   * cannot both pass a quota check, and evictions and the new entry land together); either
   * the answer, when nothing is to be written, or what the write needs.
   */
  private reserve (mailbox: Uint8Array, envelope: Uint8Array, ttlMs: number, sender: string): { result: PutResult } | Reservation {
    if (mailbox.length !== MAILBOX_KEY_LENGTH || envelope.length === 0) return { result: { ok: false, reason: 'BAD_REQUEST' } }
    if (envelope.length > MAX_ENVELOPE_BYTES) return { result: { ok: false, reason: 'TOO_LARGE' } }
    const id = envelopeId(envelope)
    const m = toHex(mailbox)
    const i = toHex(id)
    const box = this.boxes.get(m)
    const existing = box?.entries.get(i)
    if (existing !== undefined) return { result: { ok: true, id, expiresAt: existing.expiresAt, duplicate: true } }
    const acked = this.tombstones.get(`${m}:${i}`)
    if (acked !== undefined && acked > this.init.now()) return { result: { ok: true, id, expiresAt: acked, duplicate: true } }

    const tag = this.tagOf(sender)
    const need: Usage = { bytes: charge(envelope.length), count: 1 }
    const quotas = this.quotas()
    const own = this.senders.get(tag)?.usage ?? ZERO
    if (!fits(box?.bySender.get(tag) ?? ZERO, need, quotas.senderInMailbox) || !fits(own, need, quotas.sender)) return { result: { ok: false, reason: 'SENDER_FULL' } }
    const victims = new Map<string, Victim>()
    if (!this.makeRoom({ mailbox: m }, tag, need, quotas.mailbox, victims)) return { result: { ok: false, reason: 'MAILBOX_FULL' } }
    if (!this.makeRoom('node', tag, need, quotas.node, victims)) return { result: { ok: false, reason: 'NODE_FULL' } }

    // The sender may ask for less time, never more than this node's own maximum (M8); a
    // heavy sender on a node under pressure gets less (PRESSURE_TTL_MS).
    let ttl = Math.max(0, Math.min(ttlMs, MAX_TTL_MS))
    const pressure = this.total.bytes > quotas.node.bytes * PRESSURE_LEVEL || this.total.count > quotas.node.count * PRESSURE_LEVEL
    if (pressure && own.bytes + need.bytes > quotas.node.bytes * PRESSURE_SENDER_SHARE) ttl = Math.min(ttl, PRESSURE_TTL_MS)
    const entry: Entry = { expiresAt: this.init.now() + ttl, size: envelope.length, charge: need.bytes, sender: tag, pending: true }
    for (const v of victims.values()) this.remove(v.m, v.i)
    this.add(m, i, entry)
    return { m, i, id, entry, victims: [...victims.values()], envelope }
  }

  /**
   * Writes reserved envelopes as one pack: to a temporary file, renamed into place (M4).
   * Evicted envelopes are erased first. A write that fails takes its entries out again.
   */
  private async write (reserved: Reservation[]): Promise<void> {
    await Promise.all(reserved.flatMap((r) => r.victims).map(async (v) => { await this.erase(v.m, v.i, v.e) }))
    const name = `pack-${(this.tmpCount++).toString(36)}-${this.tmpPrefix}`
    const { bytes, offsets } = encodePack(reserved.map((r) => ({ mailbox: r.m, id: r.i, expiresAt: r.entry.expiresAt, sender: r.entry.sender, envelope: r.envelope })))
    reserved.forEach((r, n) => { r.entry.pack = name; r.entry.offset = offsets[n] })
    try {
      const tmp = join(this.root, `.tmp-${name}`)
      await writeFile(tmp, bytes, { mode: 0o600 })
      await rename(tmp, join(this.root, PACK_DIR, name))
    } catch (err) {
      for (const { m, i, entry } of reserved) if (this.boxes.get(m)?.entries.get(i) === entry) this.remove(m, i)
      throw err
    }
    this.packs.set(name, { keys: new Set(reserved.map((r) => `${r.m}/${r.i}`)), liveBytes: reserved.reduce((n, r) => n + recordBytes(r.entry.size), 0), bytes: bytes.length, compacting: false })
    for (const r of reserved) r.entry.pending = false
    // Acked, released or evicted while they were being written: their records go too.
    await Promise.all(reserved.filter(({ m, i, entry }) => this.boxes.get(m)?.entries.get(i) !== entry).map(async ({ m, i, entry }) => { await this.erase(m, i, entry) }))
  }

  /** The first envelopes of a mailbox in fetch order (expiry, then id). */
  async list (mailbox: Uint8Array, limit = MAX_BATCH): Promise<HeldEnvelope[]> {
    return (await this.page(mailbox, undefined, limit)).envelopes
  }

  /** Up to `limit` live envelopes after `after` in fetch order, and whether more follow. */
  async page (mailbox: Uint8Array, after: MailboxCursor | undefined, limit = MAX_BATCH): Promise<HeldPage> {
    const m = toHex(mailbox)
    const box = this.boxes.get(m)
    if (box === undefined) return { envelopes: [], more: false }
    const now = this.init.now()
    const from = after === undefined ? undefined : { expiresAt: after.expiresAt, i: toHex(after.id) }
    const ordered = [...box.entries].map(([i, e]) => ({ i, e, expiresAt: e.expiresAt }))
      .filter((x) => x.e.expiresAt > now && !x.e.pending && (from === undefined || before(x, from) > 0))
      .sort(before)
    const take = ordered.slice(0, Math.max(0, Math.min(limit, MAX_BATCH)))
    // Read together: a page is up to MAX_BATCH files, and one read at a time left the
    // thread pool idle between them.
    const read = await Promise.all(take.map(async ({ i, e }): Promise<HeldEnvelope | undefined> => {
      try {
        return { id: fromHex(i) as Uint8Array, expiresAt: e.expiresAt, envelope: await this.bytesOf(m, i, e) }
      } catch {
        if (box.entries.get(i) === e) this.remove(m, i)
        return undefined
      }
    }))
    return { envelopes: read.filter((h): h is HeldEnvelope => h !== undefined), more: ordered.length > take.length }
  }

  /**
   * Deletes the named envelopes of one mailbox; returns how many were there. All leave the
   * index at once, then their files are unlinked together.
   */
  async ack (mailbox: Uint8Array, ids: Uint8Array[]): Promise<number> {
    const m = toHex(mailbox)
    const gone: Array<{ i: string, e: Entry }> = []
    for (const id of ids.slice(0, MAX_BATCH)) {
      const i = toHex(id)
      const e = this.boxes.get(m)?.entries.get(i)
      if (e === undefined) continue
      this.remove(m, i)
      this.tombstone(`${m}:${i}`, e.expiresAt)
      gone.push({ i, e })
    }
    // One still being written is unlinked by its put once the rename is done.
    await Promise.all(gone.filter(({ e }) => !e.pending).map(async ({ i, e }) => { await this.erase(m, i, e) }))
    return gone.length
  }

  /** True when the owner acked this envelope here and it has not yet expired. */
  wasAcked (mailbox: Uint8Array, id: Uint8Array): boolean {
    return (this.tombstones.get(`${toHex(mailbox)}:${toHex(id)}`) ?? 0) > this.init.now()
  }

  /** Moves whenever an envelope of this mailbox is added or removed (re-replication skips an unchanged one). */
  changes (mailbox: Uint8Array): number {
    return this.changeCount.get(toHex(mailbox)) ?? 0
  }

  private tombstone (key: string, until: number): void {
    this.tombstones.delete(key)
    if (this.tombstones.size >= MAX_TOMBSTONES) {
      const now = this.init.now()
      for (const [k, t] of this.tombstones) if (t <= now) this.tombstones.delete(k)
      if (this.tombstones.size >= MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value as string)
    }
    this.tombstones.set(key, until)
  }

  /** Removes every envelope whose time is up (M3). */
  async purgeExpired (): Promise<number> {
    const now = this.init.now()
    let purged = 0
    for (const [m, box] of [...this.boxes]) {
      for (const [i, e] of [...box.entries]) if (e.expiresAt <= now && !e.pending && await this.delete(m, i)) purged++
    }
    return purged
  }

  /** The mailbox keys held, for re-replication. */
  mailboxes (): Uint8Array[] {
    return [...this.boxes.keys()].map((m) => fromHex(m) as Uint8Array)
  }

  /** Every live envelope of one mailbox, read one at a time (re-replication walks all, not one batch). */
  /** One live envelope by its id, read from its file; undefined when not held (or gone meanwhile). */
  async read (mailbox: Uint8Array, id: Uint8Array): Promise<Uint8Array | undefined> {
    const m = toHex(mailbox)
    const i = toHex(id)
    const e = this.boxes.get(m)?.entries.get(i)
    if (e === undefined || e.pending || e.expiresAt <= this.init.now()) return undefined
    try {
      return await this.bytesOf(m, i, e)
    } catch {
      return undefined
    }
  }

  async * held (mailbox: Uint8Array): AsyncGenerator<HeldEnvelope> {
    const m = toHex(mailbox)
    const now = this.init.now()
    for (const [i, e] of [...(this.boxes.get(m)?.entries ?? [])]) {
      if (e.expiresAt <= now || e.pending) continue
      let envelope: Uint8Array
      try {
        envelope = await this.bytesOf(m, i, e)
      } catch {
        if (this.boxes.get(m)?.entries.get(i) === e) this.remove(m, i)
        continue
      }
      yield { id: fromHex(i) as Uint8Array, expiresAt: e.expiresAt, envelope }
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

  private tagOf (sender: string): string {
    let tag = this.tags.get(sender)
    if (tag === undefined) {
      tag = createHmac('sha256', this.senderKey).update(sender).digest().subarray(0, 8).toString('hex')
      // Bounded: a flood of new PeerIds only costs HMACs again.
      if (this.tags.size >= MAX_CACHED_TAGS) this.tags.clear()
      this.tags.set(sender, tag)
    }
    return tag
  }

  /**
   * Adds to `victims` the envelopes to evict so that `need` fits under `cap` in `scope`, and
   * returns true; or returns false (adding nothing) when it does not fit and `tag` may not
   * evict: it already holds its fair share there (cap divided among the senders holding
   * there, itself included). Victims come from the sender holding the most, latest expiry
   * first, and only while that sender holds more than `tag` would after the put, so two
   * senders never evict each other back and forth.
   */
  private makeRoom (scope: Scope, tag: string, need: Usage, cap: Usage, victims: Map<string, Victim>): boolean {
    const inScope = (m: string): boolean => scope === 'node' || scope.mailbox === m
    const box = scope === 'node' ? undefined : this.boxes.get(scope.mailbox)
    const used: Usage = { ...(scope === 'node' ? this.total : box?.usage ?? ZERO) }
    const holders = new Map<string, Usage>()
    if (scope === 'node') for (const [t, s] of this.senders) holders.set(t, { ...s.usage })
    else for (const [t, u] of box?.bySender ?? []) holders.set(t, { ...u })
    // Envelopes already chosen (for the mailbox) free room here too.
    for (const v of victims.values()) {
      if (!inScope(v.m)) continue
      bump(used, -v.e.charge, -1)
      const h = holders.get(v.e.sender)
      if (h !== undefined) bump(h, -v.e.charge, -1)
    }
    if (fits(used, need, cap)) return true
    const mine = holders.get(tag) ?? ZERO
    const senders = holders.size + (holders.has(tag) ? 0 : 1)
    if ((mine.bytes + need.bytes) * senders > cap.bytes || (mine.count + need.count) * senders > cap.count) return false

    const queues = new Map<string, Victim[]>()
    const picked: Victim[] = []
    while (!fits(used, need, cap)) {
      let victim: string | undefined
      let most = mine.bytes + need.bytes
      for (const [t, u] of holders) if (t !== tag && u.bytes > most && queues.get(t)?.length !== 0) { victim = t; most = u.bytes }
      if (victim === undefined) return false
      let queue = queues.get(victim)
      if (queue === undefined) {
        queue = this.evictable(scope, victim).filter((v) => !victims.has(`${v.m}/${v.i}`)).sort((a, b) => b.e.expiresAt - a.e.expiresAt)
        queues.set(victim, queue)
      }
      const next = queue.shift()
      if (next === undefined) continue
      picked.push(next)
      bump(used, -next.e.charge, -1)
      bump(holders.get(victim) as Usage, -next.e.charge, -1)
    }
    for (const v of picked) victims.set(`${v.m}/${v.i}`, v)
    return true
  }

  /** The envelopes of `sender` in `scope` that may be evicted (not being written). */
  private evictable (scope: Scope, sender: string): Victim[] {
    const out: Victim[] = []
    if (scope === 'node') {
      for (const key of this.senders.get(sender)?.keys ?? []) {
        const [m, i] = key.split('/')
        const e = this.boxes.get(m)?.entries.get(i)
        if (e !== undefined && !e.pending) out.push({ m, i, e })
      }
    } else {
      for (const [i, e] of this.boxes.get(scope.mailbox)?.entries ?? []) if (e.sender === sender && !e.pending) out.push({ m: scope.mailbox, i, e })
    }
    return out
  }

  private async delete (m: string, i: string): Promise<boolean> {
    const e = this.boxes.get(m)?.entries.get(i)
    if (e === undefined) return false
    this.remove(m, i)
    // One still being written is unlinked by its put once the rename is done.
    if (!e.pending) await this.erase(m, i, e)
    return true
  }

  /**
   * An envelope's bytes from its pack record or its own file; throws when they are gone. A
   * compaction may move the record while it is read: then it is read again where it went.
   */
  private async bytesOf (m: string, i: string, e: Entry): Promise<Uint8Array> {
    if (e.pack === undefined) return new Uint8Array(await readFile(join(this.root, m, fileName(i, e))))
    for (;;) {
      const pack: string = e.pack
      const offset = e.offset
      const bytes = await readPacked(join(this.root, PACK_DIR, pack), offset ?? 0, e.size, i).catch(() => undefined)
      if (bytes !== undefined) return bytes
      if (e.pack === pack && e.offset === offset) throw new Error('envelope erased')
    }
  }

  /** Removes an envelope's bytes from disk: zeros over its pack record (the pack itself once none is live), or its own file. */
  private async erase (m: string, i: string, e: Entry): Promise<void> {
    if (e.pack === undefined) { await this.unlinkFile(m, i, e); return }
    const name = e.pack
    const path = join(this.root, PACK_DIR, name)
    const info = this.packs.get(name)
    // Not known (never so while its pack is in place): the record goes, the pack stays.
    if (info === undefined) { await erasePacked(path, e.offset ?? 0, e.size).catch(() => {}); return }
    if (info.keys.delete(`${m}/${i}`)) info.liveBytes -= recordBytes(e.size)
    if (info.keys.size > 0) {
      await erasePacked(path, e.offset ?? 0, e.size).catch(() => {})
      if (info.liveBytes * 2 < info.bytes && !info.compacting) await this.compact(name, info)
    } else {
      this.packs.delete(name)
      await unlink(path).catch(() => {})
    }
  }

  /**
   * Copies a pack's live records to a new pack and removes the old one (see PackInfo). A
   * record erased while the copy was written is erased in the copy too (M3); one read while
   * it moves is read again where it went (bytesOf).
   */
  private async compact (name: string, info: PackInfo): Promise<void> {
    info.compacting = true
    try {
      const old = join(this.root, PACK_DIR, name)
      const moving: Array<{ key: string, m: string, i: string, e: Entry, envelope: Uint8Array }> = []
      for (const key of [...info.keys]) {
        const [m, i] = key.split('/')
        const e = this.boxes.get(m)?.entries.get(i)
        if (e?.pack !== name) continue
        const envelope = await readPacked(old, e.offset ?? 0, e.size, i).catch(() => undefined)
        if (envelope !== undefined) moving.push({ key, m, i, e, envelope })
      }
      if (moving.length === 0) return
      const next = `pack-${(this.tmpCount++).toString(36)}-${this.tmpPrefix}`
      const { bytes, offsets } = encodePack(moving.map((x) => ({ mailbox: x.m, id: x.i, expiresAt: x.e.expiresAt, sender: x.e.sender, envelope: x.envelope })))
      const tmp = join(this.root, `.tmp-${next}`)
      await writeFile(tmp, bytes, { mode: 0o600 })
      await rename(tmp, join(this.root, PACK_DIR, next))
      const moved: PackInfo = { keys: new Set(), liveBytes: 0, bytes: bytes.length, compacting: false }
      const stale: number[] = []
      moving.forEach((x, n) => {
        if (this.boxes.get(x.m)?.entries.get(x.i) === x.e && x.e.pack === name && info.keys.delete(x.key)) {
          x.e.pack = next
          x.e.offset = offsets[n]
          info.liveBytes -= recordBytes(x.e.size)
          moved.keys.add(x.key)
          moved.liveBytes += recordBytes(x.e.size)
        } else {
          stale.push(n)
        }
      })
      if (moved.keys.size > 0) this.packs.set(next, moved)
      await Promise.all(stale.map(async (n) => { await erasePacked(join(this.root, PACK_DIR, next), offsets[n], moving[n].e.size).catch(() => {}) }))
      if (moved.keys.size === 0) await unlink(join(this.root, PACK_DIR, next)).catch(() => {})
      if (info.keys.size === 0 && this.packs.get(name) === info) {
        this.packs.delete(name)
        await unlink(old).catch(() => {})
      }
    } finally {
      info.compacting = false
    }
  }

  private async unlinkFile (m: string, i: string, e: Entry): Promise<void> {
    await unlink(join(this.root, m, fileName(i, e))).catch(() => {})
    if (this.boxes.get(m) === undefined) await rmdir(join(this.root, m)).catch(() => {})
  }

  private add (m: string, i: string, e: Entry): void {
    this.changeCount.set(m, (this.changeCount.get(m) ?? 0) + 1)
    let box = this.boxes.get(m)
    if (box === undefined) { box = { entries: new Map(), usage: { bytes: 0, count: 0 }, bySender: new Map() }; this.boxes.set(m, box) }
    box.entries.set(i, e)
    bump(box.usage, e.charge, 1)
    let inBox = box.bySender.get(e.sender)
    if (inBox === undefined) { inBox = { bytes: 0, count: 0 }; box.bySender.set(e.sender, inBox) }
    bump(inBox, e.charge, 1)
    let sender = this.senders.get(e.sender)
    if (sender === undefined) { sender = { usage: { bytes: 0, count: 0 }, keys: new Set() }; this.senders.set(e.sender, sender) }
    bump(sender.usage, e.charge, 1)
    sender.keys.add(`${m}/${i}`)
    bump(this.total, e.charge, 1)
    this.totalSize += e.size
  }

  private remove (m: string, i: string): void {
    this.changeCount.set(m, (this.changeCount.get(m) ?? 0) + 1)
    const box = this.boxes.get(m)
    const e = box?.entries.get(i)
    if (box === undefined || e === undefined) return
    box.entries.delete(i)
    bump(box.usage, -e.charge, -1)
    const inBox = box.bySender.get(e.sender)
    if (inBox !== undefined) {
      bump(inBox, -e.charge, -1)
      if (inBox.count === 0) box.bySender.delete(e.sender)
    }
    if (box.entries.size === 0) this.boxes.delete(m)
    const sender = this.senders.get(e.sender)
    if (sender !== undefined) {
      bump(sender.usage, -e.charge, -1)
      sender.keys.delete(`${m}/${i}`)
      if (sender.keys.size === 0) this.senders.delete(e.sender)
    }
    bump(this.total, -e.charge, -1)
    this.totalSize -= e.size
  }
}

/** The key of sender tags, made once per store folder. */
async function senderKey (root: string): Promise<Uint8Array> {
  const path = join(root, SENDER_KEY_FILE)
  try {
    const key = new Uint8Array(await readFile(path))
    if (key.length === 32) return key
  } catch {
    // None yet: made below.
  }
  const key = new Uint8Array(randomBytes(32))
  await writeFile(path, key, { mode: 0o600 })
  return key
}

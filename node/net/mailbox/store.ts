/**
 * What a mailbox node holds for others, on disk (so a restart loses nothing, M4): sealed
 * envelopes under the recipient's mailbox key, each with an expiry and the sender that put
 * it. The node learns only "an envelope of this padded size for mailbox M, put by PeerId P".
 *
 * One file per envelope, `<root>/<mailbox hex>/<expiry ms>-<id hex>-<sender tag hex>`, written
 * to a temporary name and renamed into place, so a mailbox killed mid-put leaves it wholly
 * there or absent. Files rather than LevelDB because a delete must really remove the bytes
 * (M3): LevelDB keeps deleted values in older table files until a compaction that may never
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

/** `pending` while its file is being written: not listed, not evicted. */
interface Entry { expiresAt: number, size: number, charge: number, sender: string, pending: boolean }
interface Usage { bytes: number, count: number }
interface Box { entries: Map<string, Entry>, usage: Usage, bySender: Map<string, Usage> }
/** A quota scope: the whole node, or one mailbox (hex). */
type Scope = { mailbox: string } | 'node'
interface Victim { m: string, i: string, e: Entry }

/** Envelopes from before sender tags were kept: counted as one unnamed sender. */
const UNNAMED_SENDER = ''
const NAME_RE = /^(\d{1,16})-([0-9a-f]{32})(?:-([0-9a-f]{16}))?$/
const DIR_RE = /^[0-9a-f]{64}$/
const SENDER_KEY_FILE = 'sender-key'
const ZERO: Usage = Object.freeze({ bytes: 0, count: 0 })

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
    if (mailbox.length !== MAILBOX_KEY_LENGTH || envelope.length === 0) return { ok: false, reason: 'BAD_REQUEST' }
    if (envelope.length > MAX_ENVELOPE_BYTES) return { ok: false, reason: 'TOO_LARGE' }
    const id = envelopeId(envelope)
    const m = toHex(mailbox)
    const i = toHex(id)
    const box = this.boxes.get(m)
    const existing = box?.entries.get(i)
    if (existing !== undefined) return { ok: true, id, expiresAt: existing.expiresAt, duplicate: true }
    const acked = this.tombstones.get(`${m}:${i}`)
    if (acked !== undefined && acked > this.init.now()) return { ok: true, id, expiresAt: acked, duplicate: true }

    // Everything up to the reservation below runs before the first await, so concurrent puts
    // cannot both pass a quota check, and evictions and the new entry land together.
    const tag = this.tagOf(sender)
    const need: Usage = { bytes: charge(envelope.length), count: 1 }
    const quotas = this.quotas()
    const own = this.senders.get(tag)?.usage ?? ZERO
    if (!fits(box?.bySender.get(tag) ?? ZERO, need, quotas.senderInMailbox) || !fits(own, need, quotas.sender)) return { ok: false, reason: 'SENDER_FULL' }
    const victims = new Map<string, Victim>()
    if (!this.makeRoom({ mailbox: m }, tag, need, quotas.mailbox, victims)) return { ok: false, reason: 'MAILBOX_FULL' }
    if (!this.makeRoom('node', tag, need, quotas.node, victims)) return { ok: false, reason: 'NODE_FULL' }

    // The sender may ask for less time, never more than this node's own maximum (M8); a
    // heavy sender on a node under pressure gets less (PRESSURE_TTL_MS).
    let ttl = Math.max(0, Math.min(ttlMs, MAX_TTL_MS))
    const pressure = this.total.bytes > quotas.node.bytes * PRESSURE_LEVEL || this.total.count > quotas.node.count * PRESSURE_LEVEL
    if (pressure && own.bytes + need.bytes > quotas.node.bytes * PRESSURE_SENDER_SHARE) ttl = Math.min(ttl, PRESSURE_TTL_MS)
    const entry: Entry = { expiresAt: this.init.now() + ttl, size: envelope.length, charge: need.bytes, sender: tag, pending: true }
    for (const v of victims.values()) this.remove(v.m, v.i)
    this.add(m, i, entry)

    for (const v of victims.values()) await this.unlinkFile(v.m, v.i, v.e)
    try {
      const dir = join(this.root, m)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const tmp = join(this.root, `.tmp-${randomBytes(8).toString('hex')}`)
      await writeFile(tmp, envelope, { mode: 0o600 })
      await rename(tmp, join(dir, fileName(i, entry))).catch(async (err: NodeJS.ErrnoException) => {
        // The folder went away meanwhile: the last envelope of this mailbox was deleted and
        // its empty folder removed between our mkdir and this rename.
        if (err.code !== 'ENOENT') throw err
        await mkdir(dir, { recursive: true, mode: 0o700 })
        await rename(tmp, join(dir, fileName(i, entry)))
      })
    } catch (err) {
      if (this.boxes.get(m)?.entries.get(i) === entry) this.remove(m, i)
      throw err
    }
    entry.pending = false
    // Acked or released while it was being written: its file must go too.
    if (this.boxes.get(m)?.entries.get(i) !== entry) await this.unlinkFile(m, i, entry)
    return { ok: true, id, expiresAt: entry.expiresAt, duplicate: false }
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
    const envelopes: HeldEnvelope[] = []
    for (const { i, e } of take) {
      try {
        envelopes.push({ id: fromHex(i) as Uint8Array, expiresAt: e.expiresAt, envelope: new Uint8Array(await readFile(join(this.root, m, fileName(i, e)))) })
      } catch {
        if (box.entries.get(i) === e) this.remove(m, i)
      }
    }
    return { envelopes, more: ordered.length > take.length }
  }

  /** Deletes the named envelopes of one mailbox; returns how many were there. */
  async ack (mailbox: Uint8Array, ids: Uint8Array[]): Promise<number> {
    const m = toHex(mailbox)
    let removed = 0
    for (const id of ids.slice(0, MAX_BATCH)) {
      const i = toHex(id)
      const expiresAt = this.boxes.get(m)?.entries.get(i)?.expiresAt
      if (await this.delete(m, i)) {
        removed++
        this.tombstone(`${m}:${i}`, expiresAt ?? this.init.now() + MAX_TTL_MS)
      }
    }
    return removed
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
      return new Uint8Array(await readFile(join(this.root, m, fileName(i, e))))
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
        envelope = new Uint8Array(await readFile(join(this.root, m, fileName(i, e))))
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
    return createHmac('sha256', this.senderKey).update(sender).digest().subarray(0, 8).toString('hex')
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
    if (!e.pending) await this.unlinkFile(m, i, e)
    return true
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

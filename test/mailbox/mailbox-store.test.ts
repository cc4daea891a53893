import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MailboxStore, type HeldEnvelope, type MailboxCursor } from '../../node/net/mailbox/store.js'
import { MAX_BATCH, MAX_ENVELOPES_PER_MAILBOX, MAX_ENVELOPE_BYTES, MAX_TTL_MS, MIN_CHARGED_BYTES, PRESSURE_LEVEL, PRESSURE_SENDER_SHARE, PRESSURE_TTL_MS, SENDER_SHARE_OF_MAILBOX, SENDER_SHARE_OF_NODE } from '../../node/net/mailbox/constants.js'
import { tempDir } from '../helpers/cli.js'

const dirs: Array<{ remove: () => Promise<void> }> = []
afterAll(async () => { for (const d of dirs) await d.remove() })
async function dbPath (): Promise<string> { const d = await tempDir(); dirs.push(d); return join(d.path, 'mailbox') }

async function folderContains (dir: string, needle: Buffer): Promise<boolean> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory() ? await folderContains(p, needle) : (await readFile(p)).includes(needle)) return true
  }
  return false
}

const mb = (n: number) => new Uint8Array(32).fill(n)
const env = (tag: string, size = 300) => { const b = new Uint8Array(size); b.set(new TextEncoder().encode(tag)); return b }
async function allOf (store: MailboxStore, box: Uint8Array): Promise<HeldEnvelope[]> {
  const out: HeldEnvelope[] = []
  for await (const h of store.held(box)) out.push(h)
  return out
}

describe('mailbox store', () => {
  it('M4: holds envelopes across a restart, lists and acks them; the same envelope twice is one', async () => {
    const path = await dbPath()
    let t = 1_000
    let store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    const first = await store.put(mb(1), env('one'), 60_000, 'peer-a')
    expect(first.ok).toBe(true)
    const dup = await store.put(mb(1), env('one'), 60_000, 'peer-a')
    expect(dup).toMatchObject({ ok: true, duplicate: true })
    await store.put(mb(1), env('two'), 60_000, 'peer-a')
    await store.put(mb(2), env('other'), 60_000, 'peer-a')
    await store.close()
    store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    expect(store.stats()).toMatchObject({ envelopes: 3, mailboxes: 2 })
    // Who put them is kept across the restart too (for the quotas), under a keyed tag.
    expect(store.heldBy('peer-a').envelopes).toBe(3)
    const held = await store.list(mb(1))
    expect(held).toHaveLength(2)
    expect(await store.ack(mb(1), held.map((h) => h.id))).toBe(2)
    expect(await store.list(mb(1))).toEqual([])
    expect((await store.list(mb(2)))).toHaveLength(1)
    // An ack naming another mailbox's envelope removes nothing.
    const other = (await store.list(mb(2)))[0]
    expect(await store.ack(mb(1), [other.id])).toBe(0)
    expect(await store.list(mb(2))).toHaveLength(1)
    t += 1
    await store.close()
  })

  it('M6: an envelope the owner acked cannot be put back by another holder until it would have expired', async () => {
    let t = 1_000_000
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: 1e9, now: () => t })
    const put = await store.put(mb(3), env('acked once'), 60_000, 'peer-a')
    expect(put).toMatchObject({ ok: true, duplicate: false })
    const id = (put as { id: Uint8Array }).id
    const before = store.changes(mb(3))
    expect(await store.ack(mb(3), [id])).toBe(1)
    expect(store.changes(mb(3))).toBeGreaterThan(before)
    expect(store.wasAcked(mb(3), id)).toBe(true)
    // Another holder hands its copy on: taken as a duplicate, nothing is stored again.
    expect(await store.put(mb(3), env('acked once'), 60_000, 'peer-b')).toMatchObject({ ok: true, duplicate: true })
    expect(store.stats().envelopes).toBe(0)
    // Past its expiry the envelope is a stranger again.
    t += 61_000
    expect(store.wasAcked(mb(3), id)).toBe(false)
    expect(await store.put(mb(3), env('acked once'), 60_000, 'peer-b')).toMatchObject({ ok: true, duplicate: false })
  })

  it('M3: an envelope past its TTL is gone from memory and disk', async () => {
    const path = await dbPath()
    let t = 5_000
    const store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    const marker = 'EXPIRING-ENVELOPE-MARKER'
    await store.put(mb(3), env(marker), 1_000, 'peer-a')
    await store.put(mb(3), env('stays'), 100_000, 'peer-a')
    t += 2_000
    expect((await store.list(mb(3))).map((h) => new TextDecoder().decode(h.envelope.subarray(0, 5)))).toEqual(['stays'])
    expect(await store.purgeExpired()).toBe(1)
    expect(store.stats().envelopes).toBe(1)
    await store.close()
    const reopened = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    expect(reopened.stats().envelopes).toBe(1)
    await reopened.close()
    expect(await folderContains(path, Buffer.from(marker))).toBe(false)
    expect(await folderContains(path, Buffer.from('stays'))).toBe(true)
  })

  it('M3/M4: a batch is written whole, each envelope answered in order and held across a restart; one ack of many really removes every file', async () => {
    const path = await dbPath()
    const t = 7_000
    let store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    const items = Array.from({ length: 40 }, (_, i) => ({ mailbox: mb(10 + (i % 3)), envelope: env(`BATCHED-${String(i).padStart(3, '0')}`), ttlMs: 60_000 }))
    const results = await store.putMany([...items, items[0], { mailbox: mb(10), envelope: new Uint8Array(0), ttlMs: 60_000 }], 'peer-a')
    expect(results.map((r) => r.ok ? (r.duplicate ? 'duplicate' : 'ok') : r.reason)).toEqual([...Array(40).fill('ok'), 'duplicate', 'BAD_REQUEST'])
    await store.close()
    // A batch killed before its rename leaves only a temporary file: gone at the next open, none of it held.
    await writeFile(join(path, '.tmp-pack-dead-000000000000'), Buffer.from('HALF-WRITTEN-BATCH'))
    store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    expect(store.stats().envelopes).toBe(40)
    const held = await store.list(mb(10))
    expect(held.map((h) => new TextDecoder().decode(h.envelope.subarray(0, 11))).sort()).toEqual(items.filter((_, i) => i % 3 === 0).map((it) => new TextDecoder().decode(it.envelope.subarray(0, 11))).sort())
    expect(await store.ack(mb(10), held.map((h) => h.id))).toBe(held.length)
    for (const i of [0, 3, 39]) expect(await folderContains(path, Buffer.from(`BATCHED-${String(i).padStart(3, '0')}`))).toBe(false)
    expect(await folderContains(path, Buffer.from('BATCHED-001'))).toBe(true)
    expect(store.stats().envelopes).toBe(40 - held.length)
    expect(await folderContains(path, Buffer.from('HALF-WRITTEN-BATCH'))).toBe(false)
    await store.close()
  })

  it('puts made in the same turn of the event loop are written as one pack file; each is answered and held on its own', async () => {
    const path = await dbPath()
    const store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => 9_000 })
    const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => await store.put(mb(20 + (i % 2)), env(`TOGETHER-${i}`), 60_000, `peer-${i % 3}`)))
    expect(results.every((r) => r.ok && !r.duplicate)).toBe(true)
    expect(await readdir(join(path, 'packs'))).toHaveLength(1)
    expect(store.heldBy('peer-1').envelopes).toBe(4)
    expect(await store.list(mb(21))).toHaveLength(6)
    // One more put later is a pack of its own.
    expect(await store.put(mb(20), env('LATER'), 60_000, 'peer-0')).toMatchObject({ ok: true })
    expect(await readdir(join(path, 'packs'))).toHaveLength(2)
    await store.close()
  })

  it('M2/M3: what a pack keeps on disk stays within twice what is live: once most of a batch is acked, the rest is copied on and the old pack goes', async () => {
    const path = await dbPath()
    let store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => 9_000 })
    const items = Array.from({ length: 20 }, (_, i) => ({ mailbox: mb(30), envelope: env(`KEPT-OR-ACKED-${String(i).padStart(2, '0')}`, 2048), ttlMs: 60_000 }))
    await store.putMany(items, 'peer-a')
    const packBytes = async (): Promise<number> => { let n = 0; for (const f of await readdir(join(path, 'packs'))) n += (await stat(join(path, 'packs', f))).size; return n }
    const full = await packBytes()
    // The owner acks all but three, a few at a time (as one that keeps a few "refused" ones would).
    const held = await store.list(mb(30))
    for (let at = 0; at < held.length - 3; at += 4) await store.ack(mb(30), held.slice(at, Math.min(at + 4, held.length - 3)).map((h) => h.id))
    expect(store.stats().envelopes).toBe(3)
    expect(await packBytes()).toBeLessThanOrEqual(2 * 3 * (2048 + 69) + 8)
    expect(await packBytes()).toBeLessThan(full / 2)
    for (const h of held.slice(0, -3)) expect(await folderContains(path, Buffer.from(h.envelope.subarray(0, 16)))).toBe(false)
    await store.close()
    store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => 9_000 })
    expect((await store.list(mb(30))).map((h) => h.envelope)).toEqual(held.slice(-3).map((h) => h.envelope))
    await store.close()
  })

  it('M8: a TTL above the maximum is capped by the mailbox clock; oversized envelopes are refused', async () => {
    const t = 10_000
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: 1e9, now: () => t })
    const r = await store.put(mb(4), env('x'), MAX_TTL_MS * 10, 'peer-a')
    expect(r).toMatchObject({ ok: true, expiresAt: t + MAX_TTL_MS })
    expect(await store.put(mb(4), new Uint8Array(MAX_ENVELOPE_BYTES + 1), 1000, 'peer-a')).toEqual({ ok: false, reason: 'TOO_LARGE' })
    await store.close()
  })

  it('M2: a sender gets SENDER_FULL at its share of a mailbox; a full mailbox refuses whoever holds its fair share, not a newcomer', async () => {
    let t = 1
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: 1e9, now: () => t })
    const share = MAX_ENVELOPES_PER_MAILBOX * SENDER_SHARE_OF_MAILBOX
    const senders = Array.from({ length: 1 / SENDER_SHARE_OF_MAILBOX }, (_, i) => `sender-${i}`)
    for (const s of senders) {
      for (let i = 0; i < share; i++) {
        t++
        expect(await store.put(mb(5), env(`${s}-${i}`, 100), 60_000 + i, s)).toMatchObject({ ok: true })
      }
      expect(await store.put(mb(5), env(`${s}-over`, 100), 60_000, s)).toEqual({ ok: false, reason: 'SENDER_FULL' })
    }
    expect(store.stats().envelopes).toBe(MAX_ENVELOPES_PER_MAILBOX)
    // The mailbox is full. A newcomer holding nothing there gets in: the first of the biggest
    // holders gives up its latest-expiring envelope.
    expect(await store.put(mb(5), env('newcomer', 100), 60_000, 'newcomer')).toMatchObject({ ok: true, duplicate: false })
    expect(store.stats().envelopes).toBe(MAX_ENVELOPES_PER_MAILBOX)
    expect(store.heldBy('newcomer').envelopes).toBe(1)
    expect(store.heldBy(senders[0]).envelopes).toBe(share - 1)
    const texts = (await allOf(store, mb(5))).map((h) => new TextDecoder().decode(h.envelope).replace(/\0+$/, ''))
    expect(texts).not.toContain(`${senders[0]}-${share - 1}`)
    expect(texts).toContain(`${senders[0]}-${share - 2}`)
    // A sender holding more than its fair share now cannot evict anyone: MAILBOX_FULL.
    expect(await store.put(mb(5), env('again', 100), 60_000, senders[1])).toEqual({ ok: false, reason: 'SENDER_FULL' })
    expect(await store.put(mb(5), env('again', 100), 60_000, senders[0])).toEqual({ ok: false, reason: 'MAILBOX_FULL' })
    // Other mailboxes are untouched by all this.
    expect(await store.put(mb(6), env('legit', 100), 1000, senders[0])).toMatchObject({ ok: true })
    await store.close()
  })

  it('M2: every envelope is charged at least MIN_CHARGED_BYTES; a sender gets SENDER_FULL at its share of the node', async () => {
    const quota = 64 * MIN_CHARGED_BYTES
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: quota, now: () => 1 })
    let taken = 0
    for (let i = 0; i < 64; i++) {
      const r = await store.put(mb(10 + i), env(`tiny-${i}`, 10), 1000, 'flooder')
      if (!r.ok) { expect(r.reason).toBe('SENDER_FULL'); break }
      taken++
    }
    expect(taken).toBe(quota * SENDER_SHARE_OF_NODE / MIN_CHARGED_BYTES)
    expect(store.stats()).toMatchObject({ envelopes: taken, bytes: taken * 10, chargedBytes: taken * MIN_CHARGED_BYTES })
    await store.close()
  })

  it('M2: above half full, a sender holding more than its pressure share gets at most PRESSURE_TTL_MS; light senders keep the full TTL', async () => {
    const t = 1_000
    const size = 16 * 1024
    const quota = 64 * size
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: quota, now: () => t })
    expect(quota * PRESSURE_SENDER_SHARE).toBe(size)
    // Below half full, even a sender holding several envelopes gets the whole TTL.
    let box = 100
    for (let i = 0; i < 3; i++) expect(await store.put(mb(box++), env(`early-${i}`, size), MAX_TTL_MS, 'early')).toMatchObject({ ok: true, expiresAt: t + MAX_TTL_MS })
    // Others fill the node past half.
    for (let s = 0; store.stats().chargedBytes <= quota * PRESSURE_LEVEL; s++) {
      for (let i = 0; i < quota * SENDER_SHARE_OF_NODE / size; i++) expect((await store.put(mb(box++), env(`fill-${s}-${i}`, size), MAX_TTL_MS, `fill-${s}`)).ok).toBe(true)
    }
    // A light sender's first envelope keeps the full TTL; past its pressure share, one day.
    expect(await store.put(mb(box++), env('light-1', size), MAX_TTL_MS, 'light')).toMatchObject({ ok: true, expiresAt: t + MAX_TTL_MS })
    expect(await store.put(mb(box++), env('light-2', size), MAX_TTL_MS, 'light')).toMatchObject({ ok: true, expiresAt: t + PRESSURE_TTL_MS })
    expect(await store.put(mb(box++), env('early-4', size), MAX_TTL_MS, 'early')).toMatchObject({ ok: true, expiresAt: t + PRESSURE_TTL_MS })
    // A sender asking for less than the cap gets what it asked.
    expect(await store.put(mb(box++), env('early-5', size), 60_000, 'early')).toMatchObject({ ok: true, expiresAt: t + 60_000 })
    await store.close()
  })

  it('M6: pages walk every envelope of a mailbox once, in expiry order, whatever is acked between pages', async () => {
    let t = 1
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: 1e9, now: () => t })
    const n = MAX_BATCH * 2 + 10
    for (let i = 0; i < n; i++) { t++; expect((await store.put(mb(9), env(`e-${i}`, 100), MAX_TTL_MS, `s-${i % 4}`)).ok).toBe(true) }
    const seen: string[] = []
    let after: MailboxCursor | undefined
    for (;;) {
      const page = await store.page(mb(9), after)
      expect(page.envelopes.length).toBeLessThanOrEqual(MAX_BATCH)
      seen.push(...page.envelopes.map((h) => new TextDecoder().decode(h.envelope).replace(/\0+$/, '')))
      // Ack half of each page before asking for the next one.
      await store.ack(mb(9), page.envelopes.filter((_, i) => i % 2 === 0).map((h) => h.id))
      if (!page.more) break
      const last = page.envelopes[page.envelopes.length - 1]
      after = { expiresAt: last.expiresAt, id: last.id }
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `e-${i}`))
    await store.close()
  })
})

import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MailboxStore } from '../../node/net/mailbox/store.js'
import { MAX_ENVELOPES_PER_MAILBOX, MAX_ENVELOPE_BYTES, MAX_TTL_MS } from '../../node/net/mailbox/constants.js'
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

describe('mailbox store', () => {
  it('M4: holds envelopes across a restart, lists and acks them; the same envelope twice is one', async () => {
    const path = await dbPath()
    let t = 1_000
    let store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    const first = await store.put(mb(1), env('one'), 60_000)
    expect(first.ok).toBe(true)
    const dup = await store.put(mb(1), env('one'), 60_000)
    expect(dup).toMatchObject({ ok: true, duplicate: true })
    await store.put(mb(1), env('two'), 60_000)
    await store.put(mb(2), env('other'), 60_000)
    await store.close()
    store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    expect(store.stats()).toMatchObject({ envelopes: 3, mailboxes: 2 })
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

  it('M3: an envelope past its TTL is gone from memory and disk', async () => {
    const path = await dbPath()
    let t = 5_000
    const store = await MailboxStore.open(path, { totalQuotaBytes: 1e9, now: () => t })
    const marker = 'EXPIRING-ENVELOPE-MARKER'
    await store.put(mb(3), env(marker), 1_000)
    await store.put(mb(3), env('stays'), 100_000)
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

  it('M8: a TTL above the maximum is capped by the mailbox clock; oversized envelopes are refused', async () => {
    const t = 10_000
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: 1e9, now: () => t })
    const r = await store.put(mb(4), env('x'), MAX_TTL_MS * 10)
    expect(r).toMatchObject({ ok: true, expiresAt: t + MAX_TTL_MS })
    expect(await store.put(mb(4), new Uint8Array(MAX_ENVELOPE_BYTES + 1), 1000)).toEqual({ ok: false, reason: 'TOO_LARGE' })
    await store.close()
  })

  it('M2: per-mailbox count quota and node byte quota hold; other mailboxes still get through', async () => {
    const store = await MailboxStore.open(await dbPath(), { totalQuotaBytes: (MAX_ENVELOPES_PER_MAILBOX + 50) * 100, now: () => 1 })
    let refused = 0
    for (let i = 0; i < MAX_ENVELOPES_PER_MAILBOX + 10; i++) {
      const r = await store.put(mb(5), env(`flood-${i}`, 100), 1000)
      if (!r.ok) { expect(r.reason).toBe('MAILBOX_FULL'); refused++ }
    }
    expect(refused).toBe(10)
    expect((await store.put(mb(6), env('legit', 100), 1000)).ok).toBe(true)
    let nodeFull = false
    for (let i = 0; i < 100 && !nodeFull; i++) {
      const r = await store.put(mb(7), env(`fill-${i}`, 100), 1000)
      if (!r.ok) { expect(r.reason).toBe('NODE_FULL'); nodeFull = true }
    }
    expect(nodeFull).toBe(true)
    await store.close()
  })
})

/**
 * The store's write counter and the number kept outside the data folder (L7): every batch
 * moves the counter on and it survives a reopen; a copy of the database taken earlier and
 * put back is seen as older than what this machine already saw.
 */
import { randomBytes } from 'node:crypto'
import { cp, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { RollbackGuard } from '../../node/account/rollback-guard.js'
import { withEpoch } from '../../node/store/epoch.js'
import { openLevelKV } from '../../node/store/raw.js'
import { createSealedStore } from '../../node/store/sealed-store.js'
import { tempDir } from '../helpers/cli.js'

const dirs: Array<{ remove: () => Promise<void> }> = []
afterAll(async () => { await Promise.all(dirs.map(async (d) => { await d.remove() })) })

const dataKey = new Uint8Array(randomBytes(32))
const secret = new Uint8Array(randomBytes(32))
const open = async (path: string) => await withEpoch(createSealedStore(await openLevelKV(path), dataKey))

describe('write counter and rollback guard', () => {
  it('L7: every batch moves the counter on; it survives a reopen; a restored older copy is seen as older', async () => {
    const dir = await tempDir('sotto-epoch-')
    dirs.push(dir)
    const db = join(dir.path, 'db')
    const state = join(dir.path, 'state')

    let store = await open(db)
    const instance = store.instanceId
    const guard = await RollbackGuard.open(state, secret, instance)
    store.onCommitted((n) => { guard.committed(n) })
    expect(guard.check(store.epoch).rolledBack).toBe(false)
    await store.put(['msg', 1], Uint8Array.of(1))
    await store.batch([{ type: 'put', key: ['msg', 2], value: Uint8Array.of(2) }, { type: 'del', key: ['msg', 1] }])
    expect(store.epoch).toBe(2)
    await guard.flush()
    await store.close()

    // A copy of the folder as it is now.
    await cp(db, join(dir.path, 'copy'), { recursive: true })

    store = await open(db)
    expect(store.epoch).toBe(2)
    expect([...store.instanceId]).toEqual([...instance])
    store.onCommitted((n) => { guard.committed(n) })
    await store.del(['msg', 2])
    await store.put(['msg', 3], Uint8Array.of(3))
    expect(store.epoch).toBe(4)
    await guard.flush()
    await store.close()

    // The old copy put back, on the same machine.
    await rm(db, { recursive: true })
    await cp(join(dir.path, 'copy'), db, { recursive: true })
    store = await open(db)
    const later = await RollbackGuard.open(state, secret, store.instanceId)
    expect(later.check(store.epoch)).toEqual({ rolledBack: true, storeEpoch: 2, keptEpoch: 4 })
    // Once handled, the store moves past the kept number and is current again.
    await store.advanceTo(later.keptEpoch + 1)
    expect(later.check(store.epoch).rolledBack).toBe(false)
    await store.close()
    // The state folder names no account: one file, a keyed hash for a name, a number inside.
    const files = await readdir(state)
    expect(files).toHaveLength(1)
    expect(files[0]).toMatch(/^epoch-[0-9a-f]{32}$/)
  })

  it('L7: a fresh store (a restore from the phrase) starts its own count and is not taken for an old copy', async () => {
    const dir = await tempDir('sotto-epoch-')
    dirs.push(dir)
    const state = join(dir.path, 'state')
    const first = await open(join(dir.path, 'a'))
    const g1 = await RollbackGuard.open(state, secret, first.instanceId)
    first.onCommitted((n) => { g1.committed(n) })
    for (let i = 0; i < 5; i++) await first.put(['msg', i], Uint8Array.of(i))
    await g1.flush()
    await first.close()
    const fresh = await open(join(dir.path, 'b'))
    const g2 = await RollbackGuard.open(state, secret, fresh.instanceId)
    expect(g2.check(fresh.epoch).rolledBack).toBe(false)
    await fresh.close()
  })
})

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { groupCommit } from '../../node/store/group-commit.js'
import { openLevelKV, type RawKV } from '../../node/store/raw.js'
import { utf8 } from '../../node/bytes.js'

const dirs: string[] = []
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

describe('group commit', () => {
  it('batches that arrive during a write go together into the next one, each caller resolved after its own write', async () => {
    const writes: string[][] = []
    let release: (() => void) | undefined
    const gc = groupCommit<string>(async (ops) => {
      writes.push(ops)
      if (writes.length === 1) await new Promise<void>((resolve) => { release = resolve })
    }, (op) => op.length)
    const settled: string[] = []
    const first = gc.write(['a1', 'a2']).then(() => settled.push('a'))
    const second = gc.write(['b1']).then(() => settled.push('b'))
    const third = gc.write(['c1', 'c2']).then(() => settled.push('c'))
    // The first write is in progress: nothing is settled, the others wait for it.
    await Promise.resolve()
    expect(writes).toEqual([['a1', 'a2']])
    expect(settled).toEqual([])
    release?.()
    await Promise.all([first, second, third])
    expect(writes).toEqual([['a1', 'a2'], ['b1', 'c1', 'c2']])
    expect(settled).toEqual(['a', 'b', 'c'])
  })

  it('a failed write rejects every caller in it and the next write goes on', async () => {
    let fail = true
    let release: (() => void) | undefined
    const gc = groupCommit<string>(async (ops) => {
      if (ops[0] === 'hold') { await new Promise<void>((resolve) => { release = resolve }); return }
      if (fail) { fail = false; throw Object.assign(new Error('disk'), { code: 'ERR_DISK' }) }
    }, () => 1)
    const held = gc.write(['hold'])
    const x = gc.write(['x'])
    const y = gc.write(['y'])
    release?.()
    await held
    await expect(x).rejects.toMatchObject({ code: 'ERR_DISK' })
    await expect(y).rejects.toMatchObject({ code: 'ERR_DISK' })
    await expect(gc.write(['z'])).resolves.toBeUndefined()
  })

  it('never splits a caller and keeps each combined write within the op limit', async () => {
    const writes: string[][] = []
    let release: (() => void) | undefined
    const gc = groupCommit<string>(async (ops) => {
      writes.push(ops)
      if (writes.length === 1) await new Promise<void>((resolve) => { release = resolve })
    }, () => 1, { maxOps: 3 })
    const all = [gc.write(['hold']), gc.write(['a', 'b']), gc.write(['c', 'd']), gc.write(['e', 'f', 'g', 'h'])]
    release?.()
    await Promise.all(all)
    expect(writes).toEqual([['hold'], ['a', 'b'], ['c', 'd'], ['e', 'f', 'g', 'h']])
  })

  it('on LevelDB: concurrent batches all land, a later put of a key wins, and close waits for queued writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-gc-'))
    dirs.push(dir)
    let kv: RawKV = await openLevelKV(join(dir, 'db'))
    const writes = Array.from({ length: 200 }, async (_, i) => {
      await kv.batch([{ type: 'put', key: utf8(`k${i % 50}`), value: utf8(`v${i}`) }, { type: 'put', key: utf8(`own${i}`), value: utf8('x') }])
    })
    // Closed while they are queued: close waits for them, and every one of them lands.
    await kv.close()
    expect((await Promise.allSettled(writes)).every((r) => r.status === 'fulfilled')).toBe(true)
    kv = await openLevelKV(join(dir, 'db'))
    for (let k = 0; k < 50; k++) expect(new TextDecoder().decode(await kv.get(utf8(`k${k}`)))).toBe(`v${150 + k}`)
    for (let i = 0; i < 200; i++) expect(await kv.get(utf8(`own${i}`))).toBeDefined()
    await kv.close()
  })
})

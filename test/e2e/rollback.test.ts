/**
 * L7 as a user meets it, with `sotto` processes only: Bob's data folder is copied while his
 * node is stopped, a message arrives after that, and then the old copy is put back. The node
 * notices at unlock (the write count kept outside the data folder is ahead of the folder's),
 * `sotto status` says so, the sessions restart, and Bob can still write to Alice.
 */
import { cp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSotto, tempDir } from '../helpers/cli.js'
import { bootstrapAddress, inboxOf, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'

const PASS = 'rollback test passphrase'
let root: { path: string, remove: () => Promise<void> }
let a: SottoProcess
let b: SottoProcess
let aliceId = ''
let bobId = ''

beforeAll(async () => {
  root = await tempDir('sotto-rollback-')
  const env = { SOTTO_PASSPHRASE: PASS }
  aliceId = JSON.parse((await runSotto(['init', '--json', '--data-dir', join(root.path, 'alice')], { env })).stdout).sessionId
  bobId = JSON.parse((await runSotto(['init', '--json', '--data-dir', join(root.path, 'bob')], { env })).stdout).sessionId
  a = await startSotto({ dataDir: join(root.path, 'alice'), passphrase: PASS })
  b = await startSotto({ dataDir: join(root.path, 'bob'), passphrase: PASS, bootstrap: [await bootstrapAddress(a)] })
  await until('both records published', async () => (await statusOf(a)).dht.recordPublished && (await statusOf(b)).dht.recordPublished, 30_000)
}, 90_000)

afterAll(async () => {
  await stopAllSotto()
  await root?.remove()
})

async function restartBob (): Promise<void> {
  b = await startSotto({ dataDir: join(root.path, 'bob'), passphrase: PASS, bootstrap: [await bootstrapAddress(a)] })
}

describe('a data folder restored from an older copy', () => {
  it('L7: is noticed at unlock and said by sotto status; sessions restart and Bob can still write', async () => {
    expect((await a.cli(['contacts', 'add', bobId, '--name', 'Bob'])).code).toBe(0)
    const first = await a.cli(['send', 'Bob', 'before the copy', '--json'])
    expect(JSON.parse(first.stdout).state).toBe('delivered')

    expect(await b.stop()).toBe(0)
    await cp(join(root.path, 'bob'), join(root.path, 'bob-copy'), { recursive: true })
    await restartBob()
    expect((await statusOf(b)).rollback).toBeUndefined()
    // Sent as soon as Bob's node is back: delivered now, or by the outbox when the two connect.
    expect((await a.cli(['send', 'Bob', 'after the copy'])).code).toBe(0)
    await until('the second message at Bob', async () => (await inboxOf(b)).some((m) => m.text === 'after the copy'))

    // The old copy put back.
    expect(await b.stop()).toBe(0)
    await rm(join(root.path, 'bob'), { recursive: true })
    await cp(join(root.path, 'bob-copy'), join(root.path, 'bob'), { recursive: true })
    await restartBob()
    const status = await statusOf(b)
    expect(status.rollback?.detectedAt).toBeGreaterThan(0)
    const text = await b.cli(['status'])
    expect(text.stdout).toMatch(/^WARNING: +this data folder is an older copy/m)
    // The copy does not have the second message: it was received after the copy was taken.
    expect((await inboxOf(b)).map((m) => m.text)).toEqual(['before the copy'])

    // Bob's node starts a new session with Alice (from her record in the DHT) instead of
    // reusing the stale one: it needs a peer to look the record up through.
    await until('Bob\'s node in the DHT', async () => (await statusOf(b)).dht.routingTable > 0)
    const reply = await b.cli(['send', aliceId, 'writing after a restore'])
    expect(reply.stderr).toBe('')
    expect(reply.code).toBe(0)
    await until('Bob\'s message at Alice', async () => (await inboxOf(a)).some((m) => m.text === 'writing after a restore'))

    // Noticed once: the next start of the same folder is current again.
    expect(await b.stop()).toBe(0)
    await restartBob()
    expect((await statusOf(b)).rollback).toBeUndefined()
  })
})

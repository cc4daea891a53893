/**
 * Quotas of a mailbox node against floods, on real libp2p nodes over loopback with a small
 * node quota (M2): one PeerId cannot fill the node or one mailbox, and when several PeerIds
 * fill the node, a newcomer still gets its envelope in at the expense of the biggest holder.
 */
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../node/log.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { MAILBOX_SHARE_OF_NODE, MAX_TTL_MS, MIN_CHARGED_BYTES, SENDER_SHARE_OF_MAILBOX, SENDER_SHARE_OF_NODE } from '../../node/net/mailbox/constants.js'
import { putEnvelope, registerMailbox, type PutOutcome } from '../../node/net/mailbox/protocol.js'
import { MailboxStore } from '../../node/net/mailbox/store.js'
import { tempDir } from '../helpers/cli.js'

/** Small enough to fill in a test: 128 envelopes of 16 KiB. */
const QUOTA = 2 * 1024 * 1024
const SIZE = 16 * 1024
const running: SottoLibp2p[] = []
let server: SottoLibp2p
let store: MailboxStore
let cleanup: () => Promise<void>

async function node (): Promise<SottoLibp2p> {
  const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  running.push(n)
  await n.dial(server.getMultiaddrs()[0])
  return n
}

let counter = 0
/** A distinct envelope of SIZE bytes. */
function envelope (): Uint8Array {
  const e = new Uint8Array(SIZE)
  new DataView(e.buffer).setUint32(0, ++counter)
  return e
}
const randomBox = (): Uint8Array => { const b = new Uint8Array(32); new DataView(b.buffer).setUint32(0, ++counter); b[31] = 0xb0; return b }

async function put (from: SottoLibp2p, box: Uint8Array, e = envelope()): Promise<PutOutcome> {
  return await putEnvelope(from, server.peerId, box, e, MAX_TTL_MS)
}

/** Puts from `from` until the first refusal (or `max` puts); how many were taken and the refusal. */
async function flood (from: SottoLibp2p, boxes: () => Uint8Array, max = 400): Promise<{ taken: number, refusal: PutOutcome | undefined }> {
  let taken = 0
  for (let i = 0; i < max; i++) {
    const r = await put(from, boxes())
    if (!r.ok) return { taken, refusal: r }
    taken++
  }
  return { taken, refusal: undefined }
}

beforeAll(async () => {
  const dir = await tempDir('sotto-quota-')
  cleanup = dir.remove
  server = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  running.push(server)
  store = await MailboxStore.open(join(dir.path, 'mailbox'), { totalQuotaBytes: QUOTA, now: Date.now })
  await registerMailbox(server, { store, logger: silentLogger.forComponent('m'), now: Date.now, putRate: { perSecond: 10_000, burst: 10_000 } })
})

afterAll(async () => {
  await Promise.all(running.map(async (n) => await n.stop()))
  await cleanup()
})

describe('mailbox quotas on real nodes', () => {
  it('M2: one flooding PeerId gets SENDER_FULL at its share of the node; a second peer\'s envelope still goes in', async () => {
    const flooder = await node()
    const honest = await node()
    const { taken, refusal } = await flood(flooder, randomBox)
    expect(refusal).toEqual({ ok: false, error: 'SENDER_FULL' })
    expect(taken * Math.max(SIZE, MIN_CHARGED_BYTES)).toBeLessThanOrEqual(QUOTA * SENDER_SHARE_OF_NODE)
    expect(await put(honest, randomBox())).toMatchObject({ ok: true, duplicate: false })
    expect(store.stats().bytes).toBeLessThan(QUOTA / 2)
  })

  it('M2: one PeerId flooding one mailbox gets SENDER_FULL at its share of that mailbox; another sender still puts there', async () => {
    const flooder = await node()
    const honest = await node()
    const victim = randomBox()
    const { taken, refusal } = await flood(flooder, () => victim)
    expect(refusal).toEqual({ ok: false, error: 'SENDER_FULL' })
    expect(taken * SIZE).toBeLessThanOrEqual(QUOTA * MAILBOX_SHARE_OF_NODE * SENDER_SHARE_OF_MAILBOX)
    expect(await put(honest, victim)).toMatchObject({ ok: true, duplicate: false })
  })

  it('M2: when many PeerIds have filled the node, a newcomer\'s put evicts the biggest holder\'s envelope, not its own', async () => {
    // Enough flooders, each taking its whole share, to fill the node.
    const flooders: SottoLibp2p[] = []
    let full: PutOutcome | undefined
    for (let i = 0; i < 2 / SENDER_SHARE_OF_NODE && full === undefined; i++) {
      const f = await node()
      flooders.push(f)
      const { refusal } = await flood(f, randomBox)
      if (refusal !== undefined && !refusal.ok && refusal.error === 'NODE_FULL') full = refusal
    }
    expect(full).toEqual({ ok: false, error: 'NODE_FULL' })
    const before = store.stats()
    const newcomer = await node()
    const box = randomBox()
    const e = envelope()
    expect(await put(newcomer, box, e)).toMatchObject({ ok: true, duplicate: false })
    // The node stayed within its quota: room was made by evicting, one envelope for one.
    expect(store.stats().envelopes).toBe(before.envelopes)
    expect(store.stats().chargedBytes).toBeLessThanOrEqual(QUOTA)
    expect((await store.list(box)).map((h) => h.envelope)).toEqual([e])
    // The flooders, holding their whole share, cannot take it back.
    expect(await put(flooders[0], randomBox())).toMatchObject({ ok: false })
  })
})

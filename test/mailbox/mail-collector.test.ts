/**
 * The recipient's collector against real mailboxes on loopback: junk put by a stranger
 * cannot hide a real envelope, and what the owner can never open is deleted (M2, M6); owner
 * proofs go only to the peers that may hold the mailbox, not to every connected peer (E1).
 * A collector that starts again asks the closest peers it remembered before any lookup ends.
 */
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, Stream } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import { silentLogger } from '../../node/log.js'
import { MAILBOX_PROTOCOL } from '../../node/net/constants.js'
import { byDistance } from '../../node/net/kad-distance.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { MailCollector, type CollectVerdict, type HolderMemory, type RememberedHolder } from '../../node/net/mailbox/collector.js'
import { MAX_BATCH, MAX_TTL_MS } from '../../node/net/mailbox/constants.js'
import { MAILBOX_COLLECT_PEERS } from '../../node/net/mailbox/placement.js'
import { mailboxKeyFor, signOwnerProof } from '../../node/net/mailbox/proof.js'
import { putEnvelope, registerMailbox, type ProofSigner } from '../../node/net/mailbox/protocol.js'
import { MailboxStore } from '../../node/net/mailbox/store.js'
import { tempDir } from '../helpers/cli.js'

const running: SottoLibp2p[] = []
const dirs: Array<{ remove: () => Promise<void> }> = []
afterAll(async () => {
  await Promise.all(running.map(async (n) => await n.stop()))
  for (const d of dirs) await d.remove()
})

async function node (): Promise<SottoLibp2p> {
  const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  running.push(n)
  return n
}

/** A store whose clock never repeats: envelopes put one after another expire one after another. */
async function store (): Promise<MailboxStore> {
  const d = await tempDir('sotto-collector-')
  dirs.push(d)
  let last = 0
  return await MailboxStore.open(join(d.path, 'mailbox'), { totalQuotaBytes: 1e9, now: () => (last = Math.max(last + 1, Date.now())) })
}

async function serve (libp2p: SottoLibp2p): Promise<MailboxStore> {
  const s = await store()
  // The junk below comes in faster than the default put rate; the rate is not what is tested here.
  await registerMailbox(libp2p, { store: s, logger: silentLogger.forComponent('m'), now: Date.now, putRate: { perSecond: 10_000, burst: 10_000 } })
  return s
}

const signer = (who: IdentityKeys): ProofSigner => (op, mailboxPeer, nonce) =>
  signOwnerProof({ op, signingSeed: who.signingSeed, signingPublicKey: who.signingPublicKey, dhPublicKey: who.dhPublicKey, mailboxPeer, nonce, now: Date.now() })

/**
 * Stands in for the messenger, which answers by the envelope's outer layer: one sealed to the
 * owner is accepted, one that does not open (garbage, or sealed to another key) can never be
 * opened and is rejected. Here "sealed to the owner" is an envelope that starts with the
 * owner's marker; the junk is random bytes.
 */
const MARKER = 'SEALED-TO-OWNER:'
const sealedFor = (text: string): Uint8Array => { const e = new Uint8Array(2100); e.set(new TextEncoder().encode(MARKER + text + '\n')); return e }
function receiver (): { receive: (e: Uint8Array) => Promise<CollectVerdict>, opened: string[], rejected: number } {
  const out = {
    opened: [] as string[],
    rejected: 0,
    receive: async (envelope: Uint8Array): Promise<CollectVerdict> => {
      const text = new TextDecoder().decode(envelope).split('\n')[0]
      if (!text.startsWith(MARKER)) { out.rejected++; return 'rejected' }
      out.opened.push(text.slice(MARKER.length))
      return 'accepted'
    }
  }
  return out
}

/** Resolves once `libp2p`'s DHT routing table holds `count` peers (on its own add events). */
async function routingTableHolds (libp2p: SottoLibp2p, count: number): Promise<void> {
  const table = (libp2p.services.dht as unknown as { routingTable: EventTarget & { size: number } }).routingTable
  while (table.size < count) await new Promise((resolve) => table.addEventListener('peer:add', resolve, { once: true }))
}

function collectorFor (libp2p: SottoLibp2p, who: IdentityKeys, receive: (e: Uint8Array) => Promise<CollectVerdict>): MailCollector {
  return new MailCollector({ libp2p, mailbox: mailboxKeyFor(who.dhPublicKey), sign: signer(who), receive, log: silentLogger.forComponent('c') })
}

describe('mail collector', () => {
  it('M2/M6: 300 junk envelopes with the longest TTL do not hide a real one; the junk the owner rejected is deleted', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(61))
    const box = mailboxKeyFor(owner.dhPublicKey)
    const [holder, junkSender, realSender, ownerNode] = [await node(), await node(), await node(), await node()]
    const held = await serve(holder)
    for (const n of [junkSender, realSender, ownerNode]) await n.dial(holder.getMultiaddrs()[0])
    await routingTableHolds(ownerNode, 1)

    // More junk than one fetch returns, each with the longest TTL, all put before the real one.
    const junk = 300
    expect(junk).toBeGreaterThan(MAX_BATCH)
    for (let i = 0; i < junk; i += 50) {
      const wave = await Promise.all(Array.from({ length: Math.min(50, junk - i) }, async (_, j) => {
        const e = new Uint8Array(randomBytes(2100))
        return await putEnvelope(junkSender, holder.peerId, box, e, MAX_TTL_MS)
      }))
      expect(wave.every((r) => r.ok)).toBe(true)
    }
    const real = sealedFor('the real one')
    expect(await putEnvelope(realSender, holder.peerId, box, real, MAX_TTL_MS)).toMatchObject({ ok: true, duplicate: false })
    expect(held.stats().envelopes).toBe(junk + 1)

    const r = receiver()
    const collector = collectorFor(ownerNode, owner, r.receive)
    try {
      await collector.collect()
      expect(r.opened).toEqual(['the real one'])
      expect(r.rejected).toBe(junk)
      // The real one was acked after it was accepted; the junk after it was rejected.
      expect(held.stats().envelopes).toBe(0)
    } finally {
      collector.stop()
    }
  })

  it('E1: a connected peer that is not among the closest to the mailbox receives no owner proof and no fetch', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(62))
    const box = mailboxKeyFor(owner.dhPublicKey)
    const ownerNode = await node()
    const peers = await Promise.all(Array.from({ length: MAILBOX_COLLECT_PEERS + 1 }, async () => await node()))
    const ranked = byDistance(box, peers.map((p) => p.peerId))
    const far = peers.find((p) => p.peerId.equals(ranked[ranked.length - 1])) as SottoLibp2p
    const near = peers.filter((p) => p !== far)
    // The far peer answers the mailbox protocol too, and records every stream it is asked on.
    const asked: PeerId[] = []
    await far.handle(MAILBOX_PROTOCOL, (stream: Stream, connection) => {
      asked.push(connection.remotePeer)
      stream.abort(new Error('recorded'))
    })
    const stores = await Promise.all(near.map(serve))
    const real = sealedFor('for the owner')
    for (const s of stores) expect(await s.put(box, real, 60_000, near[0].peerId.toString())).toMatchObject({ ok: true })
    for (const p of peers) await ownerNode.dial(p.getMultiaddrs()[0])
    for (const p of peers) if (p !== near[0]) await near[0].dial(p.getMultiaddrs()[0])
    await routingTableHolds(ownerNode, peers.length)
    expect(ownerNode.getPeers().some((p) => p.equals(far.peerId))).toBe(true)

    const r = receiver()
    const collector = collectorFor(ownerNode, owner, r.receive)
    try {
      await collector.collect()
      // The closest were asked: each copy was fetched and acked; the message counted once.
      expect(stores.map((s) => s.stats().envelopes)).toEqual(near.map(() => 0))
      expect(r.opened).toEqual(['for the owner'])
      expect(asked).toEqual([])
    } finally {
      collector.stop()
    }
  })

  it('a node that starts again collects from the closest peers it remembered, before (and without) any lookup', async () => {
    const owner = deriveIdentity(new Uint8Array(16).fill(63))
    const box = mailboxKeyFor(owner.dhPublicKey)
    const holder = await node()
    const held = await serve(holder)
    let kept: RememberedHolder[] = []
    const memory: HolderMemory = { load: async () => kept, save: async (h) => { kept = h } }

    // First run: the lookup finds the holder, and the collector keeps it with its address.
    const first = await node()
    await first.dial(holder.getMultiaddrs()[0])
    await routingTableHolds(first, 1)
    const before = new MailCollector({ libp2p: first, mailbox: box, sign: signer(owner), receive: receiver().receive, memory, log: silentLogger.forComponent('c') })
    await before.collect()
    before.stop()
    expect(kept.map((h) => h.peerId)).toEqual([holder.peerId.toString()])
    expect(kept[0].addrs).toContain(holder.getMultiaddrs()[0].toString())

    // Mail arrives while the owner is away.
    expect(await held.put(box, sealedFor('while you were away'), 60_000, holder.peerId.toString())).toMatchObject({ ok: true })

    // Second run, on a node that knows no peer at all: no lookup can name the holder.
    const again = await node()
    expect(again.getPeers()).toEqual([])
    let arrived: (text: string) => void = () => {}
    const opened = new Promise<string>((resolve) => { arrived = resolve })
    const after = new MailCollector({
      libp2p: again,
      mailbox: box,
      sign: signer(owner),
      receive: async (e) => { arrived(new TextDecoder().decode(e).split('\n')[0].slice(MARKER.length)); return 'accepted' },
      memory,
      log: silentLogger.forComponent('c')
    })
    try {
      after.start()
      expect(await opened).toBe('while you were away')
    } finally {
      after.stop()
    }
  })
})

/**
 * How a prekey record lookup ends, on real libp2p nodes over loopback with the real record
 * format: a stale or forged copy seen first does not win (D4), and the walk stops as soon as
 * the newest copy is confirmed instead of waiting for every peer.
 *
 * kad-dht hands out the copy in the looking node's own datastore before any peer answers, so
 * that copy is how these tests put a lying answer first, every run.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseBundle, bundleSequence, PrekeyStore, systemRandom } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { parseSessionId } from '../../node/identity/session-id.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { createRecordSelector, createRecordValidator, findRecordDetails, publishRecord, recordKey, type RecordCheck } from '../../node/net/records.js'
import { createMemoryStore } from '../../node/store/memory.js'
import { waitFor } from '../helpers/nodes.js'

const check: RecordCheck = (s, v) => { parseBundle(v, parseSessionId(s), Date.now()) }
const compare = (a: Uint8Array, b: Uint8Array): number => bundleSequence(a) - bundleSequence(b)
const started: SottoLibp2p[] = []
const network: SottoLibp2p[] = []

async function node (validate = createRecordValidator(check, bundleSequence)): Promise<SottoLibp2p> {
  const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate, select: createRecordSelector(compare) })
  started.push(n)
  return n
}

/** Remote copies arrive as Buffers: compared as plain bytes. */
const plain = (bytes: Uint8Array | undefined): Uint8Array | undefined => bytes === undefined ? undefined : Uint8Array.from(bytes)
const routingTableSize = (n: SottoLibp2p): number => (n.services.dht as unknown as { routingTable: { size: number } }).routingTable.size

/** Connects `n` to every node of the network and waits until its DHT knows them all. */
async function connect (n: SottoLibp2p, peers: SottoLibp2p[]): Promise<void> {
  for (const p of peers) await n.dial(p.getMultiaddrs()[0])
  await waitFor('routing table', async () => routingTableSize(n) >= peers.length, 20_000)
}

/** A node joining the network now: it holds no record until it stores one itself. */
async function join (validate?: ReturnType<typeof createRecordValidator>): Promise<SottoLibp2p> {
  const n = await node(validate)
  await connect(n, network)
  return n
}

/** Stores `value` in `n`'s own datastore (kad-dht does not validate its own puts; peers refuse a bad one). */
async function holdLocally (n: SottoLibp2p, sessionId: string, value: Uint8Array): Promise<void> {
  for await (const _ of n.services.dht.put(recordKey(sessionId), value)) { /* drain */ }
}

/** An account with two records published in order: `older`, then `newer` (which every node took). */
async function account (seed: number): Promise<{ sessionId: string, older: Uint8Array, newer: Uint8Array, prekeys: PrekeyStore }> {
  const identity = deriveIdentity(new Uint8Array(16).fill(seed))
  const prekeys = new PrekeyStore({ store: createMemoryStore(), identity, now: () => Date.now(), random: systemRandom })
  const older = await prekeys.buildRecord(new Uint8Array(4))
  const newer = await prekeys.buildRecord(new Uint8Array(4))
  expect(bundleSequence(newer)).toBeGreaterThan(bundleSequence(older))
  const { peers } = await publishRecord(network[1].services.dht, identity.sessionId, newer, check)
  expect(peers).toBeGreaterThanOrEqual(network.length - 1)
  return { sessionId: identity.sessionId, older, newer, prekeys }
}

beforeAll(async () => {
  for (let i = 0; i < 6; i++) network.push(await node())
  for (let i = 1; i < network.length; i++) await connect(network[i], network.slice(0, i))
  await waitFor('routing tables', async () => network.every((n) => routingTableSize(n) >= network.length - 1), 20_000)
}, 60_000)
afterAll(async () => { await Promise.all(started.map(async (n) => await n.stop())) })

describe('prekey record lookups', () => {
  it('D4: a stale but validly signed copy answered first does not win while the newer one is reachable', async () => {
    const { sessionId, older, newer } = await account(41)
    // Nodes holding the older record. The peers they offer it to refuse it: they know newer,
    // the publisher included (publishing ran its own validator).
    const liar = await join()
    await holdLocally(liar, sessionId, older)
    const lookup = await findRecordDetails(liar.services.dht, sessionId, check, compare)
    expect(plain(lookup.record)).toEqual(newer)
    // The stale copy was taken (first), then replaced; two peers then agreed on the newer one.
    expect(lookup).toMatchObject({ copies: 3, ended: 'agreement' })
    // Knowing the stale one's sequence (say, from an earlier lookup) does not make it final
    // either (another account: one stale holder at a time).
    const other = await account(46)
    const hintedLiar = await join()
    await holdLocally(hintedLiar, other.sessionId, other.older)
    const hinted = await findRecordDetails(hintedLiar.services.dht, other.sessionId, check, compare, { known: { sequence: bundleSequence(other.older), sequenceOf: bundleSequence } })
    expect(plain(hinted.record)).toEqual(other.newer)
    expect(hinted).toMatchObject({ copies: 3, ended: 'agreement' })
    // Every other node, whichever copy reaches it first, gets the newer one.
    for (const n of network) expect(plain((await findRecordDetails(n.services.dht, sessionId, check, compare)).record)).toEqual(newer)
  })

  it('D4: a forged copy never wins, even claiming the highest sequence', async () => {
    const { sessionId, newer, prekeys } = await account(42)
    const forged = await prekeys.buildRecord(new Uint8Array(4))
    forged[forged.length - 5] ^= 1
    expect(compare(forged, newer)).toBeGreaterThan(0)
    expect(() => { check(sessionId, forged) }).toThrow(expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }))
    // A node whose DHT validator lets everything through: the lookup's own check is all that stands.
    const careless = await join(() => {})
    await holdLocally(careless, sessionId, forged)
    const lookup = await findRecordDetails(careless.services.dht, sessionId, check, compare)
    expect(plain(lookup.record)).toEqual(newer)
    expect(lookup.copies).toBeGreaterThanOrEqual(3)
    // Only forged copies to be had: nothing is found.
    const mallory = deriveIdentity(new Uint8Array(16).fill(43))
    const forgedOnly = await new PrekeyStore({ store: createMemoryStore(), identity: mallory, now: () => Date.now(), random: systemRandom }).buildRecord(new Uint8Array(4))
    forgedOnly[forgedOnly.length - 5] ^= 1
    await holdLocally(careless, mallory.sessionId, forgedOnly)
    expect(await findRecordDetails(careless.services.dht, mallory.sessionId, check, compare, { signal: AbortSignal.timeout(5000) })).toMatchObject({ record: undefined, copies: 1, ended: 'walk' })
  })

  it('D4: a lookup stops at two agreeing copies and verifies identical bytes once', async () => {
    const { sessionId, newer } = await account(44)
    const holder = network[3]
    const lookup = await findRecordDetails(holder.services.dht, sessionId, check, compare)
    expect(plain(lookup.record)).toEqual(newer)
    // Its own copy and the first peer's, out of six holders; one verification for both.
    expect(lookup).toMatchObject({ copies: 2, checks: 1, ended: 'agreement' })
  })

  it('D4: a peer\'s copy at the known sequence ends a lookup alone; this node\'s own copy does not', async () => {
    const { sessionId, newer } = await account(45)
    const known = { sequence: bundleSequence(newer), sequenceOf: bundleSequence }
    // A node holding no copy: the first peer's answer at the known sequence is enough.
    const newcomer = await join()
    const fromPeer = await findRecordDetails(newcomer.services.dht, sessionId, check, compare, { known })
    expect(plain(fromPeer.record)).toEqual(newer)
    expect(fromPeer).toMatchObject({ copies: 1, ended: 'known' })
    // Without the hint it waits for a second peer.
    expect(await findRecordDetails(newcomer.services.dht, sessionId, check, compare)).toMatchObject({ copies: 2, ended: 'agreement' })
    // A holder's own copy only echoes what it knows: one peer's answer is still asked for.
    const holder = await findRecordDetails(network[2].services.dht, sessionId, check, compare, { known })
    expect(plain(holder.record)).toEqual(newer)
    expect(holder).toMatchObject({ copies: 2, ended: 'known' })
  })
})

/**
 * Prekey records in the DHT, with the real record format and validator, on real libp2p
 * nodes over loopback: bad records are refused by every node (D1), the highest sequence wins
 * and a stale one replayed later does not replace it (D2), and a lookup keeps only verified
 * records (D4).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseBundle, bundleSequence, PrekeyStore, systemRandom } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { parseSessionId } from '../../node/identity/session-id.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { createRecordSelector, createRecordValidator, findRecord, publishRecord, recordKey } from '../../node/net/records.js'
import { createMemoryStore } from '../../node/store/memory.js'
import { waitFor } from '../helpers/nodes.js'

const check = (s: string, v: Uint8Array): void => { parseBundle(v, parseSessionId(s), Date.now()) }
const compare = (a: Uint8Array, b: Uint8Array): number => bundleSequence(a) - bundleSequence(b)
const nodes: SottoLibp2p[] = []
const alice = deriveIdentity(new Uint8Array(16).fill(31))
const mallory = deriveIdentity(new Uint8Array(16).fill(32))
const prekeys = (now: () => number) => new PrekeyStore({ store: createMemoryStore(), identity: alice, now, random: systemRandom })
const alicePrekeys = prekeys(() => Date.now())

beforeAll(async () => {
  for (let i = 0; i < 6; i++) {
    nodes.push(await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: createRecordValidator(check, bundleSequence), select: createRecordSelector(compare) }))
    if (i > 0) await nodes[i].dial(nodes[i - 1].getMultiaddrs()[0])
  }
  // Each node knows the others through the DHT before records move.
  await waitFor('routing tables', async () => nodes.every((n) => (n.services.dht as unknown as { routingTable: { size: number } }).routingTable.size >= 2), 20_000)
}, 60_000)
afterAll(async () => { await Promise.all(nodes.map(async (n) => await n.stop())) })

describe('prekey records in the DHT', () => {
  it('D1: a bad signature, another Session ID, an expired or oversized record is refused by every node', async () => {
    const good = await alicePrekeys.buildRecord(new Uint8Array(4))
    const key = recordKey(alice.sessionId)
    const validate = createRecordValidator(check, bundleSequence)
    expect(() => validate(key, good)).not.toThrow()
    const flipped = Uint8Array.from(good)
    flipped[flipped.length - 5] ^= 1
    const stale = await prekeys(() => Date.now() - 60 * 24 * 3600 * 1000).buildRecord(new Uint8Array(4))
    const cases: Array<[string, Uint8Array, Uint8Array, string]> = [
      ['forged signature', key, flipped, 'ERR_BAD_SIGNATURE'],
      ['filed under another Session ID', recordKey(mallory.sessionId), good, 'ERR_IDENTITY_MISMATCH'],
      ['expired', key, stale, 'ERR_BUNDLE_EXPIRED'],
      ['too large', key, new Uint8Array(20_000), 'ERR_RECORD_TOO_LARGE']
    ]
    for (const [name, k, v, code] of cases) expect(() => validate(k, v), name).toThrow(expect.objectContaining({ code }))
    // Over the network: a node pushing a forged record gets it stored nowhere else.
    for await (const _ of nodes[0].services.dht.put(recordKey(mallory.sessionId), good)) { /* drain */ }
    for (const n of nodes.slice(1)) expect(await findRecord(n.services.dht, mallory.sessionId, check, compare, { signal: AbortSignal.timeout(3000) })).toBeUndefined()
  })

  it('D2 and D6: the highest sequence wins; our own record is checked before a put and reaches peers; a stale one replayed later does not win', async () => {
    const first = await alicePrekeys.buildRecord(new Uint8Array(4))
    const second = await alicePrekeys.buildRecord(new Uint8Array(4))
    expect(bundleSequence(second)).toBeGreaterThan(bundleSequence(first))
    // 300 zero bytes: version 0, refused by our own check before anything is sent.
    await expect(publishRecord(nodes[1].services.dht, alice.sessionId, new Uint8Array(300), check)).rejects.toMatchObject({ code: 'ERR_UNKNOWN_VERSION' })
    const { peers } = await publishRecord(nodes[1].services.dht, alice.sessionId, second, check)
    expect(peers).toBeGreaterThan(0)
    for await (const _ of nodes[4].services.dht.put(recordKey(alice.sessionId), first)) { /* a replay of the older record */ }
    for (const n of [nodes[0], nodes[3], nodes[5]]) {
      const found = await findRecord(n.services.dht, alice.sessionId, check, compare)
      expect(found && bundleSequence(found)).toBe(bundleSequence(second))
    }
  })

  it('D3: while one peer floods the DHT with records, another peer\'s record is still published and found', async () => {
    const flooders = Array.from({ length: 12 }, (_, i) => new PrekeyStore({ store: createMemoryStore(), identity: deriveIdentity(new Uint8Array(16).fill(100 + i)), now: () => Date.now(), random: systemRandom }))
    const junk = await Promise.all(flooders.map(async (p) => await p.buildRecord(new Uint8Array(4))))
    const flood = Promise.all(Array.from({ length: 400 }, async (_, i) => {
      const who = deriveIdentity(new Uint8Array(16).fill(100 + (i % 12)))
      try { for await (const _ of nodes[2].services.dht.put(recordKey(who.sessionId), junk[i % 12])) { /* drain */ } } catch { /* refused streams are the point */ }
    }))
    const honest = deriveIdentity(new Uint8Array(16).fill(90))
    const record = await new PrekeyStore({ store: createMemoryStore(), identity: honest, now: () => Date.now(), random: systemRandom }).buildRecord(new Uint8Array(4))
    const { peers } = await publishRecord(nodes[4].services.dht, honest.sessionId, record, check)
    expect(peers).toBeGreaterThan(0)
    expect(await findRecord(nodes[0].services.dht, honest.sessionId, check, compare)).toBeDefined()
    await flood
  })
})

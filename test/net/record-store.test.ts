/**
 * D3: the DHT records a node keeps for others are bounded. A peer putting many valid records
 * under fresh identities cannot make a node hold more than its record store's cap; the
 * oldest go first, and a record put after the flood is still stored and found.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Key } from 'interface-datastore'
import { base32 } from 'multiformats/bases/base32'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleSequence, parseBundle, PrekeyStore, systemRandom } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { parseSessionId } from '../../node/identity/session-id.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { createRecordSelector, createRecordValidator, findRecord, publishRecord, recordKey } from '../../node/net/records.js'
import { RecordDatastore } from '../../node/net/record-datastore.js'
import { createMemoryStore } from '../../node/store/memory.js'
import { waitFor } from '../helpers/nodes.js'

const check = (s: string, v: Uint8Array): void => { parseBundle(v, parseSessionId(s), Date.now()) }
const compare = (a: Uint8Array, b: Uint8Array): number => bundleSequence(a) - bundleSequence(b)
const CAP = 20
const store = new RecordDatastore({ maxRecords: CAP, maxBytes: 1024 * 1024 })
let target: SottoLibp2p
let flooder: SottoLibp2p

async function recordOf (seed: number): Promise<{ sessionId: string, record: Uint8Array }> {
  const identity = deriveIdentity(new Uint8Array(16).fill(seed))
  const record = await new PrekeyStore({ store: createMemoryStore(), identity, now: () => Date.now(), random: systemRandom }).buildRecord(new Uint8Array(4))
  return { sessionId: identity.sessionId, record }
}

beforeAll(async () => {
  const make = async (datastore?: RecordDatastore) => await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: createRecordValidator(check, bundleSequence), select: createRecordSelector(compare), datastore })
  target = await make(store)
  flooder = await make()
  await flooder.dial(target.getMultiaddrs()[0])
  await waitFor('routing tables', async () => [target, flooder].every((n) => (n.services.dht as unknown as { routingTable: { size: number } }).routingTable.size >= 1), 20_000)
}, 60_000)
afterAll(async () => { await Promise.all([target, flooder].map(async (n) => await n?.stop())) })

describe('the DHT record store', () => {
  it('D3: valid records under 3x as many fresh identities as the cap leave the store at its cap; a later record is stored and found', async () => {
    for (let i = 0; i < 3 * CAP; i++) {
      const { sessionId, record } = await recordOf(10 + i)
      await publishRecord(flooder.services.dht, sessionId, record, check)
    }
    expect(store.stats().records).toBe(CAP)
    const later = await recordOf(200)
    expect((await publishRecord(flooder.services.dht, later.sessionId, later.record, check)).peers).toBeGreaterThan(0)
    expect(store.stats().records).toBe(CAP)
    const found = await findRecord(target.services.dht, later.sessionId, check, compare, { signal: AbortSignal.timeout(5000) })
    expect(found).toEqual(later.record)
    expect(await store.has(recordKeyInStore(recordKey(later.sessionId)))).toBe(true)
  })
})

/** Where kad-dht files a record in its datastore: `/dht/record/<base32 of the DHT key>`. */
function recordKeyInStore (dhtKey: Uint8Array): Key {
  return new Key(`/dht/record/${base32.baseEncode(dhtKey)}`)
}

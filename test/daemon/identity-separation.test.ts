/** K5/K6 and D5: what the network sees of an account. */
import { afterAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseRecord } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { phraseToEntropy } from '../../node/identity/phrase.js'
import { parseSessionId } from '../../node/identity/session-id.js'
import { decodeRouting } from '../../node/net/routing.js'
import { toHex } from '../../node/bytes.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

const PHRASE = 'legal winner thank year wave sausage worth useful legal winner thank yellow'
const nodes: TestNode[] = []
afterAll(async () => { await Promise.all(nodes.map(async (n) => await n.node.stop())) })

describe('identity and the network', () => {
  it('K5/K6: the PeerId is a random device key, not the identity key, and differs for the same phrase on two devices', async () => {
    const one = await startTestNode()
    const two = await startTestNode({ bootstrapFrom: [one.node] })
    nodes.push(one, two)
    const id1 = (await one.node.controller.restoreAccount(PHRASE, TEST_PASSPHRASE)).sessionId
    const id2 = (await two.node.controller.restoreAccount(PHRASE, TEST_PASSPHRASE)).sessionId
    expect(id1).toBe(id2)
    expect(one.node.peerId).not.toBe(two.node.peerId)
    const identity = deriveIdentity(phraseToEntropy(PHRASE))
    const peerKey = peerIdFromString(one.node.peerId).publicKey?.raw
    expect(peerKey).toBeDefined()
    expect(toHex(peerKey as Uint8Array)).not.toBe(toHex(identity.signingPublicKey))
  })

  it('D5: the published record holds keys, routing and timing only: no contact, no name', async () => {
    const n = nodes[0]
    await waitFor('record published', async () => (await n.node.controller.status()).dht.recordPublished)
    await n.node.controller.messenger().contacts.add(parseSessionId(deriveIdentity(new Uint8Array(16).fill(5)).sessionId), 'Some Contact Name')
    const { sessionId } = await n.node.controller.status() as { sessionId: string }
    const record = n.node.publishedRecord() as Uint8Array
    expect(record).toBeDefined()
    const parsed = parseRecord(record, parseSessionId(sessionId), Date.now())
    const text = Buffer.from(record).toString('latin1')
    expect(text).not.toContain('Some Contact Name')
    expect(text).not.toContain(deriveIdentity(new Uint8Array(16).fill(5)).sessionId.slice(2, 20))
    const routing = decodeRouting(parsed.routing)
    expect(routing.peerId.toString()).toBe(n.node.peerId)
    expect(routing.addrs.every((a) => a.toString().startsWith('/ip4/127.0.0.1/'))).toBe(true)
  })
})

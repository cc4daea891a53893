/** K5/K6 and D5: what the network sees of an account. */
import { afterAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { bundleSequence, parseBundle } from '../../node/crypto/index.js'
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

  it('D5: the record published after a contact was added holds keys, routing and timing only: no contact key, ID or name', async () => {
    const two = await startTestNode()
    const n = await startTestNode({ bootstrapFrom: [two.node] })
    nodes.push(two, n)
    await n.node.controller.restoreAccount(PHRASE, TEST_PASSPHRASE)
    await waitFor('record published', async () => (await n.node.controller.status()).dht.recordPublished)
    const before = bundleSequence(n.node.publishedRecord() as Uint8Array)
    const contact = deriveIdentity(new Uint8Array(16).fill(5))
    const contactName = 'Some Contact Name'
    await n.node.controller.messenger().contacts.add(parseSessionId(contact.sessionId), contactName)
    // Adding a contact publishes nothing; a restart does (and its put needs a peer: node two).
    await n.restart({ passphrase: TEST_PASSPHRASE, bootstrap: [two.node.addresses()[0]] })
    const record = await waitFor('a record published after the contact was added', async () => {
      const r = n.node.publishedRecord()
      return r !== undefined && bundleSequence(r) > before ? r : undefined
    })
    // The node that published it does hold the contact.
    expect((await n.node.controller.messenger().contacts.get(parseSessionId(contact.sessionId)))?.name).toBe(contactName)
    const { sessionId } = await n.node.controller.status() as { sessionId: string }
    const parsed = parseBundle(record, parseSessionId(sessionId), Date.now())
    const bytes = Buffer.from(record)
    const needles: Array<[string, Buffer]> = [
      ['X25519 key (raw)', Buffer.from(contact.dhPublicKey)],
      ['Ed25519 key (raw)', Buffer.from(contact.signingPublicKey)],
      ['Session ID', Buffer.from(contact.sessionId)],
      ['Session ID, upper case', Buffer.from(contact.sessionId.toUpperCase())],
      ['X25519 key (hex)', Buffer.from(toHex(contact.dhPublicKey))],
      ['Ed25519 key (hex)', Buffer.from(toHex(contact.signingPublicKey))],
      ['name', Buffer.from(contactName)],
      ['name (UTF-16)', Buffer.from(contactName, 'utf16le')]
    ]
    for (const [what, needle] of needles) expect(bytes.includes(needle), `the record holds the contact's ${what}`).toBe(false)
    // What it does hold: our own identity key and this device's routing.
    expect(bytes.includes(Buffer.from(deriveIdentity(phraseToEntropy(PHRASE)).signingPublicKey))).toBe(true)
    const routing = decodeRouting(parsed.routing)
    expect(routing.peerId.toString()).toBe(n.node.peerId)
    expect(routing.addrs.length).toBeGreaterThan(0)
    expect(routing.addrs.every((a) => a.toString().startsWith('/ip4/127.0.0.1/'))).toBe(true)
  })
})

/**
 * M6 on real nodes: anyone can put envelopes in anyone's mailbox. Junk (random bytes, or
 * envelopes sealed to someone else) that the owner's node can never open is deleted from the
 * mailbox once the owner has looked at it, instead of filling the mailbox for 14 days; a real
 * message among the junk still arrives.
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordRules } from '../../node/daemon/sotto-node.js'
import { sessionIdToX25519, type SessionId } from '../../node/identity/session-id.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { DEFAULT_TTL_MS } from '../../node/net/mailbox/constants.js'
import { mailboxKeyFor } from '../../node/net/mailbox/proof.js'
import { putEnvelope } from '../../node/net/mailbox/protocol.js'
import { createRecordSelector, createRecordValidator } from '../../node/net/records.js'
import { startTestNode, TEST_PASSPHRASE, waitFor, type TestNode } from '../helpers/nodes.js'

let relay: TestNode
let alice: TestNode
let bob: TestNode
let stranger: SottoLibp2p
let bobId: SessionId

beforeAll(async () => {
  relay = await startTestNode()
  alice = await startTestNode({ bootstrapFrom: [relay.node] })
  bob = await startTestNode({ bootstrapFrom: [relay.node] })
  await alice.node.controller.createAccount(TEST_PASSPHRASE)
  bobId = (await bob.node.controller.createAccount(TEST_PASSPHRASE)).sessionId as SessionId
  const rules = recordRules(Date.now)
  stranger = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: createRecordValidator(rules.check, rules.sequence), select: createRecordSelector(rules.compare) })
  await stranger.dial(multiaddr(relay.node.addresses()[0]))
  await waitFor('records', async () => (await alice.node.controller.status()).dht.recordPublished && (await bob.node.controller.status()).dht.recordPublished)
}, 60_000)

afterAll(async () => {
  await stranger?.stop()
  await Promise.all([relay, alice, bob].map(async (n) => await n?.node.stop()))
})

const heldAtRelay = async (): Promise<number> => (await relay.node.controller.status()).mailbox?.envelopes ?? 0

describe('junk in a mailbox', () => {
  it('M6: envelopes the owner can never open are deleted once it has looked; a real message among them arrives', async () => {
    await bob.node.stop()
    const mailbox = mailboxKeyFor(sessionIdToX25519(bobId))
    const relayPeer = peerIdFromString(relay.node.peerId)
    for (let i = 0; i < 30; i++) {
      const junk = new Uint8Array(randomBytes(2147))
      expect(await putEnvelope(stranger, relayPeer, mailbox, junk, DEFAULT_TTL_MS)).toMatchObject({ ok: true })
    }
    const sent = await alice.node.controller.messenger().send(bobId, 'the real one')
    expect(sent.state).toBe('stored')
    expect(await heldAtRelay()).toBe(31)

    await bob.restart({ passphrase: TEST_PASSPHRASE, bootstrap: [relay.node.addresses()[0]] })
    await waitFor('the real message at Bob', async () => (await bob.node.controller.messenger().log.inbox(0)).some((m) => m.text === 'the real one'), 30_000)
    await waitFor('the mailbox emptied of junk too', async () => await heldAtRelay() === 0, 30_000)
  })
})

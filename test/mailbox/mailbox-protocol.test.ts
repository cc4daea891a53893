/**
 * /sotto/mailbox/1 over real libp2p streams on loopback: who may take mail out (M1, M7), a
 * flood from one peer against others (M2), and what the mailbox learns (E1).
 */
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import { silentLogger } from '../../node/log.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { mailboxKeyFor, signOwnerProof, type OwnerProof } from '../../node/net/mailbox/proof.js'
import { ackEnvelopes, fetchEnvelopes, putEnvelope, registerMailbox, type ProofSigner } from '../../node/net/mailbox/protocol.js'
import { MailboxStore } from '../../node/net/mailbox/store.js'
import { PUT_BURST } from '../../node/net/mailbox/constants.js'
import { tempDir } from '../helpers/cli.js'

let mailbox: SottoLibp2p
let sender: SottoLibp2p
let flooder: SottoLibp2p
let store: MailboxStore
const owner = deriveIdentity(new Uint8Array(16).fill(41))
const stranger = deriveIdentity(new Uint8Array(16).fill(42))
const ownerBox = mailboxKeyFor(owner.dhPublicKey)
let cleanup: () => Promise<void>

const signerFor = (who: IdentityKeys, captured?: OwnerProof[]): ProofSigner => (op, mailboxPeer, nonce) => {
  const p = signOwnerProof({ op, signingSeed: who.signingSeed, signingPublicKey: who.signingPublicKey, dhPublicKey: who.dhPublicKey, mailboxPeer, nonce, now: Date.now() })
  captured?.push(p)
  return p
}
/** Replays a captured proof whatever nonce the mailbox hands out. */
const replaying = (proof: OwnerProof): ProofSigner => () => proof
/** Claims the owner's mailbox with the stranger's key. */
const impostor: ProofSigner = (op, mailboxPeer, nonce) => ({ ...signerFor(stranger)(op, mailboxPeer, nonce), mailbox: ownerBox })

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

beforeAll(async () => {
  const dir = await tempDir()
  cleanup = dir.remove
  mailbox = await node()
  sender = await node()
  flooder = await node()
  store = await MailboxStore.open(join(dir.path, 'mailbox'), { totalQuotaBytes: 1e9, now: Date.now })
  await registerMailbox(mailbox, { store, logger: silentLogger.forComponent('m'), now: Date.now })
  for (const n of [sender, flooder]) await n.dial(mailbox.getMultiaddrs()[0])
})

afterAll(async () => {
  await Promise.all([mailbox, sender, flooder].map(async (n) => await n.stop()))
  await cleanup()
})

describe('mailbox protocol', () => {
  it('M1/M7: without the identity key nobody lists or acks; a captured proof is useless when replayed; the owner gets the mail', async () => {
    const envelope = new Uint8Array(2048).fill(7)
    expect((await putEnvelope(sender, mailbox.peerId, ownerBox, envelope, 60_000)).ok).toBe(true)
    expect(await fetchEnvelopes(sender, mailbox.peerId, impostor)).toEqual([])
    const captured: OwnerProof[] = []
    const held = await fetchEnvelopes(sender, mailbox.peerId, signerFor(owner, captured))
    expect(held).toHaveLength(1)
    expect(await fetchEnvelopes(flooder, mailbox.peerId, replaying(captured[0]))).toEqual([])
    // Ack with a replayed or foreign proof removes nothing; the owner's ack removes it.
    expect(await ackEnvelopes(flooder, mailbox.peerId, replaying(captured[0]), [held[0].id])).toBe(0)
    expect(await ackEnvelopes(flooder, mailbox.peerId, impostor, [held[0].id])).toBe(0)
    expect(store.stats().envelopes).toBe(1)
    expect(await ackEnvelopes(sender, mailbox.peerId, signerFor(owner), [held[0].id])).toBe(1)
    expect(store.stats().envelopes).toBe(0)
  })

  it('M2: a flood from one peer hits its rate limit with a typed reason; another sender still gets through', async () => {
    const other = mailboxKeyFor(deriveIdentity(new Uint8Array(16).fill(43)).dhPublicKey)
    // In waves of 32 streams: past the per-connection stream limit the flood is cut off anyway.
    const results = []
    for (let wave = 0; wave * 32 < PUT_BURST + 64; wave++) {
      results.push(...await Promise.all(Array.from({ length: 32 }, async (_, i) => {
        const e = new Uint8Array(256)
        new DataView(e.buffer).setUint32(0, wave * 32 + i)
        return await putEnvelope(flooder, mailbox.peerId, other, e, 60_000)
      })))
    }
    const limited = results.filter((r) => !r.ok && r.error === 'RATE_LIMITED').length
    expect(limited).toBeGreaterThan(0)
    expect((await putEnvelope(sender, mailbox.peerId, ownerBox, new Uint8Array(300).fill(9), 60_000)).ok).toBe(true)
  })
})

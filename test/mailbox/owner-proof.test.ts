import { describe, expect, it } from 'vitest'
import { concatBytes } from '../../node/bytes.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import { ChallengeBook, mailboxKeyFor, signOwnerProof, verifyOwnerProof, type OwnerProof } from '../../node/net/mailbox/proof.js'

const owner = deriveIdentity(new Uint8Array(16).fill(21))
const stranger = deriveIdentity(new Uint8Array(16).fill(22))
const selfPeer = new Uint8Array(38).fill(7)
const otherPeer = new Uint8Array(38).fill(8)

function proofFor (who: typeof owner, challenges: ChallengeBook, now: number, op: 'list' | 'ack' = 'list', peer = selfPeer): OwnerProof {
  return signOwnerProof({ op, signingSeed: who.signingSeed, signingPublicKey: who.signingPublicKey, dhPublicKey: who.dhPublicKey, mailboxPeer: peer, nonce: challenges.issue(), now })
}

describe('mailbox owner proofs', () => {
  it('M1: the owner\'s fresh proof is accepted once; its replay is refused', () => {
    let t = 1_000_000
    const book = new ChallengeBook(() => t)
    const proof = proofFor(owner, book, t)
    expect(verifyOwnerProof(proof, 'list', selfPeer, book, t)).toBe(true)
    expect(verifyOwnerProof(proof, 'list', selfPeer, book, t)).toBe(false)
    t += 1
  })

  it('M1: a proof used for another operation, mailbox or mailbox node is refused', () => {
    const t = 2_000_000
    const book = new ChallengeBook(() => t)
    expect(verifyOwnerProof(proofFor(owner, book, t, 'list'), 'ack', selfPeer, book, t)).toBe(false)
    expect(verifyOwnerProof(proofFor(owner, book, t, 'list', otherPeer), 'list', selfPeer, book, t)).toBe(false)
    const p = proofFor(owner, book, t)
    expect(verifyOwnerProof({ ...p, mailbox: mailboxKeyFor(stranger.dhPublicKey) }, 'list', selfPeer, book, t)).toBe(false)
  })

  it('M1: without the identity key nobody proves ownership: own key on someone else\'s mailbox, forged or flipped signatures', () => {
    const t = 3_000_000
    const book = new ChallengeBook(() => t)
    const mine = proofFor(stranger, book, t)
    expect(verifyOwnerProof({ ...mine, mailbox: mailboxKeyFor(owner.dhPublicKey) }, 'list', selfPeer, book, t)).toBe(false)
    const real = proofFor(owner, book, t)
    const flipped = Uint8Array.from(real.signature)
    flipped[10] ^= 1
    expect(verifyOwnerProof({ ...real, signature: flipped }, 'list', selfPeer, book, t)).toBe(false)
    expect(verifyOwnerProof({ ...real, signature: new Uint8Array(64) }, 'list', selfPeer, book, t)).toBe(false)
    // The untouched proof still works: failed attempts did not burn the owner's nonce.
    expect(verifyOwnerProof(real, 'list', selfPeer, book, t)).toBe(true)
  })

  it('M7: a nonce the mailbox never issued, an expired one, or a timestamp outside ±60 s is refused', () => {
    let t = 4_000_000
    const book = new ChallengeBook(() => t)
    const other = new ChallengeBook(() => t)
    expect(verifyOwnerProof(proofFor(owner, other, t), 'list', selfPeer, book, t)).toBe(false)
    const late = proofFor(owner, book, t)
    t += 61_000
    expect(verifyOwnerProof(late, 'list', selfPeer, book, t)).toBe(false)
    const skewed = proofFor(owner, book, t - 61_000)
    expect(verifyOwnerProof(skewed, 'list', selfPeer, book, t)).toBe(false)
  })

  it('K7: a signature with S >= L (malleated) is refused', () => {
    const t = 5_000_000
    const book = new ChallengeBook(() => t)
    const p = proofFor(owner, book, t)
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    let s = 0n
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(p.signature[32 + i])
    const s2 = s + L
    const sig = Uint8Array.from(p.signature)
    for (let i = 0; i < 32; i++) sig[32 + i] = Number((s2 >> BigInt(8 * i)) & 0xffn)
    expect(verifyOwnerProof({ ...p, signature: sig }, 'list', selfPeer, book, t)).toBe(false)
    expect(verifyOwnerProof(p, 'list', selfPeer, book, t)).toBe(true)
  })
})

describe('mailbox proofs on node:crypto', () => {
  it('are the same Ed25519 signatures @noble/curves makes, and noble verifies them', async () => {
    const { ed25519 } = await import('@noble/curves/ed25519.js')
    const book = new ChallengeBook(() => 1)
    const p = proofFor(owner, book, 6_000_000)
    expect(ed25519.verify(p.signature, concatBytes(new TextEncoder().encode('Sotto/mailbox-proof/v1\0'), Uint8Array.of(1), p.mailbox, Uint8Array.of(selfPeer.length), selfPeer, p.nonce, u64(p.timestamp)), owner.signingPublicKey)).toBe(true)
  })
})

function u64 (n: number): Uint8Array { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b }

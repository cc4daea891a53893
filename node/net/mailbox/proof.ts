/**
 * Proof that the caller owns a mailbox (M1, M7): an Ed25519 signature by the account's
 * identity key over a context string, the operation, the mailbox key, the mailbox node's own
 * PeerId, a nonce that node issued, and a timestamp. So a captured proof is useless for
 * another operation, another mailbox, another node, or a second time.
 *
 * Signed bytes: "Sotto/mailbox-proof/v1\0" | op u8 | mailbox(32) | u8 len | PeerId bytes |
 * nonce(16) | timestamp u64 BE (ms).
 * The mailbox key of an account: SHA-256("Sotto/mailbox-key/v1\0" | X25519 identity public).
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { concatBytes, equalBytes, utf8 } from '../../bytes.js'
import { CHALLENGE_TTL_MS, MAX_OPEN_CHALLENGES, PROOF_CLOCK_SKEW_MS } from './constants.js'

const PROOF_CONTEXT = utf8('Sotto/mailbox-proof/v1\0')
const MAILBOX_KEY_CONTEXT = utf8('Sotto/mailbox-key/v1\0')
export const NONCE_LENGTH = 16
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export const MAILBOX_OPS = { list: 1, fetch: 2, ack: 3, subscribe: 4 } as const
export type MailboxOp = keyof typeof MAILBOX_OPS

export interface OwnerProof {
  op: MailboxOp
  mailbox: Uint8Array
  nonce: Uint8Array
  timestamp: number
  signingPublicKey: Uint8Array
  signature: Uint8Array
}

export function mailboxKeyFor (dhPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(MAILBOX_KEY_CONTEXT).update(dhPublicKey).digest())
}

function signedBytes (op: MailboxOp, mailbox: Uint8Array, mailboxPeer: Uint8Array, nonce: Uint8Array, timestamp: number): Uint8Array {
  const ts = new Uint8Array(8)
  new DataView(ts.buffer).setBigUint64(0, BigInt(timestamp))
  return concatBytes(PROOF_CONTEXT, Uint8Array.of(MAILBOX_OPS[op]), mailbox, Uint8Array.of(mailboxPeer.length), mailboxPeer, nonce, ts)
}

export function signOwnerProof (args: { op: MailboxOp, signingSeed: Uint8Array, signingPublicKey: Uint8Array, dhPublicKey: Uint8Array, mailboxPeer: Uint8Array, nonce: Uint8Array, now: number }): OwnerProof {
  const mailbox = mailboxKeyFor(args.dhPublicKey)
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, args.signingSeed]), format: 'der', type: 'pkcs8' })
  const signature = new Uint8Array(nodeSign(null, signedBytes(args.op, mailbox, args.mailboxPeer, args.nonce, args.now), key))
  return { op: args.op, mailbox, nonce: args.nonce, timestamp: args.now, signingPublicKey: args.signingPublicKey, signature }
}

/** Nonces this mailbox handed out; each is good once, for a short time. */
export class ChallengeBook {
  private readonly open = new Map<string, number>()
  constructor (private readonly now: () => number) {}

  issue (): Uint8Array {
    if (this.open.size >= MAX_OPEN_CHALLENGES) this.sweep()
    if (this.open.size >= MAX_OPEN_CHALLENGES) {
      const oldest = this.open.keys().next().value
      if (oldest !== undefined) this.open.delete(oldest)
    }
    const nonce = new Uint8Array(randomBytes(NONCE_LENGTH))
    this.open.set(Buffer.from(nonce).toString('hex'), this.now() + CHALLENGE_TTL_MS)
    return nonce
  }

  /** True once per issued, unexpired nonce. */
  consume (nonce: Uint8Array): boolean {
    const k = Buffer.from(nonce).toString('hex')
    const until = this.open.get(k)
    if (until === undefined) return false
    this.open.delete(k)
    return until >= this.now()
  }

  private sweep (): void {
    const t = this.now()
    for (const [k, until] of this.open) if (until < t) this.open.delete(k)
  }
}

/** Checks a proof for this mailbox node; false for anything not exactly right. */
export function verifyOwnerProof (proof: OwnerProof, expectedOp: MailboxOp, selfPeer: Uint8Array, challenges: ChallengeBook, now: number): boolean {
  if (proof.op !== expectedOp || proof.mailbox.length !== 32 || proof.nonce.length !== NONCE_LENGTH ||
      proof.signingPublicKey.length !== 32 || proof.signature.length !== 64) return false
  if (Math.abs(now - proof.timestamp) > PROOF_CLOCK_SKEW_MS) return false
  let dhPublic: Uint8Array
  try {
    dhPublic = ed25519.utils.toMontgomery(proof.signingPublicKey)
  } catch {
    return false
  }
  if (!equalBytes(mailboxKeyFor(dhPublic), proof.mailbox)) return false
  // node:crypto (OpenSSL) verifies RFC 8032 strictly: S < L, canonical encodings (K7); ~15x
  // faster than noble here, which matters on a mailbox answering many owners.
  let ok = false
  try {
    const key = createPublicKey({ key: Buffer.from(proof.signingPublicKey), format: 'raw-public', asymmetricKeyType: 'ed25519' } as any)
    ok = nodeVerify(null, signedBytes(proof.op, proof.mailbox, selfPeer, proof.nonce, proof.timestamp), key, proof.signature)
  } catch {
    ok = false
  }
  // Spend the nonce only for a valid proof, so garbage cannot burn an owner's challenge.
  return ok && challenges.consume(proof.nonce)
}

/**
 * What a group's current secret names on the network (docs/GROUPS.md §4): the gossipsub
 * topic, and for each day (UTC) the group mailbox: its key, the Ed25519 key whose owner
 * proofs fetch it (the mailbox protocol's own scheme: the mailbox key is
 * SHA-256("Sotto/mailbox-key/v1\0" || the proof key in Montgomery form), NETWORK.md), and the
 * key that seals the copies put there. Holders see a mailbox key like any account's: no
 * Session ID, no group id (G7). A removed member does not get the next secret, so it cannot
 * compute the next topic or mailbox.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { hkdfSha256 } from '../crypto/primitives/kdf.js'
import { mailboxKeyFor, signOwnerProof, type MailboxOp } from '../net/mailbox/proof.js'
import type { ProofSigner } from '../net/mailbox/protocol.js'
import { DAY_MS, GROUP_MAILBOX_DAY_INFO, GROUP_TOPIC_INFO } from './constants.js'

export const GROUP_TOPIC_PREFIX = '/sotto/group/1/'

export function dayOf (ms: number): number {
  return Math.floor(ms / DAY_MS)
}

/** The gossipsub topic of a group secret: a name nobody without the secret can link to the group. */
export function topicFor (secret: Uint8Array): string {
  return GROUP_TOPIC_PREFIX + Buffer.from(hkdfSha256(secret, new Uint8Array(0), GROUP_TOPIC_INFO, 16)).toString('hex')
}

export interface GroupMailboxDay {
  day: number
  /** The mailbox key holders file the copies under. */
  mailbox: Uint8Array
  /** Seals and opens the copies (wire.ts sealForMailbox). Secret. */
  envelopeKey: Uint8Array
  /** Signs owner proofs for fetching this mailbox. */
  sign: ProofSigner
}

export function mailboxDay (secret: Uint8Array, day: number, now: () => number): GroupMailboxDay {
  const salt = new Uint8Array(4)
  new DataView(salt.buffer).setUint32(0, day)
  const okm = hkdfSha256(secret, salt, GROUP_MAILBOX_DAY_INFO, 64)
  const signingSeed = okm.slice(0, 32)
  const signingPublicKey = ed25519.getPublicKey(signingSeed)
  const dhPublicKey = ed25519.utils.toMontgomery(signingPublicKey)
  return {
    day,
    mailbox: mailboxKeyFor(dhPublicKey),
    envelopeKey: okm.slice(32, 64),
    sign: (op: MailboxOp, mailboxPeer: Uint8Array, nonce: Uint8Array) => signOwnerProof({ op, signingSeed, signingPublicKey, dhPublicKey, mailboxPeer, nonce, now: now() })
  }
}

/**
 * Sender keys, as Signal's groups use them (libsignal `rust/protocol/src/sender_keys.rs`,
 * `group_cipher.rs`): per member and group, a chain key that ratchets forward with
 * HMAC-SHA256 (message key seed = HMAC(CK, 0x01), next CK = HMAC(CK, 0x02), the old chain key
 * dropped as it advances) and an Ed25519 key that signs every message the chain encrypts.
 * Forward secrecy within the chain; no healing by itself: a rotation (new chain, sent
 * pairwise inside the 1:1 Double Ratchet sessions, G8) heals.
 *
 * Every function here is pure: it returns the next state and never changes the one given,
 * so the caller stores the new state in the same batch as the message it opened (R9).
 * Knows nothing of groups, members or the network.
 */
import { randomBytes } from 'node:crypto'
import { hkdfSha256, hmacSha256 } from '../crypto/primitives/kdf.js'
import { ed25519PublicKey, signEd25519 } from './signing.js'
import { CHAIN_KEY_SEED, GROUP_MESSAGE_KEYS_INFO, MAX_SENDER_KEY_SKIP, MAX_SKIPPED_SENDER_KEYS, MESSAGE_KEY_SEED } from './constants.js'
import { GroupError } from './errors.js'

export const SENDER_KEY_ID_BYTES = 16

/** One sender key: ours (with the signing seed) or a member's (public half only). */
export interface SenderKey {
  /** Random, 32 hex digits; names this chain on the wire (Signal's chain id). */
  keyId: string
  /** The iteration the chain key below belongs to: the next message's. */
  iteration: number
  chainKey: Uint8Array
  signingPublic: Uint8Array
  /** Only in our own keys. Secret. */
  signingSeed?: Uint8Array
  /** Message key seeds of iterations skipped over, oldest first (bounded). */
  skipped: Array<{ iteration: number, seed: Uint8Array }>
  createdAt: number
  /** Messages sent under it (own keys): rotation after SENDER_KEY_MAX_MESSAGES. */
  sent: number
}

/** What a member sends the others (inside 1:1 sessions only, G8): Signal's SenderKeyDistributionMessage. */
export interface SenderKeyDistribution { keyId: string, iteration: number, chainKey: Uint8Array, signingPublic: Uint8Array }

/** A fresh sender key of our own: random chain key and signing key (OpenSSL's CSPRNG). */
export function newSenderKey (now: number, random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): SenderKey {
  const signingSeed = random(32)
  return {
    keyId: Buffer.from(random(SENDER_KEY_ID_BYTES)).toString('hex'),
    iteration: 0,
    chainKey: random(32),
    signingPublic: ed25519PublicKey(signingSeed),
    signingSeed,
    skipped: [],
    createdAt: now,
    sent: 0
  }
}

export function distributionOf (key: SenderKey): SenderKeyDistribution {
  return { keyId: key.keyId, iteration: key.iteration, chainKey: key.chainKey, signingPublic: key.signingPublic }
}

/** A member's sender key as received; it starts at the iteration it was sent at (earlier messages stay unreadable). */
export function fromDistribution (d: SenderKeyDistribution, now: number): SenderKey {
  if (!/^[0-9a-f]{32}$/.test(d.keyId) || d.chainKey.length !== 32 || d.signingPublic.length !== 32 || !Number.isSafeInteger(d.iteration) || d.iteration < 0 || d.iteration > 0xffff_ffff) {
    throw new GroupError('ERR_GROUP_PAYLOAD', 'malformed sender key')
  }
  return { keyId: d.keyId, iteration: d.iteration, chainKey: Uint8Array.from(d.chainKey), signingPublic: Uint8Array.from(d.signingPublic), skipped: [], createdAt: now, sent: 0 }
}

/** Signal sender keys: one step of the chain. */
function step (chainKey: Uint8Array): { seed: Uint8Array, next: Uint8Array } {
  return { seed: hmacSha256(chainKey, MESSAGE_KEY_SEED), next: hmacSha256(chainKey, CHAIN_KEY_SEED) }
}

/** The AEAD key and nonce of one message, from its seed (libsignal SenderMessageKey derives iv and key by HKDF the same way). */
export function messageKeys (seed: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const okm = hkdfSha256(seed, new Uint8Array(32), GROUP_MESSAGE_KEYS_INFO, 44)
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) }
}

/** Our next message key; the returned key state has moved past it (store it before sending). */
export function nextSendingKey (key: SenderKey): { iteration: number, seed: Uint8Array, next: SenderKey } {
  const { seed, next } = step(key.chainKey)
  return { iteration: key.iteration, seed, next: { ...key, iteration: key.iteration + 1, chainKey: next, sent: key.sent + 1 } }
}

/**
 * The message key of `iteration` on a member's chain: a skipped one (then forgotten), or the
 * chain advanced to it, the keys passed over kept (at most MAX_SKIPPED_SENDER_KEYS).
 * ERR_GROUP_DUPLICATE for an iteration already used (G4), ERR_GROUP_TOO_FAR_AHEAD beyond
 * MAX_SENDER_KEY_SKIP.
 */
export function receivingKey (key: SenderKey, iteration: number): { seed: Uint8Array, next: SenderKey } {
  if (iteration < key.iteration) {
    const found = key.skipped.find((s) => s.iteration === iteration)
    if (found === undefined) throw new GroupError('ERR_GROUP_DUPLICATE', 'this group message was received before')
    return { seed: found.seed, next: { ...key, skipped: key.skipped.filter((s) => s !== found) } }
  }
  if (iteration - key.iteration > MAX_SENDER_KEY_SKIP) throw new GroupError('ERR_GROUP_TOO_FAR_AHEAD', 'the message is too far ahead in its sender chain')
  let chainKey = key.chainKey
  const skipped = [...key.skipped]
  for (let i = key.iteration; i < iteration; i++) {
    const s = step(chainKey)
    skipped.push({ iteration: i, seed: s.seed })
    chainKey = s.next
  }
  const { seed, next } = step(chainKey)
  while (skipped.length > MAX_SKIPPED_SENDER_KEYS) skipped.shift()
  return { seed, next: { ...key, iteration: iteration + 1, chainKey: next, skipped } }
}

/** Signs with a sender key's signing seed, over context || message (K9). */
export function signWith (key: SenderKey, context: Uint8Array, message: Uint8Array): Uint8Array {
  if (key.signingSeed === undefined) throw new GroupError('ERR_GROUP_STATE', 'not our sender key')
  return signEd25519(key.signingSeed, context, message)
}

/** Stored form (inside the sealed store): JSON with base64 bytes. */
export interface StoredSenderKey {
  keyId: string
  iteration: number
  chainKey: string
  signingPublic: string
  signingSeed?: string
  skipped: Array<[number, string]>
  createdAt: number
  sent: number
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))

export function storeSenderKey (k: SenderKey): StoredSenderKey {
  return {
    keyId: k.keyId,
    iteration: k.iteration,
    chainKey: b64(k.chainKey),
    signingPublic: b64(k.signingPublic),
    ...(k.signingSeed === undefined ? {} : { signingSeed: b64(k.signingSeed) }),
    skipped: k.skipped.map((s) => [s.iteration, b64(s.seed)]),
    createdAt: k.createdAt,
    sent: k.sent
  }
}

export function loadSenderKey (s: StoredSenderKey): SenderKey {
  return {
    keyId: s.keyId,
    iteration: s.iteration,
    chainKey: unb64(s.chainKey),
    signingPublic: unb64(s.signingPublic),
    ...(s.signingSeed === undefined ? {} : { signingSeed: unb64(s.signingSeed) }),
    skipped: s.skipped.map(([iteration, seed]) => ({ iteration, seed: unb64(seed) })),
    createdAt: s.createdAt,
    sent: s.sent
  }
}

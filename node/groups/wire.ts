/**
 * Group wire formats (docs/GROUPS.md §3). All start with a version byte (T5).
 *
 * Group message (gossip and direct copies), Signal's SenderKeyMessage in a fixed layout:
 *   header = 0x81 | 0x01 | sender key id (16) | u32 iteration
 *   body   = AES-256-GCM(k, n, pad256(plaintext), AD = header || group id (32))
 *   sig    = Ed25519(sender key's signing key, "Sotto/group-message/v1\0" || header || body || group id)
 *   message = header || body || sig
 * (k, n) from the message key seed (sender-key.ts messageKeys). The group id is bound but not
 * sent: only members know which group a sender key belongs to.
 *
 * Mailbox copy: the group message sealed under the day's mailbox key, in the exact layout
 * and sizes of a 1:1 sealed envelope (PROTOCOL.md §7.1), so a holder cannot tell the two
 * apart by format or size (G7):
 *   header = 0x02 | 0x05 | E (a fresh X25519 public key, only for its randomness)
 *   (k, n) = HKDF-SHA256(ikm = day envelope key, salt = header, info = "Sotto_GroupMailboxEnvelope_v1", 44)
 *   copy   = header || AES-256-GCM(k, n, 0x00 × 49 || pad(message) [the 1:1 buckets], AD = header)
 */
import { concatBytes } from '../bytes.js'
import { aeadDecrypt, aeadEncrypt } from '../crypto/primitives/aead.js'
import { hkdfSha256 } from '../crypto/primitives/kdf.js'
import { X25519KeyPair } from '../crypto/primitives/x25519.js'
import { pad, unpad } from '../crypto/padding.js'
import { systemRandom } from '../crypto/random.js'
import { GROUP_KIND_MESSAGE, GROUP_MAILBOX_ENVELOPE_INFO, GROUP_MESSAGE_CONTEXT, GROUP_MESSAGE_VERSION, GROUP_PADDING_BUCKETS } from './constants.js'
import { GroupError } from './errors.js'
import { messageKeys, SENDER_KEY_ID_BYTES, type SenderKey } from './sender-key.js'
import { signEd25519, verifyEd25519Ctx } from './signing.js'

const HEADER_BYTES = 2 + SENDER_KEY_ID_BYTES + 4
const SIGNATURE_BYTES = 64
const TAG_BYTES = 16
/** Largest group message: the last bucket with its header, tag and signature. */
export const MAX_GROUP_MESSAGE_BYTES = HEADER_BYTES + GROUP_PADDING_BUCKETS[GROUP_PADDING_BUCKETS.length - 1] + TAG_BYTES + SIGNATURE_BYTES
const SEALED_HEADER = 34
const SEALED_STATIC = 49

export interface GroupMessageHeader { keyId: string, iteration: number }

function padSmall (content: Uint8Array): Uint8Array {
  const bucket = GROUP_PADDING_BUCKETS.find((b) => content.length + 1 <= b)
  if (bucket === undefined) throw new GroupError('ERR_TOO_LARGE', 'the message is too large to send')
  const out = new Uint8Array(bucket)
  out.set(content)
  out[content.length] = 0x80
  return out
}

function unpadSmall (padded: Uint8Array): Uint8Array {
  let i = padded.length - 1
  while (i >= 0 && padded[i] === 0) i--
  if (i < 0 || padded[i] !== 0x80 || !(GROUP_PADDING_BUCKETS as readonly number[]).includes(padded.length)) throw new GroupError('ERR_GROUP_DECRYPT', 'bad padding')
  return padded.subarray(0, i)
}

function header (keyId: string, iteration: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES)
  h[0] = GROUP_MESSAGE_VERSION
  h[1] = GROUP_KIND_MESSAGE
  h.set(Buffer.from(keyId, 'hex'), 2)
  new DataView(h.buffer).setUint32(2 + SENDER_KEY_ID_BYTES, iteration)
  return h
}

/** Encrypts and signs one group message under our sender key's message key `seed`. */
export function encodeGroupMessage (groupId: Uint8Array, key: SenderKey, iteration: number, seed: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const h = header(key.keyId, iteration)
  const { key: k, nonce } = messageKeys(seed)
  const body = aeadEncrypt(k, nonce, padSmall(plaintext), concatBytes(h, groupId))
  const sig = signWith(key, concatBytes(h, body, groupId))
  return concatBytes(h, body, sig)
}

function signWith (key: SenderKey, message: Uint8Array): Uint8Array {
  if (key.signingSeed === undefined) throw new GroupError('ERR_GROUP_STATE', 'not our sender key')
  return signEd25519(key.signingSeed, GROUP_MESSAGE_CONTEXT, message)
}

/** The cleartext header, checked for shape and version only (ERR_UNKNOWN_VERSION, ERR_GROUP_MESSAGE). */
export function peekGroupMessage (bytes: Uint8Array): GroupMessageHeader {
  if (bytes.length > 0 && bytes[0] !== GROUP_MESSAGE_VERSION) throw new GroupError('ERR_UNKNOWN_VERSION', 'unknown group message version')
  if (bytes.length < HEADER_BYTES + GROUP_PADDING_BUCKETS[0] + TAG_BYTES + SIGNATURE_BYTES || bytes.length > MAX_GROUP_MESSAGE_BYTES || bytes[1] !== GROUP_KIND_MESSAGE) {
    throw new GroupError('ERR_GROUP_MESSAGE', 'malformed group message')
  }
  return {
    keyId: Buffer.from(bytes.subarray(2, 2 + SENDER_KEY_ID_BYTES)).toString('hex'),
    iteration: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2 + SENDER_KEY_ID_BYTES)
  }
}

/** The signature under the sender key's signing key (G3): checked before any chain step. */
export function verifyGroupMessage (groupId: Uint8Array, signingPublic: Uint8Array, bytes: Uint8Array): boolean {
  const signed = bytes.subarray(0, bytes.length - SIGNATURE_BYTES)
  return verifyEd25519Ctx(signingPublic, GROUP_MESSAGE_CONTEXT, concatBytes(signed, groupId), bytes.subarray(bytes.length - SIGNATURE_BYTES))
}

/** Decrypts a verified group message with its message key seed. */
export function decryptGroupMessage (groupId: Uint8Array, seed: Uint8Array, bytes: Uint8Array): Uint8Array {
  const h = bytes.subarray(0, HEADER_BYTES)
  const body = bytes.subarray(HEADER_BYTES, bytes.length - SIGNATURE_BYTES)
  const { key, nonce } = messageKeys(seed)
  const padded = aeadDecrypt(key, nonce, body, concatBytes(h, groupId), () => new GroupError('ERR_GROUP_DECRYPT', 'the group message does not decrypt'))
  return unpadSmall(padded)
}

function mailboxKeys (dayKey: Uint8Array, h: Uint8Array): { key: Uint8Array, nonce: Uint8Array } {
  const okm = hkdfSha256(dayKey, h, GROUP_MAILBOX_ENVELOPE_INFO, 44)
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) }
}

/** The mailbox copy of a group message, shaped as a 1:1 sealed envelope. */
export function sealForMailbox (dayKey: Uint8Array, message: Uint8Array): Uint8Array {
  const e = X25519KeyPair.generate(systemRandom)
  const h = concatBytes(Uint8Array.of(0x02, 0x05), e.publicKey)
  e.wipe()
  const padded = pad(message)
  const plain = new Uint8Array(SEALED_STATIC + padded.length)
  plain.set(padded, SEALED_STATIC)
  const { key, nonce } = mailboxKeys(dayKey, h)
  return concatBytes(h, aeadEncrypt(key, nonce, plain, h))
}

/** The group message inside a mailbox copy; ERR_GROUP_DECRYPT when it is not one of this day's. */
export function openFromMailbox (dayKey: Uint8Array, copy: Uint8Array): Uint8Array {
  const fail = () => new GroupError('ERR_GROUP_DECRYPT', 'not a group mailbox copy of this day')
  if (copy.length < SEALED_HEADER + SEALED_STATIC + TAG_BYTES + 1 || copy[0] !== 0x02 || copy[1] !== 0x05) throw fail()
  const h = copy.subarray(0, SEALED_HEADER)
  const { key, nonce } = mailboxKeys(dayKey, h)
  const plain = aeadDecrypt(key, nonce, copy.subarray(SEALED_HEADER), h, fail)
  if (!plain.subarray(0, SEALED_STATIC).every((b) => b === 0)) throw fail()
  try {
    return unpad(plain.subarray(SEALED_STATIC))
  } catch {
    throw fail()
  }
}

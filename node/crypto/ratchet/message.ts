/**
 * The ratchet message (Double Ratchet §3.4 HEADER and ciphertext), docs/PROTOCOL.md §5:
 *   u8 version = 0x01 | 0x05 | sender ratchet key (32) | u32 PN | u32 N | AES-256-GCM ciphertext || tag (16)
 * The first 43 bytes are the header; the AEAD's associated data is the session's directional
 * AD (sender identity, then receiver identity) followed by the header (DR §3.4, CONCAT).
 * The header is not encrypted (DR §4 header encryption is not used): the whole ratchet
 * message travels inside a sealed envelope that only the recipient opens, so a carrier
 * never sees N, PN or the ratchet key, and the recipient is the one party meant to see them.
 */
import { KEY_TYPE_X25519, RATCHET_MESSAGE_VERSION } from '../constants.js'
import { DecodeError } from '../errors.js'
import { AEAD_TAG_BYTES } from '../primitives/aead.js'
import { checkX25519PublicKey } from '../primitives/x25519.js'

export const HEADER_BYTES = 43

export interface Header {
  readonly ratchetKey: Uint8Array
  readonly previousCounter: number
  readonly counter: number
}

export function encodeHeader (ratchetKey: Uint8Array, previousCounter: number, counter: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES)
  h[0] = RATCHET_MESSAGE_VERSION
  h[1] = KEY_TYPE_X25519
  h.set(ratchetKey, 2)
  const v = new DataView(h.buffer)
  v.setUint32(34, previousCounter)
  v.setUint32(38, counter)
  return h
}

/** Splits a ratchet message into its header (parsed and raw) and the sealed body. */
export function decodeRatchetMessage (bytes: Uint8Array): { header: Header, headerBytes: Uint8Array, body: Uint8Array } {
  if (bytes.length < HEADER_BYTES + AEAD_TAG_BYTES) throw new DecodeError('ratchet message: truncated')
  if (bytes[0] !== RATCHET_MESSAGE_VERSION) throw new DecodeError(`ratchet message: version ${bytes[0]}`, 'ERR_UNKNOWN_VERSION')
  if (bytes[1] !== KEY_TYPE_X25519) throw new DecodeError('ratchet message: ratchet key has the wrong type')
  const ratchetKey = bytes.slice(2, 34)
  checkX25519PublicKey(ratchetKey, 'ratchet key')
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    header: { ratchetKey, previousCounter: v.getUint32(34), counter: v.getUint32(38) },
    headerBytes: bytes.subarray(0, HEADER_BYTES),
    body: bytes.subarray(HEADER_BYTES)
  }
}

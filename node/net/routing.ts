/**
 * The `routing` field of a prekey record: where the account's device can be reached. It is
 * opaque to node/crypto (which signs it with the rest of the record) and parsed here.
 *
 * Format (version 1): 0x01 | u8 len | PeerId bytes | u8 count | count × (u16 BE len | multiaddr bytes)
 * Bounds: PeerId ≤ 64 bytes, ≤ 8 addresses, each ≤ 200 bytes, whole field ≤ 2048 bytes.
 */
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { ParseError } from '../errors.js'
import { concatBytes } from '../bytes.js'

export const ROUTING_VERSION = 1
export const MAX_ROUTING_ADDRS = 8
export const MAX_ADDR_BYTES = 200
export const MAX_ROUTING_BYTES = 2048

export interface Routing { peerId: PeerId, addrs: Multiaddr[] }

export function encodeRouting (peerId: string, addrs: string[]): Uint8Array {
  const id = peerIdFromString(peerId).toMultihash().bytes
  const chosen = addrs.map((a) => multiaddr(a).bytes).filter((b) => b.length <= MAX_ADDR_BYTES).slice(0, MAX_ROUTING_ADDRS)
  const parts: Uint8Array[] = [Uint8Array.of(ROUTING_VERSION, id.length), id, Uint8Array.of(chosen.length)]
  for (const b of chosen) parts.push(Uint8Array.of(b.length >> 8, b.length & 0xff), b)
  const out = concatBytes(...parts)
  if (out.length > MAX_ROUTING_BYTES) throw new ParseError('routing field too large', 'ERR_ROUTING')
  return out
}

export function decodeRouting (bytes: Uint8Array): Routing {
  const fail = (why: string): never => { throw new ParseError(`bad routing field: ${why}`, 'ERR_ROUTING') }
  if (bytes.length > MAX_ROUTING_BYTES) fail('too large')
  if (bytes[0] !== ROUTING_VERSION) fail('unknown version')
  let o = 1
  const idLen = bytes[o++] ?? fail('truncated')
  if (idLen === 0 || idLen > 64 || o + idLen > bytes.length) fail('bad peer id length')
  let peerId: PeerId
  try {
    peerId = peerIdFromMultihash(Digest.decode(bytes.subarray(o, o + idLen)))
  } catch {
    return fail('bad peer id')
  }
  o += idLen
  const count = bytes[o++] ?? fail('truncated')
  if (count > MAX_ROUTING_ADDRS) fail('too many addresses')
  const addrs: Multiaddr[] = []
  for (let i = 0; i < count; i++) {
    if (o + 2 > bytes.length) fail('truncated')
    const len = (bytes[o] << 8) | bytes[o + 1]
    o += 2
    if (len === 0 || len > MAX_ADDR_BYTES || o + len > bytes.length) fail('bad address length')
    try {
      addrs.push(multiaddr(bytes.subarray(o, o + len)))
    } catch {
      fail('bad address')
    }
    o += len
  }
  if (o !== bytes.length) fail('trailing bytes')
  return { peerId, addrs }
}

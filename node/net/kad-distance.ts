/**
 * Kademlia distances as kad-dht computes them: a DHT key and a PeerId are both mapped to
 * SHA-256 of their bytes (the key's raw bytes, the PeerId's multihash), and two points are
 * as far apart as the XOR of those digests. kad-dht reports closest peers but never where
 * the asking node itself stands; mailbox holders need that to know whether they are among
 * the k closest.
 */
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'

export function kadIdOfKey (key: Uint8Array): Uint8Array {
  return createHash('sha256').update(key).digest()
}

export function kadIdOfPeer (peer: PeerId): Uint8Array {
  return kadIdOfKey(peer.toMultihash().bytes)
}

/** Negative when `a` is closer to `target` than `b`, positive when farther, 0 when equal. */
export function compareDistance (target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i] ^ target[i]
    const db = b[i] ^ target[i]
    if (da !== db) return da - db
  }
  return 0
}

/** The peers sorted from closest to farthest from `key`. */
export function byDistance (key: Uint8Array, peers: readonly PeerId[]): PeerId[] {
  const target = kadIdOfKey(key)
  return peers
    .map((peer) => ({ peer, id: kadIdOfPeer(peer) }))
    .sort((x, y) => compareDistance(target, x.id, y.id))
    .map((x) => x.peer)
}

/** How many of `peers` are strictly closer to `key` than `self`. */
export function closerThan (key: Uint8Array, self: PeerId, peers: readonly PeerId[]): PeerId[] {
  const target = kadIdOfKey(key)
  const own = kadIdOfPeer(self)
  return peers.filter((p) => compareDistance(target, kadIdOfPeer(p), own) < 0)
}

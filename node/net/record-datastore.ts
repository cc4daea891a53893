/**
 * The datastore under the node's libp2p, with a bound on the DHT records it keeps for others.
 * kad-dht stores every record its validator accepts on a PUT, and libp2p's default in-memory
 * datastore has no quota: one peer could make a node hold thousands of valid records under
 * fresh identities (D3). Here records (keys under `/dht/record/`) are capped by count and
 * bytes; when full, the oldest records are evicted first, and among the oldest the one whose
 * key is farthest from this node goes first (the node is least likely to be asked for it).
 *
 * kad-dht does not tell the datastore which peer sent a record, so the cap is per node, not per
 * peer; per connection, MAX_INBOUND_DHT_STREAMS bounds how fast one peer can put.
 */
import { MemoryDatastore } from 'datastore-core/memory'
import { Key } from 'interface-datastore'
import { base32 } from 'multiformats/bases/base32'
import type { PeerId } from '@libp2p/interface'
import { compareDistance, kadIdOfKey, kadIdOfPeer } from './kad-distance.js'

const RECORD_PREFIX = '/dht/record/'
/** DHT records a node keeps for others: Sotto records are one per account, republished every 10 min. */
export const MAX_DHT_RECORDS = 10_000
/** …and their bytes together (records are at most 16 KiB each, MAX_RECORD_BYTES). */
export const MAX_DHT_RECORD_BYTES_TOTAL = 64 * 1024 * 1024
/** Eviction looks at this many of the oldest records and drops the one farthest from us. */
export const DHT_EVICTION_WINDOW = 64

export interface RecordDatastoreLimits { maxRecords: number, maxBytes: number }

export class RecordDatastore extends MemoryDatastore {
  /** Datastore key -> the record's size and DHT position, oldest first (a Map keeps insertion order). */
  private readonly records = new Map<string, { size: number, kadId: Uint8Array }>()
  private bytes = 0
  private self: Uint8Array | undefined

  constructor (private readonly limits: RecordDatastoreLimits = { maxRecords: MAX_DHT_RECORDS, maxBytes: MAX_DHT_RECORD_BYTES_TOTAL }) {
    super()
  }

  /** The node's own PeerId, once known, so eviction can prefer records far from it. */
  setSelf (peer: PeerId): void {
    this.self = kadIdOfPeer(peer)
  }

  stats (): { records: number, bytes: number } {
    return { records: this.records.size, bytes: this.bytes }
  }

  override put (key: Key, val: Uint8Array, options?: Parameters<MemoryDatastore['put']>[2]): Key | Promise<Key> {
    const k = key.toString()
    if (!k.startsWith(RECORD_PREFIX)) return super.put(key, val, options)
    this.forget(k)
    while (this.records.size > 0 && (this.records.size + 1 > this.limits.maxRecords || this.bytes + val.length > this.limits.maxBytes)) this.evictOne()
    const result = super.put(key, val, options)
    this.records.set(k, { size: val.length, kadId: kadIdOfKey(dhtKeyOf(k)) })
    this.bytes += val.length
    return result
  }

  override delete (key: Key, options?: Parameters<MemoryDatastore['delete']>[1]): void | Promise<void> {
    this.forget(key.toString())
    return super.delete(key, options)
  }

  private forget (k: string): void {
    const known = this.records.get(k)
    if (known === undefined) return
    this.records.delete(k)
    this.bytes -= known.size
  }

  private evictOne (): void {
    let victim: string | undefined
    let victimId: Uint8Array | undefined
    let seen = 0
    for (const [k, r] of this.records) {
      if (seen++ >= DHT_EVICTION_WINDOW) break
      if (victim === undefined || (this.self !== undefined && compareDistance(this.self, r.kadId, victimId as Uint8Array) > 0)) {
        victim = k
        victimId = r.kadId
      }
    }
    if (victim === undefined) return
    this.forget(victim)
    void super.delete(new Key(victim))
  }
}

/** The DHT key a record is filed under, from its datastore key (kad-dht writes it in base32). */
function dhtKeyOf (datastoreKey: string): Uint8Array {
  try {
    return base32.baseDecode(datastoreKey.slice(RECORD_PREFIX.length))
  } catch {
    return new TextEncoder().encode(datastoreKey)
  }
}

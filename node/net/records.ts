/**
 * Prekey records in Sotto's DHT, under `/sotto-prekeys/<Session ID>`. The record format
 * belongs to node/crypto; this module only moves bytes and applies the injected checks:
 * every node's validator refuses bad records (D1), the selector keeps the highest sequence
 * (D2), our own record is validated before a put and the put is counted by the peers that
 * accepted it (D6), and a lookup verifies every copy it sees and keeps the best valid one,
 * so one peer answering with a forged or stale record does not win (D4); it stops at a
 * quorum of valid copies.
 */
import type { KadDHT } from '@libp2p/kad-dht'
import { utf8 } from '../bytes.js'
import { SottoError } from '../errors.js'
import { MAX_RECORD_BYTES, RECORD_NAMESPACE } from './constants.js'

export type RecordCheck = (sessionId: string, value: Uint8Array) => void
export type RecordCompare = (a: Uint8Array, b: Uint8Array) => number

export function recordKey (sessionId: string): Uint8Array {
  return utf8(`/${RECORD_NAMESPACE}/${sessionId}`)
}

function sessionIdOfKey (key: Uint8Array): string {
  const text = new TextDecoder().decode(key)
  const prefix = `/${RECORD_NAMESPACE}/`
  if (!text.startsWith(prefix)) throw new SottoError('ERR_RECORD_KEY', 'not a Sotto record key')
  return text.slice(prefix.length)
}

/** Session IDs whose highest sequence a node remembers, to refuse stale replays (D2). */
const MAX_REMEMBERED_SEQUENCES = 50_000

/**
 * kad-dht validator: throws for a record that is not valid under its key. kad-dht stores
 * whatever passes its validator on a PUT (it applies selectors only on reads), so the
 * validator also refuses a record older than one this node already accepted for that key:
 * a stale record replayed later cannot replace a newer one (D2).
 */
export function createRecordValidator (check: RecordCheck, sequence?: (value: Uint8Array) => number) {
  const highest = new Map<string, number>()
  return (key: Uint8Array, value: Uint8Array): void => {
    if (value.length > MAX_RECORD_BYTES) throw new SottoError('ERR_RECORD_TOO_LARGE', 'record too large')
    const sessionId = sessionIdOfKey(key)
    check(sessionId, value)
    if (sequence === undefined) return
    const seq = sequence(value)
    const known = highest.get(sessionId)
    if (known !== undefined && seq < known) throw new SottoError('ERR_RECORD_STALE', 'an older record than one already seen')
    if (highest.size >= MAX_REMEMBERED_SEQUENCES && known === undefined) highest.delete(highest.keys().next().value as string)
    highest.set(sessionId, seq)
  }
}

/** kad-dht selector: the index of the best record (compare > 0 means a is better). */
export function createRecordSelector (compare: RecordCompare) {
  return (_key: Uint8Array, records: Uint8Array[]): number => {
    let best = 0
    for (let i = 1; i < records.length; i++) if (compare(records[i], records[best]) > 0) best = i
    return best
  }
}

export async function publishRecord (dht: KadDHT, sessionId: string, value: Uint8Array, check: RecordCheck, options: { signal?: AbortSignal } = {}): Promise<{ peers: number }> {
  // kad-dht keeps an invalid record locally and drops remote refusals: check it first.
  check(sessionId, value)
  let peers = 0
  for await (const event of dht.put(recordKey(sessionId), value, { signal: options.signal })) {
    if (event.name === 'PEER_RESPONSE') peers++
  }
  return { peers }
}

/**
 * A lookup ends once this many valid copies were seen (the best of them wins): one peer
 * answering with a forged or stale record still loses to the others (D4), and the walk does
 * not wait for the slowest peers of the network to answer too.
 */
export const RECORD_LOOKUP_QUORUM = 3

export async function findRecord (dht: KadDHT, sessionId: string, check: RecordCheck, compare: RecordCompare, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
  let best: Uint8Array | undefined
  let valid = 0
  try {
    for await (const event of dht.get(recordKey(sessionId), { signal: options.signal })) {
      if (event.name !== 'VALUE') continue
      try {
        check(sessionId, event.value)
      } catch {
        continue
      }
      if (best === undefined || compare(event.value, best) > 0) best = event.value
      if (++valid >= RECORD_LOOKUP_QUORUM) break
    }
  } catch (err) {
    // "not found" and timeouts end the walk; whatever valid copy we saw still counts.
    if (best === undefined && options.signal?.aborted === true) throw err
  }
  return best
}

/**
 * Prekey records in Sotto's DHT, under `/sotto-prekeys/<Session ID>`. The record format
 * belongs to node/crypto; this module only moves bytes and applies the injected checks:
 * every node's validator refuses bad records (D1), the selector keeps the highest sequence
 * (D2), our own record is validated before a put and the put is counted by the peers that
 * accepted it (D6), and a lookup verifies every copy it sees and keeps the best valid one,
 * so one peer answering with a forged or stale record does not win (D4). A lookup ends as
 * soon as the newest valid copy is confirmed (findRecord), not when the walk ends.
 */
import type { KadDHT } from '@libp2p/kad-dht'
import { equalBytes, utf8 } from '../bytes.js'
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
 * The highest valid sequence this node has seen per Session ID, bounded (the oldest entry goes
 * first). The validator fills it from every record it accepts, puts and lookups alike; a
 * lookup reads it as the sequence it already knows (findRecord's `known`).
 */
export class SequenceMemory {
  private readonly highest = new Map<string, number>()

  constructor (private readonly capacity = MAX_REMEMBERED_SEQUENCES) {}

  get (sessionId: string): number | undefined {
    return this.highest.get(sessionId)
  }

  /** Remembers `sequence` for the Session ID; throws for one lower than already remembered. */
  raise (sessionId: string, sequence: number): void {
    const known = this.highest.get(sessionId)
    if (known !== undefined && sequence < known) throw new SottoError('ERR_RECORD_STALE', 'an older record than one already seen')
    if (this.highest.size >= this.capacity && known === undefined) this.highest.delete(this.highest.keys().next().value as string)
    this.highest.set(sessionId, sequence)
  }
}

/**
 * kad-dht validator: throws for a record that is not valid under its key. kad-dht stores
 * whatever passes its validator on a PUT (it applies selectors only on reads), so the
 * validator also refuses a record older than one this node already accepted for that key:
 * a stale record replayed later cannot replace a newer one (D2). kad-dht runs it on every
 * copy a lookup receives too, so a stale copy is dropped there already when this node knows
 * a newer one.
 */
export function createRecordValidator (check: RecordCheck, sequence?: (value: Uint8Array) => number, memory = new SequenceMemory()) {
  return (key: Uint8Array, value: Uint8Array): void => {
    if (value.length > MAX_RECORD_BYTES) throw new SottoError('ERR_RECORD_TOO_LARGE', 'record too large')
    const sessionId = sessionIdOfKey(key)
    check(sessionId, value)
    if (sequence === undefined) return
    memory.raise(sessionId, sequence(value))
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
  // kad-dht does not run a node's validator on its own puts either: run it, so this node
  // remembers the sequence and refuses an older copy replayed to it later, like its peers (D2).
  await dht.validators?.[RECORD_NAMESPACE]?.(recordKey(sessionId), value)
  let peers = 0
  for await (const event of dht.put(recordKey(sessionId), value, { signal: options.signal })) {
    if (event.name === 'PEER_RESPONSE') peers++
  }
  return { peers }
}

/** Peers that must return a valid copy with the same newest sequence before a lookup ends early (D4). */
export const RECORD_LOOKUP_AGREEMENT = 2

/** The newest sequence a node already trusts for a Session ID, and how to read a record's. */
export interface KnownSequence {
  sequence: number
  sequenceOf: (value: Uint8Array) => number
}

export interface FindRecordOptions {
  signal?: AbortSignal
  /** The sequence this node already trusts for the Session ID: its validator's memory, or the record it last found. */
  known?: KnownSequence
}

export interface RecordLookup {
  record: Uint8Array | undefined
  /** Copies considered before the lookup ended, this node's own included. */
  copies: number
  /** Verifications run: identical bytes are verified once per lookup. */
  checks: number
  /**
   * Why it ended: `known` (another peer's valid copy at the known sequence), `agreement`
   * (RECORD_LOOKUP_AGREEMENT peers gave the same newest sequence), `walk` (the DHT walk ended
   * first), `aborted` (the caller's signal, with a copy in hand).
   */
  ended: 'known' | 'agreement' | 'walk' | 'aborted'
}

/** A VALUE event as kad-dht emits it, in its progress events and its results alike. */
interface ValueEventLike { value: Uint8Array, from: { toString: () => string }, path?: { index: number } }

/**
 * Finds a Session ID's record: the best valid copy by `compare`. kad-dht's own get hands out
 * one VALUE, and only after the whole walk (every peer of a small network answered and
 * outdated holders were corrected), so copies are taken from its progress events as they
 * arrive, each verified with `check` (identical bytes once), and the walk is aborted once the
 * newest one is confirmed:
 * - a valid copy with a higher sequence always replaces the best so far;
 * - a copy from another peer at the `known` sequence needs no second one: this node knows of
 *   nothing newer (a caller's hint is as good as its last lookup). Our own stored copy does
 *   not count for this: it echoes what we know, and a holder that missed an update would
 *   otherwise never ask;
 * - otherwise RECORD_LOOKUP_AGREEMENT peers must give the same newest sequence, so one peer
 *   answering a stale or forged record first does not win (D4).
 * Unconfirmed, the best valid copy seen when the walk or the caller's signal ends is returned.
 */
export async function findRecordDetails (dht: KadDHT, sessionId: string, check: RecordCheck, compare: RecordCompare, options: FindRecordOptions = {}): Promise<RecordLookup> {
  const verdicts: Array<{ bytes: Uint8Array, valid: boolean }> = []
  const seen = new WeakSet<object>()
  const agreeing = new Set<string>()
  const known = options.known
  const stop = new AbortController()
  let best: Uint8Array | undefined
  let copies = 0
  let checks = 0
  let ended: RecordLookup['ended'] | undefined
  const finish = (why: 'known' | 'agreement'): void => {
    ended = why
    // Aborted outside kad-dht's own call stack: this runs inside its progress callback.
    queueMicrotask(() => { stop.abort() })
  }
  const consider = (event: ValueEventLike): void => {
    if (ended !== undefined || seen.has(event)) return
    seen.add(event)
    copies++
    const value = event.value
    let verdict = verdicts.find((v) => equalBytes(v.bytes, value))
    if (verdict === undefined) {
      checks++
      let valid = true
      try { check(sessionId, value) } catch { valid = false }
      verdict = { bytes: value, valid }
      verdicts.push(verdict)
    }
    if (!verdict.valid) return
    const order = best === undefined ? 1 : compare(value, best)
    if (order < 0) return
    if (order > 0) {
      best = value
      agreeing.clear()
    }
    agreeing.add(event.from.toString())
    // kad-dht labels the copy from this node's own datastore with path index -1.
    const remote = (event.path?.index ?? -1) >= 0
    const seq = known?.sequenceOf(value)
    if (known !== undefined && remote && seq === known.sequence) finish('known')
    else if (agreeing.size >= RECORD_LOOKUP_AGREEMENT && (known === undefined || (seq as number) >= known.sequence)) finish('agreement')
  }
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal])
  try {
    const walk = dht.get(recordKey(sessionId), {
      signal,
      onProgress: (e: { type: string, detail?: unknown }) => { if (e.type === 'kad-dht:query:value') consider(e.detail as ValueEventLike) }
    })
    for await (const event of walk) {
      if (event.name === 'VALUE') consider(event)
      if (ended !== undefined) break
    }
  } catch (err) {
    // Our own abort, "not found" and timeouts end the walk; whatever valid copy we saw still counts.
    if (ended === undefined && best === undefined && options.signal?.aborted === true) throw err
  }
  return { record: best, copies, checks, ended: ended ?? (options.signal?.aborted === true ? 'aborted' : 'walk') }
}

export async function findRecord (dht: KadDHT, sessionId: string, check: RecordCheck, compare: RecordCompare, options: FindRecordOptions = {}): Promise<Uint8Array | undefined> {
  return (await findRecordDetails(dht, sessionId, check, compare, options)).record
}

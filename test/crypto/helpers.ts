/**
 * Shared fixtures for the crypto tests: accounts on the real sealed store, a clock, envelopes
 * in flight. Every party's store is node/store's createSealedStore over an in-memory RawKV
 * (openMemoryKV), the same code the daemon runs on level; the only test code in between is a
 * fault injector that can make one write fail.
 */
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { openMemoryKV, type RawKV } from '../../node/store/raw.js'
import { createSealedStore } from '../../node/store/sealed-store.js'
import type { SecureStore } from '../../node/store/types.js'
import type { CryptoStore } from '../../node/crypto/storage.js'
import { SessionManager, type SessionManagerInit } from '../../node/crypto/session-manager.js'
import { seededRandom, type RandomSource } from '../../node/crypto/random.js'

export const T0 = Date.UTC(2026, 0, 1)

/** The code of the error FaultInjectingDisk throws: the crypto code must pass it on, not turn it into its own. */
export const INJECTED_CRASH = 'ERR_TEST_INJECTED_CRASH'

/** Every physical key starts with an ASCII table name, so [0x00, 0xff) covers the whole KV. */
const WHOLE_KV = { gte: new Uint8Array(0), lt: Uint8Array.of(0xff) }

/**
 * A data folder in memory: a real RawKV and the data key that seals it. `open()` gives the real
 * sealed store on it; closing that store leaves the KV in place (as a level folder stays on
 * disk), so opening again is a restart. Test fault injector: with `failNextBatch` set, the next
 * write throws before it reaches the KV (a crash before the batch landed). Every write of the
 * sealed store, put and del included, is one raw batch, so this covers them all.
 */
export class FaultInjectingDisk {
  failNextBatch = false
  private readonly kv: RawKV

  constructor (readonly dataKey: Uint8Array, kv: RawKV = openMemoryKV()) {
    this.kv = kv
  }

  /** The real sealed store on this KV, through a handle that stops working once the store is closed. */
  open (): SecureStore {
    let closed = false
    const live = (): void => { if (closed) throw new Error('store closed') }
    const handle: RawKV = {
      get: async (key) => { live(); return await this.kv.get(key) },
      batch: async (ops) => {
        live()
        if (this.failNextBatch) {
          this.failNextBatch = false
          throw Object.assign(new Error('simulated crash before the batch landed'), { code: INJECTED_CRASH })
        }
        await this.kv.batch(ops)
      },
      entries: (range) => { live(); return this.kv.entries(range) },
      close: async () => { closed = true }
    }
    return createSealedStore(handle, this.dataKey)
  }

  /**
   * Every raw record (hashed key, sealed value), to assert that nothing was written: each write
   * seals under a fresh nonce, so even rewriting a record with the same value changes this.
   */
  async snapshot (): Promise<string> {
    const lines: string[] = []
    for await (const [k, v] of this.kv.entries(WHOLE_KV)) lines.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`)
    return lines.join('\n')
  }

  /** A copy of the raw contents under the same data key: a backup of the data folder, restored later. */
  async copy (): Promise<FaultInjectingDisk> {
    const kv = openMemoryKV()
    const ops: Array<{ type: 'put', key: Uint8Array, value: Uint8Array }> = []
    for await (const [key, value] of this.kv.entries(WHOLE_KV)) ops.push({ type: 'put', key, value })
    await kv.batch(ops)
    return new FaultInjectingDisk(this.dataKey, kv)
  }
}

export function identity (name: string): IdentityKeys {
  return deriveIdentity(seededRandom(`identity:${name}`)(32))
}

export interface Party {
  name: string
  id: IdentityKeys
  sessionId: SessionId
  disk: FaultInjectingDisk
  /** The open sealed store on `disk` (replaced by restart()). */
  store: SecureStore
  manager: SessionManager
  clock: { now: number }
}

export interface World {
  parties: Map<SessionId, Party>
  bundles: Map<SessionId, Uint8Array>
}

export function world (): World {
  return { parties: new Map(), bundles: new Map() }
}

export async function party (w: World, name: string, extra: Partial<SessionManagerInit> = {}, random?: RandomSource): Promise<Party> {
  const id = identity(name)
  const disk = new FaultInjectingDisk(seededRandom(`data-key:${name}`)(32))
  const store = disk.open()
  const clock = { now: T0 }
  const manager = new SessionManager({
    identity: id,
    store,
    now: () => clock.now,
    random: random ?? seededRandom(`random:${name}`),
    fetchBundle: async (peer) => w.bundles.get(peer),
    ...extra
  })
  const p: Party = { name, id, sessionId: id.sessionId, disk, store, manager, clock }
  w.parties.set(id.sessionId, p)
  await publish(w, p)
  return p
}

export async function publish (w: World, p: Party, routing = new Uint8Array(0)): Promise<Uint8Array> {
  const bundle = await p.manager.buildBundle(routing)
  w.bundles.set(p.sessionId, bundle)
  return bundle
}

/** A second manager on an open store (the party's own by default): nothing cached in memory. */
export function freshManager (p: Party, w: World, store: CryptoStore = p.store): SessionManager {
  return new SessionManager({ identity: p.id, store, now: () => p.clock.now, random: seededRandom(`fresh:${p.name}:${Math.random()}`), fetchBundle: async (peer) => w.bundles.get(peer) })
}

/**
 * A restart: closes the party's store (its old manager cannot read or write any more), opens
 * the sealed store again on the same KV and data key, and gives the party a new manager on it.
 */
export async function restart (p: Party, w: World): Promise<SessionManager> {
  await p.store.close()
  p.store = p.disk.open()
  p.manager = freshManager(p, w, p.store)
  return p.manager
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Expects `fn` to reject with a SottoError of `code`. */
export async function rejectsWith (fn: () => Promise<unknown>, code: string): Promise<Error & { code: string }> {
  try {
    await fn()
  } catch (err) {
    const e = err as Error & { code: string }
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code ?? 'no code'}: ${e.message}`, { cause: err })
    return e
  }
  throw new Error(`expected ${code}, but it succeeded`)
}

// ---- Envelope surgery for adversarial tests ------------------------------------------------
import { openEnvelope, sealEnvelope } from '../../node/crypto/sealed-sender.js'
import { X25519KeyPair } from '../../node/crypto/primitives/x25519.js'

/** What the recipient sees inside an envelope (inner kind | 0x05 | sender | message). */
export function unseal (recipient: Party, envelope: Uint8Array): Uint8Array {
  return openEnvelope(X25519KeyPair.fromPrivateKey(recipient.id.dhPrivateKey), envelope).slice()
}

/** Seals arbitrary inner bytes to `recipient`, as anyone can. */
export function reseal (recipient: Party, inner: Uint8Array): Uint8Array {
  return sealEnvelope(recipient.id.dhPublicKey, inner, seededRandom(`reseal:${Math.random()}`))
}

/** Offset of the ratchet message inside an initial inner message (no one-time prekey: 1 + 33 + 1 + 33 + 33 + 4 + 4 + 1 + 1569). */
export function initialHeaderLength (inner: Uint8Array): number {
  const flag = inner[34 + 75]
  return 75 + 1 + (flag === 1 ? 4 : 0) + 1569
}

/** Shared fixtures for the crypto tests: accounts, stores that can fail, a clock, envelopes in flight. */
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import type { SecureStore, StoreKey, StoreOp } from '../../node/store/types.js'
import { SessionManager, type SessionManagerInit } from '../../node/crypto/session-manager.js'
import { seededRandom, type RandomSource } from '../../node/crypto/random.js'

export const T0 = Date.UTC(2026, 0, 1)

/** A Map-backed SecureStore (plain bytes, no sealing) whose batches can be made to fail. */
export class TestStore implements SecureStore {
  readonly map = new Map<string, Uint8Array>()
  failNextBatch = false
  batches = 0
  private enc (key: StoreKey | readonly [string]): string { return JSON.stringify(key) }

  async get (key: StoreKey): Promise<Uint8Array | undefined> {
    const v = this.map.get(this.enc(key))
    return v === undefined ? undefined : v.slice()
  }

  async put (key: StoreKey, value: Uint8Array): Promise<void> { await this.batch([{ type: 'put', key, value }]) }
  async del (key: StoreKey): Promise<void> { await this.batch([{ type: 'del', key }]) }

  async batch (ops: readonly StoreOp[]): Promise<void> {
    if (this.failNextBatch) {
      this.failNextBatch = false
      throw new Error('simulated crash before the batch landed')
    }
    this.batches++
    for (const op of ops) {
      if (op.type === 'put') this.map.set(this.enc(op.key), op.value.slice())
      else this.map.delete(this.enc(op.key))
    }
  }

  async * list (prefix: StoreKey | readonly [string]): AsyncIterable<Uint8Array> {
    const p = this.enc(prefix).slice(0, -1)
    const keys = [...this.map.keys()].filter((k) => k.startsWith(p + ',') || k === p + ']').sort()
    for (const k of keys) yield (this.map.get(k) as Uint8Array).slice()
  }

  async close (): Promise<void> {}

  /** A snapshot of every record, to assert that nothing was stored. */
  snapshot (): string {
    return [...this.map.entries()].sort(([a], [b]) => a < b ? -1 : 1).map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`).join('\n')
  }

  /** A copy of the whole store (a restored backup, or a second process on the same data). */
  clone (): TestStore {
    const s = new TestStore()
    for (const [k, v] of this.map) s.map.set(k, v.slice())
    return s
  }
}

export function identity (name: string): IdentityKeys {
  return deriveIdentity(seededRandom(`identity:${name}`)(32))
}

export interface Party {
  name: string
  id: IdentityKeys
  sessionId: SessionId
  store: TestStore
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
  const store = new TestStore()
  const clock = { now: T0 }
  const manager = new SessionManager({
    identity: id,
    store,
    now: () => clock.now,
    random: random ?? seededRandom(`random:${name}`),
    fetchBundle: async (peer) => w.bundles.get(peer),
    ...extra
  })
  const p: Party = { name, id, sessionId: id.sessionId, store, manager, clock }
  w.parties.set(id.sessionId, p)
  await publish(w, p)
  return p
}

export async function publish (w: World, p: Party, routing = new Uint8Array(0)): Promise<Uint8Array> {
  const bundle = await p.manager.buildBundle(routing)
  w.bundles.set(p.sessionId, bundle)
  return bundle
}

/** Restart: a new manager on the same store (nothing cached). */
export function restart (p: Party, w: World, store: SecureStore = p.store): SessionManager {
  return new SessionManager({ identity: p.id, store, now: () => p.clock.now, random: seededRandom(`restart:${p.name}:${Math.random()}`), fetchBundle: async (peer) => w.bundles.get(peer) })
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

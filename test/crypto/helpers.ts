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
  const id = deriveIdentity(seededRandom(`identity:${name}`)(32))
  holders.set(toHex(id.dhPublicKey), X25519KeyPair.fromPrivateKey(id.dhPrivateKey))
  return id
}

/** The identity key pair of a party (what only that party holds). */
export function keyPairOf (p: Party): X25519KeyPair {
  return X25519KeyPair.fromPrivateKey(p.id.dhPrivateKey)
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
import { concatBytes, toHex, utf8 } from '../../node/bytes.js'
import { KEY_TYPE_X25519 } from '../../node/crypto/constants.js'
import { pad } from '../../node/crypto/padding.js'
import { aeadEncrypt } from '../../node/crypto/primitives/aead.js'
import { hkdfSha256 } from '../../node/crypto/primitives/kdf.js'
import { X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { openEnvelope } from '../../node/crypto/sealed-sender.js'
import { encodeHeader } from '../../node/crypto/ratchet/message.js'
import { systemRandom } from '../../node/crypto/random.js'

/** Identity key pairs of every identity made here, by public key (hex): who can seal as whom. */
const holders = new Map<string, X25519KeyPair>()

/**
 * A test's view of what an envelope carries: u8 kind | 0x05 | sender identity (32) | session
 * message. The sender is the one the envelope's static layer authenticated.
 */
export function view (kind: number, sender: Uint8Array, message: Uint8Array): Uint8Array {
  const out = new Uint8Array(34 + message.length)
  out[0] = kind
  out[1] = KEY_TYPE_X25519
  out.set(sender, 2)
  out.set(message, 34)
  return out
}

/** What the recipient sees inside an envelope, as a view (kind | 0x05 | sender | message). */
export function unseal (recipient: Party, envelope: Uint8Array): Uint8Array {
  const { sender, content } = openEnvelope(keyPairOf(recipient), envelope)
  return view(content[0], sender, content.subarray(1))
}

/**
 * Envelope version 2 written out from docs/PROTOCOL.md §7.1, independently of sealed-sender.ts:
 * the static layer names `claimed` but is keyed by X25519(`staticKey`, R), so a forger (who
 * does not hold the claimed key) can be played by passing any other key pair. `padded` goes
 * into the message layer as it is (tests of bad padding pass unpadded bytes).
 */
export function sealRaw (recipient: Uint8Array, claimed: Uint8Array, staticKey: X25519KeyPair, padded: Uint8Array): Uint8Array {
  const e = X25519KeyPair.generate(systemRandom)
  const E = e.publicKey
  const five = Uint8Array.of(0x05)
  const header = concatBytes(Uint8Array.of(0x02, 0x05), E)
  const eph = hkdfSha256(e.agree(recipient), concatBytes(five, recipient, five, E), utf8('Sotto_SealedSender_v2_Ephemeral'), 76)
  const staticCt = aeadEncrypt(eph.subarray(32, 64), eph.subarray(64, 76), concatBytes(five, claimed), concatBytes(header, five, recipient))
  const stat = hkdfSha256(staticKey.agree(recipient), concatBytes(eph.subarray(0, 32), staticCt), utf8('Sotto_SealedSender_v2_Static'), 44)
  const messageCt = aeadEncrypt(stat.subarray(0, 32), stat.subarray(32, 44), padded, concatBytes(header, staticCt))
  return concatBytes(header, staticCt, messageCt)
}

/**
 * Seals a view (kind | 0x05 | sender | message) to `recipient`. The static layer names the
 * view's sender and is made with `sealer`'s identity key: by default the holder of the named
 * key (the sender itself re-sealing altered content); pass another key pair to play a forger.
 */
export function reseal (recipient: Party, inner: Uint8Array, sealer?: X25519KeyPair): Uint8Array {
  const claimed = inner.slice(2, 34)
  const by = sealer ?? holders.get(toHex(claimed))
  if (by === undefined) throw new Error('no identity made in these tests holds the claimed sender key: pass the sealer')
  const content = new Uint8Array(inner.length - 33)
  content[0] = inner[0]
  content.set(inner.subarray(34), 1)
  return sealRaw(recipient.id.dhPublicKey, claimed, by, pad(content))
}

/** A ratchet message under a fresh random ratchet key with the given PN and N, and a random body: it decrypts nowhere. */
export function junkRatchetMessage (previousCounter: number, counter: number, bodyBytes = 64): Uint8Array {
  const rk = X25519KeyPair.generate(systemRandom).publicKey
  return concatBytes(encodeHeader(rk, previousCounter, counter), systemRandom(bodyBytes + 16))
}

/** Offset of the ratchet message inside an initial inner message (no one-time prekey: 1 + 33 + 1 + 33 + 33 + 4 + 4 + 1 + 1569). */
export function initialHeaderLength (inner: Uint8Array): number {
  const flag = inner[34 + 75]
  return 75 + 1 + (flag === 1 ? 4 : 0) + 1569
}

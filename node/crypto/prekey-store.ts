/**
 * The account's own prekeys in a CryptoStore (storage.ts): rotation of the signed X25519 and ML-KEM
 * prekeys on a schedule with a grace period for the previous ones (X3DH §4.6), one-time
 * prekeys topped up in batches and deleted when used (X3DH §3.4), the replay tags of
 * initial messages already accepted (H6), and the bundle the network layer publishes.
 *
 * Store keys (docs/PROTOCOL.md §8):
 *   ['prekey', 'state']          u8 version | u32 next id | u64 sequence | u32 current signed id
 *                                | u32 current KEM id | u16 n | n x (u8 kind | u32 id | u64 retired at)
 *   ['prekey', 'signed', id]     prekeys.ts encodeSignedPrekey
 *   ['prekey', 'kem', id]        prekeys.ts encodeKemPrekey
 *   ['prekey', 'one-time', id]   prekeys.ts encodeOneTimePrekey (deleted in the batch that uses it)
 *   ['prekey-used', tag]         u8 version | tag (16) | u64 accepted at (ms)
 */
import { inspect } from 'node:util'
import type { IdentityKeys } from '../identity/keys.js'
import { toHex } from '../bytes.js'
import type { CryptoStore, CryptoStoreOp } from './storage.js'
import { encodeBundle, type BundleFields } from './bundle.js'
import {
  BUNDLE_LIFETIME_MS, MAX_ONE_TIME_PREKEYS_IN_BUNDLE, ONE_TIME_PREKEY_BATCH, ONE_TIME_PREKEY_LOW_WATER, PREKEY_STATE_VERSION,
  SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_ROTATION_MS
} from './constants.js'
import { Reader, Writer } from './encoding.js'
import { StateError } from './errors.js'
import {
  createKemPrekey, createOneTimePrekeys, createSignedPrekey, decodeKemPrekey, decodeOneTimePrekey, decodeSignedPrekey,
  encodeKemPrekey, encodeOneTimePrekey, encodeSignedPrekey, type KemPrekey, type OneTimePrekey, type SignedPrekey
} from './prekeys.js'
import { Ed25519Signer } from './primitives/ed25519.js'
import type { RandomSource } from './random.js'

const KIND_SIGNED = 1
const KIND_KEM = 2
const STATE_KEY = ['prekey', 'state'] as const
const TAG_VERSION = 1

interface Retired { kind: number, id: number, retiredAt: number }
interface PrekeyState { nextId: number, sequence: number, currentSigned: number, currentKem: number, retired: Retired[] }

function encodeState (s: PrekeyState): Uint8Array {
  const w = new Writer(64).u8(PREKEY_STATE_VERSION).u32(s.nextId).u64(s.sequence).u32(s.currentSigned).u32(s.currentKem).u16(s.retired.length)
  for (const r of s.retired) w.u8(r.kind).u32(r.id).u64(r.retiredAt)
  return w.finish()
}

function decodeState (bytes: Uint8Array): PrekeyState {
  const r = new Reader(bytes, 'prekey state', 'ERR_STATE')
  if (r.u8() !== PREKEY_STATE_VERSION) throw new StateError('prekey state (unknown version)', 'ERR_STATE_VERSION')
  const s: PrekeyState = { nextId: r.u32(), sequence: r.u64(), currentSigned: r.u32(), currentKem: r.u32(), retired: [] }
  const n = r.u16()
  for (let i = 0; i < n; i++) s.retired.push({ kind: r.u8(), id: r.u32(), retiredAt: r.u64() })
  r.end()
  return s
}

export interface PrekeyStoreInit {
  identity: IdentityKeys
  store: CryptoStore
  now: () => number
  random: RandomSource
}

export class PrekeyStore {
  private changed = true
  private readonly signer: Ed25519Signer
  private readonly signedCache = new Map<number, SignedPrekey>()
  private readonly kemCache = new Map<number, KemPrekey>()
  /** One-time prekeys made by this process, with their handles (dropped when used; bounded by the batch). */
  private readonly oneTimeCache = new Map<number, OneTimePrekey>()

  constructor (private readonly init: PrekeyStoreInit) {
    this.signer = new Ed25519Signer(init.identity.signingSeed)
  }

  toJSON (): unknown { return { type: 'PrekeyStore', keys: '[redacted]' } }
  [inspect.custom] (): string { return 'PrekeyStore { keys: [redacted] }' }

  /** True once after the prekeys changed (rotation, a one-time prekey used): time to republish. */
  takeChanged (): boolean {
    const c = this.changed
    this.changed = false
    return c
  }

  markChanged (): void { this.changed = true }

  private async state (): Promise<PrekeyState | undefined> {
    const bytes = await this.init.store.get(STATE_KEY)
    return bytes === undefined ? undefined : decodeState(bytes)
  }

  /**
   * Creates the prekeys on first use, rotates the signed and KEM prekeys when due, deletes
   * retired ones after the grace period, and tops up the one-time prekeys. Returns true when
   * anything changed (the bundle must be republished).
   */
  async maintain (): Promise<boolean> {
    const now = this.init.now()
    const { random } = this.init
    const ops: CryptoStoreOp[] = []
    const existing = await this.state()
    const s: PrekeyState = existing ?? { nextId: 1, sequence: 0, currentSigned: 0, currentKem: 0, retired: [] }
    let changed = existing === undefined

    const signed = s.currentSigned === 0 ? undefined : await this.signedPrekey(s.currentSigned)
    if (signed === undefined || now - signed.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
      const k = createSignedPrekey(this.signer, s.nextId++, now, random)
      ops.push({ type: 'put', key: ['prekey', 'signed', k.id], value: encodeSignedPrekey(k) })
      if (signed !== undefined) s.retired.push({ kind: KIND_SIGNED, id: signed.id, retiredAt: now })
      s.currentSigned = k.id
      this.signedCache.set(k.id, k)
      changed = true
    }
    const kem = s.currentKem === 0 ? undefined : await this.kemPrekey(s.currentKem)
    if (kem === undefined || now - kem.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
      const k = createKemPrekey(this.signer, s.nextId++, now, random)
      ops.push({ type: 'put', key: ['prekey', 'kem', k.id], value: encodeKemPrekey(k) })
      if (kem !== undefined) s.retired.push({ kind: KIND_KEM, id: kem.id, retiredAt: now })
      s.currentKem = k.id
      this.kemCache.set(k.id, k)
      changed = true
    }
    // Grace period over: delete (forward secrecy for initial messages, X3DH §4.6).
    s.retired = s.retired.filter((r) => {
      if (now - r.retiredAt <= SIGNED_PREKEY_GRACE_MS) return true
      ops.push({ type: 'del', key: ['prekey', r.kind === KIND_SIGNED ? 'signed' : 'kem', r.id] })
      if (r.kind === KIND_SIGNED) this.signedCache.delete(r.id)
      else this.kemCache.delete(r.id)
      return false
    })
    const oneTime = await this.oneTimePrekeyIds()
    if (oneTime.length < ONE_TIME_PREKEY_LOW_WATER) {
      const fresh = createOneTimePrekeys(s.nextId, ONE_TIME_PREKEY_BATCH - oneTime.length, random)
      s.nextId += fresh.length
      for (const k of fresh) ops.push({ type: 'put', key: ['prekey', 'one-time', k.id], value: encodeOneTimePrekey(k) })
      for (const k of fresh) this.oneTimeCache.set(k.id, k)
      changed = true
    }
    // Replay tags of sessions whose signed prekey can no longer be named.
    for await (const v of this.init.store.list(['prekey-used'])) {
      if (v.length !== 25 || v[0] !== TAG_VERSION) continue
      const at = new Reader(v.subarray(17), 'replay tag', 'ERR_STATE').u64()
      if (now - at > SIGNED_PREKEY_ROTATION_MS + SIGNED_PREKEY_GRACE_MS) ops.push({ type: 'del', key: ['prekey-used', toHex(v.subarray(1, 17))] })
    }
    if (changed || ops.length > 0) {
      ops.push({ type: 'put', key: STATE_KEY, value: encodeState(s) })
      await this.init.store.batch(ops)
    }
    if (changed) this.changed = true
    return changed
  }

  async oneTimePrekeyIds (): Promise<number[]> {
    const ids: number[] = []
    for await (const v of this.init.store.list(['prekey', 'one-time'])) ids.push(decodeOneTimePrekey(v).id)
    return ids
  }

  /** A freshly signed bundle with a higher sequence number (max(previous + 1, now), so a restored copy still wins). */
  async buildBundle (routing: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    await this.maintain()
    const s = await this.state()
    if (s === undefined) throw new StateError('prekey state')
    const now = this.init.now()
    s.sequence = Math.max(s.sequence + 1, now)
    const signed = await this.signedPrekey(s.currentSigned)
    const kem = await this.kemPrekey(s.currentKem)
    if (signed === undefined || kem === undefined) throw new StateError('current prekeys')
    const oneTime: OneTimePrekey[] = []
    for await (const v of this.init.store.list(['prekey', 'one-time'], { limit: MAX_ONE_TIME_PREKEYS_IN_BUNDLE })) oneTime.push(decodeOneTimePrekey(v))
    const fields: BundleFields = {
      identityKey: this.init.identity.signingPublicKey,
      sequence: s.sequence,
      expiresAt: now + BUNDLE_LIFETIME_MS,
      signedPrekey: { id: signed.id, createdAt: signed.createdAt, publicKey: signed.keyPair.publicKey, signature: signed.signature },
      kemPrekey: { id: kem.id, createdAt: kem.createdAt, publicKey: kem.keyPair.publicKey, signature: kem.signature },
      oneTimePrekeys: oneTime.map((k) => ({ id: k.id, publicKey: k.keyPair.publicKey })),
      routing
    }
    const bytes = encodeBundle(fields, this.signer)
    await this.init.store.put(STATE_KEY, encodeState(s))
    return bytes
  }

  /** Same as buildBundle (the name the daemon uses). */
  async buildRecord (routing: Uint8Array): Promise<Uint8Array> {
    return await this.buildBundle(routing)
  }

  async signedPrekey (id: number): Promise<SignedPrekey | undefined> {
    const cached = this.signedCache.get(id)
    if (cached !== undefined) return cached
    const bytes = await this.init.store.get(['prekey', 'signed', id])
    if (bytes === undefined) return undefined
    const k = decodeSignedPrekey(bytes)
    this.signedCache.set(id, k)
    return k
  }

  async kemPrekey (id: number): Promise<KemPrekey | undefined> {
    const cached = this.kemCache.get(id)
    if (cached !== undefined) return cached
    const bytes = await this.init.store.get(['prekey', 'kem', id])
    if (bytes === undefined) return undefined
    const k = decodeKemPrekey(bytes)
    this.kemCache.set(id, k)
    return k
  }

  async oneTimePrekey (id: number): Promise<OneTimePrekey | undefined> {
    const bytes = await this.init.store.get(['prekey', 'one-time', id])
    if (bytes === undefined) return undefined
    // The store decides whether it still exists; the cache only saves re-importing the key.
    const cached = this.oneTimeCache.get(id)
    return cached ?? decodeOneTimePrekey(bytes)
  }

  /** The write that consumes a one-time prekey; part of the batch that creates the session. */
  consumeOneTimeOp (id: number): CryptoStoreOp {
    return { type: 'del', key: ['prekey', 'one-time', id] }
  }

  /** After the batch that consumed it landed: drop the in-memory copy too. */
  forgetOneTime (id: number): void {
    this.oneTimeCache.get(id)?.keyPair.wipe()
    this.oneTimeCache.delete(id)
  }

  async hasReplayTag (tag: Uint8Array): Promise<boolean> {
    return (await this.init.store.get(['prekey-used', toHex(tag)])) !== undefined
  }

  replayTagOp (tag: Uint8Array, now: number): CryptoStoreOp {
    return { type: 'put', key: ['prekey-used', toHex(tag)], value: new Writer(25).u8(TAG_VERSION).bytes(tag).u64(now).finish() }
  }
}

/**
 * The account's own prekeys in the store: signed X25519 and ML-KEM prekeys (current plus
 * those kept for a grace period after rotation) and the one-time prekeys. Builds the record
 * the network layer publishes.
 *
 * Tables: 'prekey' ['prekey','state'] (signed + KEM prekeys, id counter, record sequence);
 *         'otpk'   ['otpk', id] (one one-time prekey each; deleted when used).
 */
import { fromHex, toHex } from '../bytes.js'
import type { IdentityKeys } from '../identity/keys.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { encodeRecord, kemPrekeyMessage, signedPrekeyMessage, type PrekeyRecord } from './bundle.js'
import { ONE_TIME_PREKEYS, ONE_TIME_PREKEYS_LOW, RECORD_LIFETIME_MS, SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_ROTATION_MS } from './constants.js'
import { generateDhKeyPair, generateKemKeyPair, sign } from './primitives.js'

interface StoredPrekey { id: number, pub: string, priv: string, createdAt: number, sig: string }
interface PrekeyState { nextId: number, seq: number, signed: StoredPrekey[], kem: StoredPrekey[] }
interface StoredOneTime { id: number, pub: string, priv: string }

const STATE_KEY = ['prekey', 'state'] as const
const hx = (s: string) => fromHex(s) as Uint8Array

export class PrekeyStore {
  private changed = true

  constructor (private readonly store: SecureStore, private readonly identity: IdentityKeys, private readonly now: () => number) {}

  /** True once after prekeys changed (rotation, a one-time prekey used): time to republish. */
  takeChanged (): boolean {
    const c = this.changed
    this.changed = false
    return c
  }

  markChanged (): void { this.changed = true }

  private async state (): Promise<PrekeyState> {
    return (await getJson<PrekeyState>(this.store, STATE_KEY)) ?? { nextId: 1, seq: 0, signed: [], kem: [] }
  }

  /** Rotates signed prekeys on schedule, drops those past the grace period, tops up one-time prekeys. */
  async maintain (): Promise<void> {
    const now = this.now()
    const s = await this.state()
    const ops: StoreOp[] = []
    if (s.signed.length === 0 || now - s.signed[0].createdAt > SIGNED_PREKEY_ROTATION_MS) {
      const kp = generateDhKeyPair()
      const id = s.nextId++
      s.signed.unshift({ id, pub: toHex(kp.publicKey), priv: toHex(kp.privateKey), createdAt: now, sig: toHex(sign(this.identity.signingSeed, signedPrekeyMessage(id, kp.publicKey, now))) })
      this.changed = true
    }
    if (s.kem.length === 0 || now - s.kem[0].createdAt > SIGNED_PREKEY_ROTATION_MS) {
      const kp = generateKemKeyPair()
      const id = s.nextId++
      s.kem.unshift({ id, pub: toHex(kp.publicKey), priv: toHex(kp.seed), createdAt: now, sig: toHex(sign(this.identity.signingSeed, kemPrekeyMessage(id, kp.publicKey, now))) })
      this.changed = true
    }
    // Keep the previous ones until messages sent to them can no longer be in flight.
    const keep = (list: StoredPrekey[]) => list.filter((k, i) => i === 0 || now - list[i - 1].createdAt <= SIGNED_PREKEY_GRACE_MS)
    s.signed = keep(s.signed)
    s.kem = keep(s.kem)
    const oneTime = await this.oneTimePrekeys()
    if (oneTime.length < ONE_TIME_PREKEYS_LOW) {
      for (let i = oneTime.length; i < ONE_TIME_PREKEYS; i++) {
        const kp = generateDhKeyPair()
        const id = s.nextId++
        ops.push({ type: 'put', key: ['otpk', id], value: jsonValue({ id, pub: toHex(kp.publicKey), priv: toHex(kp.privateKey) }) })
      }
      this.changed = true
    }
    ops.push({ type: 'put', key: STATE_KEY, value: jsonValue(s) })
    await this.store.batch(ops)
  }

  private async oneTimePrekeys (): Promise<StoredOneTime[]> {
    const out: StoredOneTime[] = []
    for await (const v of this.store.list(['otpk'])) out.push(JSON.parse(new TextDecoder().decode(v)) as StoredOneTime)
    return out
  }

  /** A fresh signed record with a new sequence number. */
  async buildRecord (routing: Uint8Array): Promise<Uint8Array> {
    await this.maintain()
    const s = await this.state()
    s.seq += 1
    await this.store.put(STATE_KEY, jsonValue(s))
    const now = this.now()
    const record: PrekeyRecord = {
      signingKey: this.identity.signingPublicKey,
      seq: s.seq,
      expiresAt: now + RECORD_LIFETIME_MS,
      signedPrekey: { id: s.signed[0].id, key: hx(s.signed[0].pub), createdAt: s.signed[0].createdAt, signature: hx(s.signed[0].sig) },
      kemPrekey: { id: s.kem[0].id, key: hx(s.kem[0].pub), createdAt: s.kem[0].createdAt, signature: hx(s.kem[0].sig) },
      oneTimePrekeys: (await this.oneTimePrekeys()).map((k) => ({ id: k.id, key: hx(k.pub) })),
      routing
    }
    return encodeRecord(record, this.identity.signingSeed)
  }

  async signedPrekey (id: number): Promise<{ publicKey: Uint8Array, privateKey: Uint8Array } | undefined> {
    const k = (await this.state()).signed.find((x) => x.id === id)
    return k === undefined ? undefined : { publicKey: hx(k.pub), privateKey: hx(k.priv) }
  }

  async kemSeed (id: number): Promise<Uint8Array | undefined> {
    const k = (await this.state()).kem.find((x) => x.id === id)
    return k === undefined ? undefined : hx(k.priv)
  }

  async oneTimePrivate (id: number): Promise<Uint8Array | undefined> {
    const k = await getJson<StoredOneTime>(this.store, ['otpk', id])
    return k === undefined ? undefined : hx(k.priv)
  }

  /** The write that consumes a one-time prekey; part of the batch that creates the session. */
  consumeOp (id: number): StoreOp {
    return { type: 'del', key: ['otpk', id] }
  }
}

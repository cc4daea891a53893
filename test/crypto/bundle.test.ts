/**
 * Prekeys and bundles (PQXDH §2-3, X3DH §4.6): H1, H2, H3, H12, H13, H16 and the bundle's
 * bounds. Every refusal is a typed error, and a sender that is handed a bad bundle stores nothing.
 */
import { describe, it, expect } from 'vitest'
import { concatBytes } from '../../node/bytes.js'
import { encodeBundle, parseBundle, compareBundles, bundleSequence, type BundleFields } from '../../node/crypto/bundle.js'
import { kemPrekeyMessage, signedPrekeyMessage } from '../../node/crypto/prekeys.js'
import { Ed25519Signer } from '../../node/crypto/primitives/ed25519.js'
import { MlKemKeyPair } from '../../node/crypto/primitives/mlkem.js'
import { X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { seededRandom } from '../../node/crypto/random.js'
import { KEY_TYPE_ED25519, KEY_TYPE_MLKEM1024, MAX_BUNDLE_BYTES, SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_MAX_AGE_MS, SIGNED_PREKEY_ROTATION_MS } from '../../node/crypto/constants.js'
import { identity, party, publish, rejectsWith, T0, text, str, world } from './helpers.js'

const random = seededRandom('bundle-tests')
const bob = identity('bob')
const mallory = identity('mallory')
const bobSigner = new Ed25519Signer(bob.signingSeed)
const mallorySigner = new Ed25519Signer(mallory.signingSeed)
const kem = MlKemKeyPair.generate(random)
const spk = X25519KeyPair.generate(random)

function fields (over: Partial<BundleFields> = {}, spkSigner = bobSigner, kemSigner = bobSigner): BundleFields {
  const createdAt = T0 - 1000
  const s = over.signedPrekey ?? { id: 7, createdAt, publicKey: spk.publicKey, signature: spkSigner.sign('signedPrekey', signedPrekeyMessage(7, createdAt, spk.publicKey)) }
  const k = over.kemPrekey ?? { id: 8, createdAt, publicKey: kem.publicKey, signature: kemSigner.sign('kemPrekey', kemPrekeyMessage(8, createdAt, kem.publicKey)) }
  return {
    identityKey: bob.signingPublicKey,
    sequence: 1,
    expiresAt: T0 + 86_400_000,
    oneTimePrekeys: [1, 2, 3].map((id) => ({ id, publicKey: X25519KeyPair.generate(random).publicKey })),
    routing: new Uint8Array([1, 2, 3]),
    ...over,
    signedPrekey: s,
    kemPrekey: k
  }
}

const expectCode = (fn: () => unknown, code: string) => expect(fn).toThrow(expect.objectContaining({ code }))
/** A bundle body (everything before the record signature) signed again by Bob under the bundle context. */
const resign = (body: Uint8Array) => concatBytes(body, bobSigner.sign('bundle', body))
/** Offset of the KEM prekey section: version, type, identity key (1 + 32), sequence, expiry, signed prekey (4 + 8 + 33 + 64). */
const KEM_AT = 2 + 33 + 16 + 109

describe('prekey bundles', () => {
  it('a bundle round-trips and every field survives', () => {
    const f = fields()
    const b = parseBundle(encodeBundle(f, bobSigner), bob.sessionId, T0)
    expect(b.sessionId).toBe(bob.sessionId)
    expect(b.signedPrekey.id).toBe(7)
    expect(b.kemPrekey.publicKey).toEqual(kem.publicKey)
    expect(b.oneTimePrekeys.map((o) => o.id)).toEqual([1, 2, 3])
    expect(b.routing).toEqual(new Uint8Array([1, 2, 3]))
  })

  it('H1: bundle with forged signed-prekey signature is refused', () => {
    const f = fields()
    const forged = f.signedPrekey.signature.slice(); forged[5] ^= 1
    expectCode(() => parseBundle(encodeBundle({ ...f, signedPrekey: { ...f.signedPrekey, signature: forged } }, bobSigner), bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
  })

  it('H1: a signed prekey signed by another identity is refused', () => {
    expectCode(() => parseBundle(encodeBundle(fields({}, mallorySigner), bobSigner), bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
  })

  it('H1: a record signed by another identity, or with a swapped identity key, is refused', () => {
    expectCode(() => parseBundle(encodeBundle(fields(), mallorySigner), bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
    // Mallory's own, valid bundle filed under Bob's Session ID.
    expectCode(() => parseBundle(encodeBundle(fields({ identityKey: mallory.signingPublicKey }, mallorySigner, mallorySigner), mallorySigner), bob.sessionId, T0), 'ERR_IDENTITY_MISMATCH')
    // A bit flipped anywhere in the signed part of the record breaks the record signature.
    const good = encodeBundle(fields(), bobSigner)
    const flipped = good.slice(); flipped[good.length - 100] ^= 1
    expectCode(() => parseBundle(flipped, bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
  })

  it('H2: bundle with forged ML-KEM prekey signature is refused', () => {
    const f = fields()
    const forged = f.kemPrekey.signature.slice(); forged[0] ^= 0x40
    expectCode(() => parseBundle(encodeBundle({ ...f, kemPrekey: { ...f.kemPrekey, signature: forged } }, bobSigner), bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
    expectCode(() => parseBundle(encodeBundle(fields({}, bobSigner, mallorySigner), bobSigner), bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
  })

  it('K9: a signed-prekey signature replayed as a KEM-prekey or record signature is refused', () => {
    const f = fields()
    // The same bytes under the other context: a signature over "signedPrekey" context does not verify as "kemPrekey".
    const crossed = { ...f.kemPrekey, signature: bobSigner.sign('signedPrekey', kemPrekeyMessage(8, f.kemPrekey.createdAt, kem.publicKey)) }
    expectCode(() => parseBundle(encodeBundle({ ...f, kemPrekey: crossed }, bobSigner), bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
    const good = encodeBundle(f, bobSigner)
    const body = good.subarray(0, good.length - 64)
    const wrongContext = concatBytes(body, bobSigner.sign('signedPrekey', body))
    expectCode(() => parseBundle(wrongContext, bob.sessionId, T0), 'ERR_BAD_SIGNATURE')
    // The same body signed under its own context parses: only the context was wrong.
    expect(parseBundle(resign(body), bob.sessionId, T0).sequence).toBe(1)
  })

  it('H3: a bundle with an all-zero or low-order X25519 key is refused', () => {
    const zero = new Uint8Array(32)
    const one = new Uint8Array(32); one[0] = 1
    for (const bad of [zero, one]) {
      const createdAt = T0 - 1000
      const s = { id: 7, createdAt, publicKey: bad, signature: bobSigner.sign('signedPrekey', signedPrekeyMessage(7, createdAt, bad)) }
      expectCode(() => parseBundle(encodeBundle(fields({ signedPrekey: s }), bobSigner), bob.sessionId, T0), 'ERR_LOW_ORDER_KEY')
      expectCode(() => parseBundle(encodeBundle(fields({ oneTimePrekeys: [{ id: 1, publicKey: bad }] }), bobSigner), bob.sessionId, T0), 'ERR_LOW_ORDER_KEY')
    }
  })

  it('H12: a bundle without its ML-KEM part is refused (no X3DH-only fallback)', () => {
    const good = encodeBundle(fields(), bobSigner)
    expect(good[KEM_AT + 12]).toBe(KEY_TYPE_MLKEM1024) // where the encoder put the KEM prekey
    // Cut the KEM prekey section out (length 4 + 8 + 1569 + 64 = 1645) and re-sign.
    const body = concatBytes(good.subarray(0, KEM_AT), good.subarray(KEM_AT + 1645, good.length - 64))
    expectCode(() => parseBundle(resign(body), bob.sessionId, T0), 'ERR_DECODE')
    expect(parseBundle(resign(good.subarray(0, good.length - 64)), bob.sessionId, T0).kemPrekey.id).toBe(8)
  })

  it('H13: an EC key where the KEM key belongs (and a short KEM key) is a decode error', () => {
    const good = encodeBundle(fields(), bobSigner)
    expect([good[2], good[KEM_AT + 12]]).toEqual([KEY_TYPE_ED25519, KEY_TYPE_MLKEM1024]) // the type bytes changed below
    const swapped = good.slice(0, good.length - 64); swapped[KEM_AT + 12] = 0x05
    expectCode(() => parseBundle(resign(swapped), bob.sessionId, T0), 'ERR_DECODE')
    const ecWhereEd = good.slice(0, good.length - 64); ecWhereEd[2] = 0x05 // an X25519 type byte on the Ed25519 identity key
    expectCode(() => parseBundle(resign(ecWhereEd), bob.sessionId, T0), 'ERR_DECODE')
    const short = concatBytes(good.subarray(0, KEM_AT + 13 + 1567), good.subarray(KEM_AT + 13 + 1568, good.length - 64))
    // The KEM key has a fixed length, so one byte short is read as a full key plus a shifted
    // remainder: the one-time prekey count then reads 0x0300 (> 200), a decode error before any signature check.
    expect(() => parseBundle(resign(short), bob.sessionId, T0)).toThrow(expect.objectContaining({ name: 'DecodeError', code: 'ERR_BUNDLE_TOO_LARGE' }))
  })

  it('H16: a signed or KEM prekey older than the rotation window is refused by senders', () => {
    const old = T0 - SIGNED_PREKEY_MAX_AGE_MS - 1
    const s = { id: 7, createdAt: old, publicKey: spk.publicKey, signature: bobSigner.sign('signedPrekey', signedPrekeyMessage(7, old, spk.publicKey)) }
    expectCode(() => parseBundle(encodeBundle(fields({ signedPrekey: s }), bobSigner), bob.sessionId, T0), 'ERR_PREKEY_TOO_OLD')
    const k = { id: 8, createdAt: old, publicKey: kem.publicKey, signature: bobSigner.sign('kemPrekey', kemPrekeyMessage(8, old, kem.publicKey)) }
    expectCode(() => parseBundle(encodeBundle(fields({ kemPrekey: k }), bobSigner), bob.sessionId, T0), 'ERR_PREKEY_TOO_OLD')
  })

  it('an expired bundle, or one claiming a far expiry, is refused', () => {
    expectCode(() => parseBundle(encodeBundle(fields({ expiresAt: T0 }), bobSigner), bob.sessionId, T0), 'ERR_BUNDLE_EXPIRED')
    expectCode(() => parseBundle(encodeBundle(fields({ expiresAt: T0 + 365 * 86_400_000 }), bobSigner), bob.sessionId, T0), 'ERR_BUNDLE_EXPIRY')
  })

  it('oversized bundles, too many one-time prekeys, repeated ids, wrong version and trailing bytes are refused', () => {
    expectCode(() => parseBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1), bob.sessionId, T0), 'ERR_BUNDLE_TOO_LARGE')
    expectCode(() => encodeBundle(fields({ oneTimePrekeys: Array.from({ length: 201 }, (_, id) => ({ id, publicKey: spk.publicKey })) }), bobSigner), 'ERR_BUNDLE_TOO_LARGE')
    expectCode(() => encodeBundle(fields({ routing: new Uint8Array(2049) }), bobSigner), 'ERR_BUNDLE_TOO_LARGE')
    expectCode(() => parseBundle(encodeBundle(fields({ oneTimePrekeys: [{ id: 1, publicKey: spk.publicKey }, { id: 1, publicKey: spk.publicKey }] }), bobSigner), bob.sessionId, T0), 'ERR_DECODE')
    const good = encodeBundle(fields(), bobSigner)
    const v2 = good.slice(); v2[0] = 2
    expectCode(() => parseBundle(v2, bob.sessionId, T0), 'ERR_UNKNOWN_VERSION')
    expectCode(() => parseBundle(concatBytes(good, Uint8Array.of(0)), bob.sessionId, T0), 'ERR_DECODE')
  })

  it('every truncation of a bundle is a typed error', () => {
    const good = encodeBundle(fields(), bobSigner)
    for (let n = 0; n < good.length; n += 7) {
      expect(() => parseBundle(good.subarray(0, n), bob.sessionId, T0)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }))
    }
  })

  it('D2: the higher sequence wins; a record that does not parse loses', () => {
    const a = encodeBundle(fields({ sequence: 5 }), bobSigner)
    const b = encodeBundle(fields({ sequence: 9 }), bobSigner)
    expect(compareBundles(b, a)).toBeGreaterThan(0)
    expect(compareBundles(a, b)).toBeLessThan(0)
    expect(compareBundles(a, new Uint8Array(3))).toBeGreaterThan(0)
    expect(bundleSequence(b)).toBe(9)
  })

  it('H1: a sender handed a forged bundle derives nothing and stores nothing', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const real = await party(w, 'bob')
    const genuine = w.bundles.get(real.sessionId) as Uint8Array
    w.bundles.set(real.sessionId, encodeBundle(fields({}, mallorySigner), bobSigner))
    const before = await alice.disk.snapshot()
    await rejectsWith(async () => await alice.manager.encrypt(real.sessionId, text('hi')), 'ERR_BAD_SIGNATURE')
    expect(await alice.disk.snapshot()).toBe(before)
    expect(await alice.manager.pinnedIdentity(real.sessionId)).toBeUndefined()
    // Bob's genuine bundle then starts a session that he can read.
    w.bundles.set(real.sessionId, genuine)
    expect(str((await real.manager.decrypt(await alice.manager.encrypt(real.sessionId, text('hi')))).plaintext)).toBe('hi')
  })
})

describe('rotation (X3DH §4.6)', () => {
  it('the account builds bundles with rising sequence numbers and the bundle parses', async () => {
    const w = world()
    const b = await party(w, 'bob')
    const one = await publish(w, b)
    const two = await publish(w, b)
    expect(bundleSequence(two)).toBeGreaterThan(bundleSequence(one))
    const parsed = parseBundle(two, b.sessionId, b.clock.now)
    expect(parsed.oneTimePrekeys.length).toBe(100)
  })

  it('signed prekeys rotate weekly; the previous one still opens initial messages during the grace period, then is deleted', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const carol = await party(w, 'carol')
    const bob = await party(w, 'bob')
    const oldSpk = parseBundle(w.bundles.get(bob.sessionId) as Uint8Array, bob.sessionId, T0).signedPrekey.id
    // Both send before the rotation; the envelopes wait in a mailbox.
    const late = await alice.manager.encrypt(bob.sessionId, text('late'))
    const tooLate = await carol.manager.encrypt(bob.sessionId, text('too late'))

    bob.clock.now = T0 + SIGNED_PREKEY_ROTATION_MS + 1
    expect(await bob.manager.createPrekeys()).toBe(true)
    const fresh = await publish(w, bob)
    expect(parseBundle(fresh, bob.sessionId, bob.clock.now).signedPrekey.id).not.toBe(oldSpk)
    // In the grace period the retired prekey still opens Alice's initial message.
    expect(str((await bob.manager.decrypt(late)).plaintext)).toBe('late')

    // After the grace period it is deleted: an initial message naming it is refused, nothing stored.
    bob.clock.now = T0 + SIGNED_PREKEY_ROTATION_MS + SIGNED_PREKEY_GRACE_MS + 2
    await bob.manager.createPrekeys()
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(tooLate), 'ERR_UNKNOWN_PREKEY')
    expect(await bob.disk.snapshot()).toBe(before)
  })
})

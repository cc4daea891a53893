/**
 * PQXDH sessions end to end (SessionManager over a store): H4-H11, H12-H15, H17.
 * Every adversarial case asserts the typed error and that the store did not change.
 */
import { describe, it, expect } from 'vitest'
import { ed25519 } from '@noble/curves/ed25519.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { concatBytes, equalBytes, toHex } from '../../node/bytes.js'
import { encodeBundle, parseBundle } from '../../node/crypto/bundle.js'
import { KEY_TYPE_MLKEM1024_CIPHERTEXT, SIGNATURE_CONTEXTS, MAX_UNACKNOWLEDGED_SESSION_AGE_MS, type SignatureContext } from '../../node/crypto/constants.js'
import { kemPrekeyMessage, signedPrekeyMessage } from '../../node/crypto/prekeys.js'
import type { Ed25519Signer } from '../../node/crypto/primitives/ed25519.js'
import { associatedData, decodeInitialHeader, pqxdhInitiate, pqxdhRespond } from '../../node/crypto/pqxdh.js'
import { MlKemKeyPair } from '../../node/crypto/primitives/mlkem.js'
import { X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { initAlice, initBob, ratchetDecrypt, ratchetEncrypt } from '../../node/crypto/ratchet/double-ratchet.js'
import { seededRandom } from '../../node/crypto/random.js'
import { decodeSessionRecord } from '../../node/crypto/session-record.js'
import { initialHeaderLength, party, publish, rejectsWith, reseal, restart, str, text, unseal, world, T0 } from './helpers.js'

const P = (1n << 255n) - 19n
const L = (1n << 252n) + 27742317777372353535851937790883648493n
const le = (b: Uint8Array) => { let v = 0n; for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); return v }
const toLe = (v: bigint) => { const o = new Uint8Array(32); for (let i = 0; i < 32; i++) { o[i] = Number(v & 0xffn); v >>= 8n } return o }
const inv = (a: bigint) => { let r = 1n, b = ((a % P) + P) % P, e = P - 2n; while (e > 0n) { if (e & 1n) r = r * b % P; b = b * b % P; e >>= 1n } return r }

describe('PQXDH sessions', () => {
  it('H4: a bundle presenting another Ed25519 key for a pinned contact gives "identity changed", never a silent re-key', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('first')))
    expect(await alice.manager.pinnedIdentity(bob.sessionId)).toEqual(bob.id.signingPublicKey)

    // The negated key -A has the same Montgomery form (same Session ID) but is another Ed25519 key.
    const ext = ed25519.utils.getExtendedPublicKey(bob.id.signingSeed)
    const scalar = (L - ext.scalar) % L
    const negA = ext.point.negate().toBytes()
    const negSigner = {
      publicKey: negA,
      sign (ctx: SignatureContext, msg: Uint8Array) {
        const m = concatBytes(SIGNATURE_CONTEXTS[ctx], msg)
        const r = le(sha512(concatBytes(new Uint8Array(32).fill(7), m)).subarray(0, 32)) % L
        const R = ed25519.Point.BASE.multiply(r).toBytes()
        const k = (() => { const d = sha512(concatBytes(R, negA, m)); let v = 0n; for (let i = 63; i >= 0; i--) v = (v << 8n) | BigInt(d[i]); return v % L })()
        return concatBytes(R, toLe((r + k * scalar) % L))
      }
    } as unknown as Ed25519Signer
    const good = parseBundle(w.bundles.get(bob.sessionId) as Uint8Array, bob.sessionId, T0)
    const s = good.signedPrekey
    const k = good.kemPrekey
    const forged = encodeBundle({
      ...good,
      identityKey: negA,
      signedPrekey: { ...s, signature: negSigner.sign('signedPrekey', signedPrekeyMessage(s.id, s.createdAt, s.publicKey)) },
      kemPrekey: { ...k, signature: negSigner.sign('kemPrekey', kemPrekeyMessage(k.id, k.createdAt, k.publicKey)) }
    }, negSigner)
    expect(parseBundle(forged, bob.sessionId, T0).identityKey).toEqual(negA) // valid on its own ...
    await alice.manager.resetSession(bob.sessionId)
    w.bundles.set(bob.sessionId, forged)
    const before = await alice.disk.snapshot()
    const err = await rejectsWith(async () => await alice.manager.encrypt(bob.sessionId, text('to whom?')), 'ERR_IDENTITY_CHANGED') // ... but not the pinned key
    expect((err as unknown as { peer: string }).peer).toBe(bob.sessionId)
    expect(await alice.disk.snapshot()).toBe(before)
    // Only an explicit decision of the user re-pins.
    await alice.manager.trustIdentity(bob.sessionId, negA)
    expect(await alice.manager.pinnedIdentity(bob.sessionId)).toEqual(negA)
    expect((await alice.manager.encrypt(bob.sessionId, text('accepted'))).length).toBeGreaterThan(0)
  })

  it('H4/H17: an initial message whose identity key is not the sender it names is refused; nothing stored', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const mallory = await party(w, 'mallory')
    const env = await mallory.manager.encrypt(bob.sessionId, text('I am Alice'))
    const inner = unseal(bob, env)
    inner.set(alice.id.dhPublicKey, 2) // the envelope names Alice; the PQXDH identity is Mallory's
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, inner)), 'ERR_SENDER_MISMATCH')
    // And the PQXDH identity swapped for Alice's (sender field too): the DH with Alice's key fails.
    const inner2 = unseal(bob, env)
    inner2.set(alice.id.dhPublicKey, 2)
    inner2.set(alice.id.dhPublicKey, 34 + 2)
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, inner2)), 'ERR_DECRYPT')
    expect(await bob.disk.snapshot()).toBe(before)
    // The genuine message still opens afterwards.
    expect((await bob.manager.decrypt(env)).from).toBe(mallory.sessionId)
  })

  it('H17: an initial message made for another local identity is refused; nothing stored', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const carol = await party(w, 'carol')
    // Alice ran PQXDH with Carol's bundle; the envelope reaches Bob.
    const env = await alice.manager.encrypt(carol.sessionId, text('for carol'))
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, unseal(carol, env))), 'ERR_DECRYPT')
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('H5: a second initial message naming a consumed one-time prekey is refused (typed, nothing stored); the sender refetches or falls back', async () => {
    const w = world()
    const first = () => 0
    const alice = await party(w, 'alice', { chooseOneTimePrekey: first })
    const carol = await party(w, 'carol', { chooseOneTimePrekey: first })
    const bob = await party(w, 'bob')
    const a = await alice.manager.encrypt(bob.sessionId, text('from alice'))
    const c = await carol.manager.encrypt(bob.sessionId, text('from carol'))
    expect(str((await bob.manager.decrypt(a)).plaintext)).toBe('from alice')
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(c), 'ERR_PREKEY_CONSUMED')
    expect(await bob.disk.snapshot()).toBe(before)
    // Refuse, way 1: Carol refetches the republished bundle (the used key is gone) and retries.
    await publish(w, bob)
    await carol.manager.resetSession(bob.sessionId)
    expect(str((await bob.manager.decrypt(await carol.manager.encrypt(bob.sessionId, text('again')))).plaintext)).toBe('again')
    // Fall back, way 2: a session without a one-time prekey (X3DH §4.2) is accepted.
    const dave = await party(w, 'dave')
    expect(str((await bob.manager.decrypt(await dave.manager.encrypt(bob.sessionId, text('no opk'), { oneTimePrekey: false }))).plaintext)).toBe('no opk')
    // Never decrypts twice under one key.
    await rejectsWith(async () => await bob.manager.decrypt(c), 'ERR_PREKEY_CONSUMED')
    expect(bob.manager.prekeys.takeChanged()).toBe(true)
  })

  it('H6: an initial message replayed after the session is established creates no second session or message', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const init = await alice.manager.encrypt(bob.sessionId, text('hello'))
    await bob.manager.decrypt(init)
    await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text('hi')))
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('acknowledged')))
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(init), 'ERR_DUPLICATE_MESSAGE')
    // After a restart too (the state came from the store).
    await rejectsWith(async () => await (await restart(bob, w)).decrypt(init), 'ERR_DUPLICATE_MESSAGE')
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('H6: a replayed initial message without a one-time prekey is refused even when its session is gone', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const init = await alice.manager.encrypt(bob.sessionId, text('no opk'), { oneTimePrekey: false })
    await bob.manager.decrypt(init)
    await bob.manager.resetSession(alice.sessionId)
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(init), 'ERR_INITIAL_REPLAYED')
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('H7: truncated, oversized or wrong-version initial messages give typed errors; nothing stored', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const inner = unseal(bob, await alice.manager.encrypt(bob.sessionId, text('hello')))
    const before = await bob.disk.snapshot()
    const v2 = inner.slice(); v2[34] = 2
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, v2)), 'ERR_UNKNOWN_VERSION')
    for (const n of [35, 60, 120, 500, 1700, inner.length - 1]) {
      const e = await bob.manager.decrypt(reseal(bob, inner.subarray(0, n))).catch((err: { code: string }) => err)
      expect((e as { code: string }).code).toMatch(/^ERR_(DECODE|DECRYPT)$/)
    }
    // Oversized: junk after the ratchet message is inside its authenticated ciphertext; an inner
    // message past the largest padding bucket cannot be sealed, and bytes past an envelope break its tag.
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, concatBytes(inner, new Uint8Array(40_000)))), 'ERR_DECRYPT')
    expect(() => reseal(bob, concatBytes(inner, new Uint8Array(70_000)))).toThrow(expect.objectContaining({ code: 'ERR_TOO_LARGE' }))
    await rejectsWith(async () => await bob.manager.decrypt(concatBytes(reseal(bob, inner), new Uint8Array(70_000))), 'ERR_ENVELOPE')
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('H8: AD binds both identity keys: another recipient identity in the AD fails (unknown key share)', () => {
    const random = seededRandom('h8')
    const aliceId = X25519KeyPair.generate(random)
    const bobId = X25519KeyPair.generate(random)
    const carolId = X25519KeyPair.generate(random)
    const spk = X25519KeyPair.generate(random)
    const kem = MlKemKeyPair.generate(random)
    const bundle = { identityKey: new Uint8Array(32), sequence: 1, expiresAt: 0, routing: new Uint8Array(0), sessionId: 'x' as never, oneTimePrekeys: [], signedPrekey: { id: 1, createdAt: 0, publicKey: spk.publicKey, signature: new Uint8Array(64) }, kemPrekey: { id: 2, createdAt: 0, publicKey: kem.publicKey, signature: new Uint8Array(64) } }
    const start = pqxdhInitiate(aliceId, bundle, bobId.publicKey, undefined, random)
    const { sharedKey, associatedData: ad } = pqxdhRespond(bobId, start, { signedPrekey: spk, kemPrekey: kem, oneTimePrekey: undefined })
    expect(sharedKey).toEqual(start.sharedKey)
    expect(ad).toEqual(start.associatedData)
    const { message } = ratchetEncrypt(initAlice(start.sharedKey, spk.publicKey, random), text('m'), ad)
    const bob = initBob(sharedKey, spk)
    expect(str(ratchetDecrypt(bob, message, ad, T0, random).plaintext)).toBe('m')
    expect(() => ratchetDecrypt(bob, message, associatedData(aliceId.publicKey, carolId.publicKey), T0, random)).toThrow(expect.objectContaining({ code: 'ERR_DECRYPT' }))
    expect(() => ratchetDecrypt(bob, message, associatedData(carolId.publicKey, bobId.publicKey), T0, random)).toThrow(expect.objectContaining({ code: 'ERR_DECRYPT' }))
  })

  it('H9/H10: a changed KEM ciphertext or any flipped bit fails without consuming a prekey; the intact copy then succeeds', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const env = await alice.manager.encrypt(bob.sessionId, text('intact'))
    const inner = unseal(bob, env)
    const before = await bob.disk.snapshot()
    const headerEnd = 34 + initialHeaderLength(inner)
    // KEM ciphertext bytes (H9: ML-KEM decapsulates to another secret, so the first message fails
    // to authenticate), base key, signed and KEM prekey ids, ratchet header, ciphertext and tag (H10).
    const cases: Array<[number, string]> = [
      [headerEnd - 1, 'ERR_DECRYPT'], [headerEnd - 800, 'ERR_DECRYPT'], [34 + 40, 'ERR_DECRYPT'],
      [34 + 70, 'ERR_UNKNOWN_PREKEY'], [34 + 72, 'ERR_UNKNOWN_PREKEY'],
      [headerEnd + 5, 'ERR_DECRYPT'], [headerEnd + 40, 'ERR_DECRYPT'], [inner.length - 30, 'ERR_DECRYPT'], [inner.length - 1, 'ERR_DECRYPT']
    ]
    for (const [at, code] of cases) {
      const bad = inner.slice(); bad[at] ^= 0x01
      await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, bad)), code)
      expect(await bob.disk.snapshot()).toBe(before)
    }
    expect(str((await bob.manager.decrypt(env)).plaintext)).toBe('intact')
  })

  it('H11: a base key with the high bit set is refused; a torsioned copy of an accepted base key is refused as a replay', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const env = await alice.manager.encrypt(bob.sessionId, text('once'), { oneTimePrekey: false })
    const inner = unseal(bob, env)
    const baseAt = 34 + 1 + 33 + 1
    const high = inner.slice(); high[baseAt + 31] |= 0x80
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, high)), 'ERR_NONCANONICAL_KEY')
    expect(await bob.disk.snapshot()).toBe(before)
    await bob.manager.decrypt(env)

    // EK + T (T of order 8): other bytes, the same X25519 outputs under clamped scalars.
    const u = le(inner.subarray(baseAt, baseAt + 32))
    const y = (u - 1n + P) % P * inv(u + 1n) % P
    const point = ed25519.Point.fromBytes(toLe(y))
    const t8 = ed25519.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05')
    const y2 = le(point.add(t8).toBytes()) & ((1n << 255n) - 1n)
    const u2 = (1n + y2) * inv(1n - y2 + P) % P
    const torsioned = inner.slice(); torsioned.set(toLe(u2), baseAt)
    // The decoder takes it as another valid (canonical, not low-order) base key, not the same bytes.
    const baseKeyOf = (m: Uint8Array) => decodeInitialHeader(m.subarray(34)).header.baseKey
    expect(toHex(baseKeyOf(torsioned))).not.toBe(toHex(baseKeyOf(inner)))
    const after = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, torsioned)), 'ERR_INITIAL_REPLAYED')
    expect(await bob.disk.snapshot()).toBe(after)
  })

  it('H12/H13: an initial message without its KEM ciphertext, or with a public-key type byte in its place, is a decode error', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const inner = unseal(bob, await alice.manager.encrypt(bob.sessionId, text('x'), { oneTimePrekey: false }))
    const kemAt = 34 + 1 + 33 + 33 + 4 + 4 + 1
    expect(inner[kemAt]).toBe(KEY_TYPE_MLKEM1024_CIPHERTEXT) // where the encoder put the KEM ciphertext
    const before = await bob.disk.snapshot()
    const noKem = concatBytes(inner.subarray(0, kemAt), inner.subarray(kemAt + 1569))
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, noKem)), 'ERR_DECODE')
    const asPublicKey = inner.slice(); asPublicKey[kemAt] = 0x08
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, asPublicKey)), 'ERR_DECODE')
    const ecType = inner.slice(); ecType[kemAt] = 0x05
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, ecType)), 'ERR_DECODE')
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('H14: simultaneous initiation, with lost and repeated messages, converges on one session', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const a1 = await alice.manager.encrypt(bob.sessionId, text('a1'))
    const b1 = await bob.manager.encrypt(alice.sessionId, text('b1'))
    const a2 = await alice.manager.encrypt(bob.sessionId, text('a2')) // lost
    expect(str((await alice.manager.decrypt(b1)).plaintext)).toBe('b1')
    expect(str((await bob.manager.decrypt(a1)).plaintext)).toBe('a1')
    await rejectsWith(async () => await bob.manager.decrypt(a1), 'ERR_DUPLICATE_MESSAGE') // repeated
    for (let i = 0; i < 3; i++) {
      const fromAlice = await alice.manager.encrypt(bob.sessionId, text(`a${i + 3}`))
      expect(str((await bob.manager.decrypt(fromAlice)).plaintext)).toBe(`a${i + 3}`)
      const fromBob = await bob.manager.encrypt(alice.sessionId, text(`b${i + 2}`))
      expect(str((await alice.manager.decrypt(fromBob)).plaintext)).toBe(`b${i + 2}`)
    }
    const rec = async (p: typeof alice, peer: string) => decodeSessionRecord(await p.store.get(['session', peer]) as Uint8Array)
    const ra = await rec(alice, bob.sessionId)
    const rb = await rec(bob, alice.sessionId)
    expect(equalBytes(ra.current?.baseKey as Uint8Array, rb.current?.baseKey as Uint8Array)).toBe(true)
    expect(ra.current?.pending).toBeUndefined()
    // The lost message of the abandoned session still opens from the archive.
    expect(str((await bob.manager.decrypt(a2)).plaintext)).toBe('a2')
  })

  it('H15: a session never acknowledged by the peer is not used to send after 30 days', async () => {
    const w = world()
    const alice = await party(w, 'alice')
    const bob = await party(w, 'bob')
    const first = unseal(bob, await alice.manager.encrypt(bob.sessionId, text('unanswered')))
    const again = unseal(bob, await alice.manager.encrypt(bob.sessionId, text('still')))
    const base = (inner: Uint8Array) => decodeInitialHeader(inner.subarray(34)).header.baseKey
    expect(equalBytes(base(first), base(again))).toBe(true)
    alice.clock.now = T0 + MAX_UNACKNOWLEDGED_SESSION_AGE_MS + 1
    bob.clock.now = alice.clock.now
    await publish(w, bob)
    const env = await alice.manager.encrypt(bob.sessionId, text('new session'))
    expect(equalBytes(base(unseal(bob, env)), base(first))).toBe(false)
    expect(str((await bob.manager.decrypt(env)).plaintext)).toBe('new session')
  })
})

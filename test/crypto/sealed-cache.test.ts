/**
 * Sealed envelopes with the static secret X25519(s, R) kept per contact (docs/PROTOCOL.md §7.1,
 * node/crypto/identity-cache.ts): the bytes are those of the uncached path, the static layer's
 * AEAD check still runs on every envelope (E2, E6), its key and nonce stay fresh (R10), and the
 * secrets are bounded and wiped (R13).
 */
import { describe, it, expect, vi } from 'vitest'

/** Every AES-256-GCM call of the code under test: (key, nonce) pairs sealed, and the number of opens. */
const aead = vi.hoisted(() => ({ sealed: [] as string[], opens: 0 }))

vi.mock('../../node/crypto/primitives/aead.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../node/crypto/primitives/aead.js')>()
  return {
    ...orig,
    aeadEncrypt: (key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array) => {
      aead.sealed.push(Buffer.concat([key, nonce]).toString('hex'))
      return orig.aeadEncrypt(key, nonce, pt, ad)
    },
    aeadDecrypt: (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array, error?: () => Error) => {
      aead.opens++
      return orig.aeadDecrypt(key, nonce, sealed, ad, error)
    }
  }
})

const { toHex } = await import('../../node/bytes.js')
const { IdentityCache } = await import('../../node/crypto/identity-cache.js')
const { X25519KeyPair } = await import('../../node/crypto/primitives/x25519.js')
const { seededRandom } = await import('../../node/crypto/random.js')
const { openEnvelope, sealEnvelope } = await import('../../node/crypto/sealed-sender.js')
const { freshManager, junkRatchetMessage, keyPairOf, party, rejectsWith, reseal, str, text, view, world } = await import('./helpers.js')
type Party = import('./helpers.js').Party

/** Both directions once, so each side holds the other's static secret. */
async function acquainted (a: Party, b: Party): Promise<void> {
  await b.manager.decrypt(await a.manager.encrypt(b.sessionId, text('hi')))
  await a.manager.decrypt(await b.manager.encrypt(a.sessionId, text('hi')))
}

const cachedSecret = (holder: Party, contact: Party): Uint8Array | undefined => holder.manager.cipher.contacts.peek(contact.id.dhPublicKey)?.staticShared

describe('sealed envelopes with a cached static secret', () => {
  it('E2: the static layer sealed with the cached secret is byte for byte the uncached one, and each opens with or without the cache', async () => {
    const alice = X25519KeyPair.fromPrivateKey(seededRandom('cache-alice')(32))
    const bob = X25519KeyPair.fromPrivateKey(seededRandom('cache-bob')(32))
    const content = text('\x02the same bytes either way')
    const secret = alice.agree(bob.publicKey)
    const uncached = sealEnvelope(alice, bob.publicKey, content, seededRandom('envelope'))
    const cached = sealEnvelope(alice, bob.publicKey, content, seededRandom('envelope'), { staticShared: secret })
    expect(toHex(cached)).toBe(toHex(uncached))
    expect(toHex(secret)).toBe(toHex(alice.agree(bob.publicKey))) // the caller's copy is left as it was

    // Opened without a cache: the secret it computed is handed out, equal to the sender's.
    const plain = openEnvelope(bob, cached)
    expect(str(plain.content)).toBe(str(content))
    expect(toHex(plain.sender)).toBe(toHex(alice.publicKey))
    expect(toHex(plain.staticShared as Uint8Array)).toBe(toHex(secret))
    // Opened with it: nothing computed, nothing handed out.
    const withCache = openEnvelope(bob, uncached, (key) => toHex(key) === toHex(alice.publicKey) ? { staticShared: bob.agree(alice.publicKey) } : undefined)
    expect(str(withCache.content)).toBe(str(content))
    expect(withCache.staticShared).toBeUndefined()

    // The same through the managers: warm caches on both sides, and managers that hold nothing.
    const w = world()
    const a = await party(w, 'alice-cache-interop')
    const b = await party(w, 'bob-cache-interop')
    await acquainted(a, b)
    expect(cachedSecret(a, b)).toBeDefined()
    expect(cachedSecret(b, a)).toBeDefined()
    const fromWarm = await a.manager.encrypt(b.sessionId, text('sealed with the cache'))
    const cold = freshManager(b, w)
    expect(str((await cold.decrypt(fromWarm)).plaintext)).toBe('sealed with the cache')
    const coldA = freshManager(a, w)
    const fromCold = await coldA.encrypt(b.sessionId, text('sealed without it'))
    expect(str((await b.manager.decrypt(fromCold)).plaintext)).toBe('sealed without it')
  })

  it('E2: a forged envelope naming a contact fails with a cached static secret; the static AEAD check runs, nothing is stored or cached', async () => {
    const w = world()
    const alice = await party(w, 'alice-cache-forged')
    const mallory = await party(w, 'mallory-cache-forged')
    const bob = await party(w, 'bob-cache-forged')
    await acquainted(alice, bob)
    await acquainted(mallory, bob)
    const aliceSecret = toHex(cachedSecret(bob, alice) as Uint8Array)
    const before = await bob.disk.snapshot()
    const dh = vi.spyOn(X25519KeyPair.prototype, 'agree')
    try {
      // Mallory, a contact with her own cached secret, names Alice; then a stranger does.
      for (const forger of [keyPairOf(mallory), X25519KeyPair.generate(seededRandom('stranger'))]) {
        const forged = reseal(bob, view(0x02, alice.id.dhPublicKey, junkRatchetMessage(0, 0)), forger)
        dh.mockClear()
        aead.opens = 0
        await rejectsWith(async () => await bob.manager.decrypt(forged), 'ERR_ENVELOPE')
        // One X25519 (the ephemeral layer; Alice's static secret came from the cache) and both
        // AEAD checks: the ephemeral layer opened, the static layer was checked and failed.
        expect(dh.mock.calls.length).toBe(1)
        expect(aead.opens).toBe(2)
      }
      // A forgery naming a key Bob has never seen: the DH is made, refused, and nothing is kept.
      const unknown = X25519KeyPair.generate(seededRandom('unknown-sender'))
      await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, view(0x02, unknown.publicKey, junkRatchetMessage(0, 0)), keyPairOf(mallory))), 'ERR_ENVELOPE')
      expect(bob.manager.cipher.contacts.peek(unknown.publicKey)).toBeUndefined()
    } finally {
      dh.mockRestore()
    }
    expect(await bob.disk.snapshot()).toBe(before)
    expect(toHex(cachedSecret(bob, alice) as Uint8Array)).toBe(aliceSecret)
    expect(str((await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('still me')))).plaintext)).toBe('still me')
    expect(str((await bob.manager.decrypt(await mallory.manager.encrypt(bob.sessionId, text('and me')))).plaintext)).toBe('and me')
  })

  it('E6: with the sender\'s static secret cached, every flipped bit of an envelope gives ERR_ENVELOPE or ERR_UNKNOWN_VERSION; nothing stored', async () => {
    const w = world()
    const alice = await party(w, 'alice-cache-e6')
    const bob = await party(w, 'bob-cache-e6')
    await acquainted(alice, bob)
    expect(cachedSecret(bob, alice)).toBeDefined()
    const env = await alice.manager.encrypt(bob.sessionId, text('bits, cached'))
    const before = await bob.disk.snapshot()
    const codes = new Set<string>()
    for (let bit = 0; bit < env.length * 8; bit++) {
      const bad = env.slice(); bad[bit >> 3] ^= 1 << (bit & 7)
      const e = await bob.manager.decrypt(bad).then(() => undefined, (err: { code?: string }) => err)
      codes.add(e?.code ?? 'opened')
    }
    expect([...codes].sort()).toEqual(['ERR_ENVELOPE', 'ERR_UNKNOWN_VERSION'])
    expect(await bob.disk.snapshot()).toBe(before)
    expect(str((await bob.manager.decrypt(env)).plaintext)).toBe('bits, cached')
  })

  it('R10: with the static secret cached, every envelope still seals under a fresh (key, nonce) pair in both layers', async () => {
    const w = world()
    const alice = await party(w, 'alice-cache-r10')
    const bob = await party(w, 'bob-cache-r10')
    await acquainted(alice, bob)
    aead.sealed.length = 0
    const dh = vi.spyOn(X25519KeyPair.prototype, 'agree')
    try {
      for (let i = 0; i < 200; i++) {
        const [from, to] = i % 3 === 2 ? [bob, alice] : [alice, bob]
        await to.manager.decrypt(await from.manager.encrypt(to.sessionId, text('same text every time')))
      }
    } finally {
      dh.mockRestore()
    }
    // The cache was used: per message one X25519 to seal, one to open, and the ratchet's steps
    // (two per change of direction); without it, two more per message.
    expect(dh.mock.calls.length).toBeLessThan(200 * 2 + 134 * 2 + 10)
    // Three pairs per message: the ratchet's, the ephemeral layer's, the static layer's.
    expect(aead.sealed.length).toBe(600)
    expect(new Set(aead.sealed).size).toBe(600)
  })

  it('R13: static secrets are bounded with their contacts, wiped when evicted, refused for keys not cached, and wiped when the manager closes', async () => {
    const keys = [1, 2, 3].map((i) => X25519KeyPair.generate(seededRandom(`bounded-${i}`)).publicKey)
    const cache = new IdentityCache({ maxEntries: 2 })
    const secrets = [1, 2, 3].map((i) => new Uint8Array(32).fill(i))
    cache.get(keys[0]); cache.keepStaticShared(keys[0], secrets[0])
    cache.get(keys[1]); cache.keepStaticShared(keys[1], secrets[1])
    cache.get(keys[2])
    expect(cache.size).toBe(2)
    expect(cache.peek(keys[0])).toBeUndefined()
    expect(secrets[0].every((b) => b === 0)).toBe(true)
    // A key that is not cached takes no secret (it was not proven and checked): wiped at once.
    const stray = new Uint8Array(32).fill(9)
    cache.keepStaticShared(keys[0], stray)
    expect(stray.every((b) => b === 0)).toBe(true)
    expect(cache.peek(keys[0])).toBeUndefined()
    cache.clear()
    expect(secrets[1].every((b) => b === 0)).toBe(true)
    expect(cache.size).toBe(0)

    const w = world()
    const alice = await party(w, 'alice-cache-close')
    const bob = await party(w, 'bob-cache-close')
    await acquainted(alice, bob)
    const held = cachedSecret(bob, alice) as Uint8Array
    expect(held.some((b) => b !== 0)).toBe(true)
    const pending = await alice.manager.encrypt(bob.sessionId, text('after close'))
    bob.manager.close()
    expect(held.every((b) => b === 0)).toBe(true)
    expect(bob.manager.cipher.contacts.size).toBe(0)
    await rejectsWith(async () => await bob.manager.decrypt(pending), 'ERR_CLOSED')
    await rejectsWith(async () => await bob.manager.encrypt(alice.sessionId, text('x')), 'ERR_CLOSED')
    // The envelope is intact: a manager opened again on the same store reads it.
    expect(str((await freshManager(bob, w).decrypt(pending)).plaintext)).toBe('after close')
  })
})

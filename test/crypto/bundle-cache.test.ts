/**
 * The verified-bundle cache (node/crypto/bundle-cache.ts): bytes verified once for a Session ID
 * skip the signatures on later uses, but the clock checks (expiry, prekey age: H16) run on every
 * use, a bundle differing in one byte is verified afresh, and the same bytes under another
 * Session ID are not a hit. Its SHA-256 on node:crypto is pinned to @noble/hashes.
 */
import { describe, it, expect } from 'vitest'
import { sha256 } from '@noble/hashes/sha2.js'
import { bundleDigest, VerifiedBundleCache } from '../../node/crypto/bundle-cache.js'
import { parseBundle } from '../../node/crypto/bundle.js'
import { MAX_CLOCK_SKEW_MS } from '../../node/crypto/constants.js'
import { identity, party, publish, rejectsWith, T0, text, world } from './helpers.js'

const expectCode = (fn: () => unknown, code: string) => expect(fn).toThrow(expect.objectContaining({ code }))

async function bobBundle (): Promise<{ bytes: Uint8Array, sessionId: ReturnType<typeof identity>['sessionId'], expiresAt: number, createdAt: number }> {
  const w = world()
  const bob = await party(w, 'cache-bob')
  const bytes = w.bundles.get(bob.sessionId) as Uint8Array
  const b = parseBundle(bytes, bob.sessionId, T0)
  return { bytes, sessionId: bob.sessionId, expiresAt: b.expiresAt, createdAt: b.signedPrekey.createdAt }
}

describe('verified bundle cache', () => {
  it('a second parse of the same bytes for the same Session ID is a hit (no second verification)', async () => {
    const { bytes, sessionId } = await bobBundle()
    const cache = new VerifiedBundleCache()
    const first = cache.parse(bytes, sessionId, T0)
    expect(cache.parse(bytes, sessionId, T0 + 1)).toBe(first)
    expect(cache.size).toBe(1)
  })

  it('a cached bundle is refused once the clock passes its expiry, and when the clock runs behind its prekeys', async () => {
    const { bytes, sessionId, expiresAt, createdAt } = await bobBundle()
    const cache = new VerifiedBundleCache()
    cache.parse(bytes, sessionId, T0)
    expectCode(() => cache.parse(bytes, sessionId, expiresAt), 'ERR_BUNDLE_EXPIRED')
    expectCode(() => cache.parse(bytes, sessionId, createdAt - MAX_CLOCK_SKEW_MS - 1), 'ERR_PREKEY_FROM_FUTURE')
    // Still valid in between: the refusals did not poison the entry.
    expect(cache.parse(bytes, sessionId, T0 + 1).sessionId).toBe(sessionId)
  })

  it('a bundle with one byte changed is verified afresh and refused with its code, every time', async () => {
    const { bytes, sessionId } = await bobBundle()
    const cache = new VerifiedBundleCache()
    cache.parse(bytes, sessionId, T0)
    const changed = bytes.slice()
    changed[changed.length - 70] ^= 1 // inside the signed body, before the record signature
    expectCode(() => cache.parse(changed, sessionId, T0), 'ERR_BAD_SIGNATURE')
    expectCode(() => cache.parse(changed, sessionId, T0), 'ERR_BAD_SIGNATURE')
    const badSig = bytes.slice()
    badSig[badSig.length - 1] ^= 1 // the record signature itself
    expectCode(() => cache.parse(badSig, sessionId, T0), 'ERR_BAD_SIGNATURE')
    expect(cache.size).toBe(1)
  })

  it('the same bytes under another Session ID are checked afresh and refused', async () => {
    const { bytes, sessionId } = await bobBundle()
    const cache = new VerifiedBundleCache()
    cache.parse(bytes, sessionId, T0)
    expectCode(() => cache.parse(bytes, identity('cache-mallory').sessionId, T0), 'ERR_IDENTITY_MISMATCH')
  })

  it('holds at most maxEntries bundles, least recently used out first', async () => {
    const w = world()
    const bob = await party(w, 'cache-lru-bob')
    const a = w.bundles.get(bob.sessionId) as Uint8Array
    const b = await publish(w, bob)
    const c = await publish(w, bob)
    const cache = new VerifiedBundleCache({ maxEntries: 2 })
    const pa = cache.parse(a, bob.sessionId, T0)
    const pb = cache.parse(b, bob.sessionId, T0)
    expect(cache.parse(a, bob.sessionId, T0)).toBe(pa) // a is now the most recent
    cache.parse(c, bob.sessionId, T0) // evicts b
    expect(cache.size).toBe(2)
    expect(cache.parse(a, bob.sessionId, T0)).toBe(pa)
    expect(cache.parse(b, bob.sessionId, T0)).not.toBe(pb)
    expect(() => new VerifiedBundleCache({ maxEntries: 0 })).toThrow(RangeError)
  })

  it('the cache key digest is SHA-256 (node:crypto pinned to @noble/hashes)', () => {
    for (const n of [0, 1, 55, 56, 64, 3000]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff)
      expect(bundleDigest(data)).toBe(Buffer.from(sha256(data)).toString('base64'))
    }
  })

  it('a SessionManager refuses a bundle it already verified once it has expired (clock moved)', async () => {
    const w = world()
    const alice = await party(w, 'cache-alice')
    const bob = await party(w, 'cache-bob-2')
    const bytes = w.bundles.get(bob.sessionId) as Uint8Array
    const { expiresAt } = parseBundle(bytes, bob.sessionId, T0)
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('hello')))
    await alice.manager.resetSession(bob.sessionId)
    alice.clock.now = expiresAt
    await rejectsWith(async () => await alice.manager.encrypt(bob.sessionId, text('again')), 'ERR_BUNDLE_EXPIRED')
    expectCode(() => alice.manager.parseBundle(bytes, bob.sessionId), 'ERR_BUNDLE_EXPIRED')
  })
})

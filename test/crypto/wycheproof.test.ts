/**
 * Wycheproof vectors (C2SP/wycheproof testvectors_v1, see test/vectors/README.md) through
 * Sotto's own wrappers in node/crypto/primitives: `valid` gives exactly the expected output,
 * `invalid` is refused (a typed error, or `false` where the wrapper's contract is a boolean),
 * `acceptable` may go either way, but an accepted result must still be the expected one.
 * Each test prints how many vectors of each kind it ran, and what the acceptable ones did.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { fromHex, toHex } from '../../node/bytes.js'
import { aeadDecrypt, aeadEncrypt } from '../../node/crypto/primitives/aead.js'
import { importEd25519PublicKey, verifyEd25519WithoutContext } from '../../node/crypto/primitives/ed25519.js'
import { hkdfSha256, hmacSha256 } from '../../node/crypto/primitives/kdf.js'
import { xchachaOpen, xchachaSeal } from '../../node/crypto/primitives/xchacha.js'
import { importMlKemPublicKey, MlKemKeyPair, mlKemEncapsulate } from '../../node/crypto/primitives/mlkem.js'
import { checkX25519PublicKey, X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { systemRandom, type RandomSource } from '../../node/crypto/random.js'
import { openMemoryKV } from '../../node/store/raw.js'
import { createSealedStore } from '../../node/store/sealed-store.js'

interface Test { tcId: number, result: 'valid' | 'invalid' | 'acceptable', flags: string[], comment?: string, [field: string]: unknown }
interface File<G> { algorithm: string, numberOfTests: number, testGroups: Array<G & { tests: Test[] }> }

function load<G = Record<string, unknown>> (name: string): File<G> {
  const file = JSON.parse(readFileSync(new URL(`../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as File<G>
  // The copy is complete: every group kept still has all its tests.
  expect(file.testGroups.reduce((n, g) => n + g.tests.length, 0)).toBe(file.numberOfTests)
  return file
}

const h = (s: unknown): Uint8Array => fromHex(s as string) as Uint8Array
/** The code of what `fn` threw, 'returned' if it did not throw, or 'untyped' for an error without one. */
function outcome (fn: () => unknown): string {
  try {
    fn()
    return 'returned'
  } catch (err) {
    return (err as { code?: string }).code ?? 'untyped'
  }
}
function tally (counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}
const show = (counts: Map<string, number>) => [...counts].map(([k, n]) => `${k}: ${n}`).join(', ')

describe('Wycheproof', () => {
  it('K8: x25519_test.json through X25519KeyPair.agree (node:crypto) and checkX25519PublicKey, noble alike', () => {
    const file = load('x25519_test.json')
    const seen = new Map<string, number>()
    for (const t of file.testGroups.flatMap((g) => g.tests)) {
      const kp = X25519KeyPair.fromPrivateKey(h(t.private))
      let shared: string | undefined
      const dh = outcome(() => { shared = toHex(kp.agree(h(t.public))) })
      const check = outcome(() => { checkX25519PublicKey(h(t.public)) })
      let reference: string | undefined
      try { reference = toHex(x25519.getSharedSecret(h(t.private), h(t.public))) } catch { reference = undefined }
      if (t.result === 'valid') {
        expect({ tcId: t.tcId, shared, check }).toEqual({ tcId: t.tcId, shared: t.shared, check: 'returned' })
        expect(reference).toBe(t.shared)
      } else {
        // Acceptable: refused with a typed code, or the exact output.
        if (dh === 'returned') expect({ tcId: t.tcId, shared }).toEqual({ tcId: t.tcId, shared: t.shared })
        else expect({ tcId: t.tcId, dh }).toEqual({ tcId: t.tcId, dh: 'ERR_LOW_ORDER_KEY' })
        expect({ tcId: t.tcId, check }).toEqual({ tcId: t.tcId, check: expect.stringMatching(/^(returned|ERR_LOW_ORDER_KEY|ERR_NONCANONICAL_KEY)$/) })
        // Sotto's peer-key check refuses every low-order or non-canonical encoding the file flags.
        if (t.flags.some((f) => f === 'LowOrderPublic' || f === 'NonCanonicalPublic')) expect({ tcId: t.tcId, check }).not.toEqual({ tcId: t.tcId, check: 'returned' })
      }
      tally(seen, `${t.result} dh:${dh === 'returned' ? 'exact' : dh} check:${check === 'returned' ? 'accepts' : check}`)
    }
    console.log(`K8 Wycheproof x25519 (${file.numberOfTests}): ${show(seen)}`)
  })

  it('K7: ed25519_test.json through Sotto\'s strict verification (S < L, canonical R and A, then OpenSSL)', () => {
    const file = load<{ publicKey: { pk: string } }>('ed25519_test.json')
    const seen = new Map<string, number>()
    for (const g of file.testGroups) {
      const pk = h(g.publicKey.pk)
      expect(outcome(() => importEd25519PublicKey(pk))).toBe('returned')
      for (const t of g.tests) {
        const ok = verifyEd25519WithoutContext(pk, h(t.msg), h(t.sig))
        expect({ tcId: t.tcId, ok }).toEqual({ tcId: t.tcId, ok: t.result === 'valid' })
        tally(seen, `${t.result}:${ok ? 'verified' : 'refused'}`)
      }
    }
    console.log(`K7 Wycheproof ed25519 (${file.numberOfTests}): ${show(seen)}`)
  })

  it('aes_gcm_test.json (256-bit keys, 96-bit nonces, 128-bit tags: what Sotto uses) through aeadEncrypt/aeadDecrypt', () => {
    const file = load<{ keySize: number, ivSize: number, tagSize: number }>('aes_gcm_test.json')
    const seen = new Map<string, number>()
    for (const g of file.testGroups) {
      expect([g.keySize, g.ivSize, g.tagSize]).toEqual([256, 96, 128])
      for (const t of g.tests) {
        const sealed = Uint8Array.from([...h(t.ct), ...h(t.tag)])
        if (t.result === 'valid') {
          expect({ tcId: t.tcId, out: toHex(aeadEncrypt(h(t.key), h(t.iv), h(t.msg), h(t.aad))) }).toEqual({ tcId: t.tcId, out: `${t.ct as string}${t.tag as string}` })
          expect({ tcId: t.tcId, out: toHex(aeadDecrypt(h(t.key), h(t.iv), sealed, h(t.aad))) }).toEqual({ tcId: t.tcId, out: t.msg })
        } else {
          expect({ tcId: t.tcId, code: outcome(() => aeadDecrypt(h(t.key), h(t.iv), sealed, h(t.aad))) }).toEqual({ tcId: t.tcId, code: 'ERR_DECRYPT' })
        }
        tally(seen, t.result)
      }
    }
    console.log(`Wycheproof AES-256-GCM (${file.numberOfTests}): ${show(seen)}`)
  })

  it('hkdf_sha256_test.json through hkdfSha256; an output size beyond 255 x 32 bytes is a typed error', () => {
    const file = load('hkdf_sha256_test.json')
    const seen = new Map<string, number>()
    for (const t of file.testGroups.flatMap((g) => g.tests)) {
      const size = t.size as number
      if (t.result === 'valid') {
        expect({ tcId: t.tcId, okm: toHex(hkdfSha256(h(t.ikm), h(t.salt), h(t.info), size)) }).toEqual({ tcId: t.tcId, okm: t.okm })
      } else {
        expect({ tcId: t.tcId, code: outcome(() => hkdfSha256(h(t.ikm), h(t.salt), h(t.info), size)) }).toEqual({ tcId: t.tcId, code: 'ERR_KDF_LENGTH' })
      }
      tally(seen, `${t.result}${t.flags.length > 0 ? ` ${t.flags.join('+')}` : ''}`)
    }
    console.log(`Wycheproof HKDF-SHA256 (${file.numberOfTests}): ${show(seen)}`)
  })

  it('hmac_sha256_test.json (full 256-bit tags: Sotto never truncates an HMAC) through hmacSha256', () => {
    const file = load<{ tagSize: number }>('hmac_sha256_test.json')
    const seen = new Map<string, number>()
    for (const g of file.testGroups) {
      expect(g.tagSize).toBe(256)
      for (const t of g.tests) {
        // Sotto only derives keys with HMAC (KDF_CK, HKDF) and verifies no HMAC tag, so an
        // invalid vector is one whose tag is not what the wrapper computes.
        const tag = toHex(hmacSha256(h(t.key), h(t.msg)))
        expect({ tcId: t.tcId, same: tag === t.tag }).toEqual({ tcId: t.tcId, same: t.result === 'valid' })
        tally(seen, t.result)
      }
    }
    console.log(`Wycheproof HMAC-SHA256 (${file.numberOfTests}): ${show(seen)}`)
  })

  it('mlkem_1024_test.json through MlKemKeyPair.fromSeed (node:crypto) and decapsulate', () => {
    const file = load('mlkem_1024_test.json')
    const seen = new Map<string, number>()
    for (const t of file.testGroups.flatMap((g) => g.tests)) {
      const seed = h(t.seed)
      if (t.result === 'valid') {
        const kp = MlKemKeyPair.fromSeed(seed)
        expect({ tcId: t.tcId, ek: toHex(kp.publicKey) }).toEqual({ tcId: t.tcId, ek: t.ek })
        expect({ tcId: t.tcId, K: toHex(kp.decapsulate(h(t.c))) }).toEqual({ tcId: t.tcId, K: t.K })
        // The stored form (public key and seed) decapsulates the same.
        expect(toHex(MlKemKeyPair.fromStored(kp.publicKey, seed).decapsulate(h(t.c)))).toBe(t.K)
        tally(seen, 'valid')
      } else {
        const code = outcome(() => MlKemKeyPair.fromSeed(seed).decapsulate(h(t.c)))
        const expected = seed.length !== 64 ? 'ERR_BAD_KEY' : 'ERR_DECODE'
        expect({ tcId: t.tcId, comment: t.comment, code }).toEqual({ tcId: t.tcId, comment: t.comment, code: expected })
        tally(seen, `invalid ${t.comment ?? ''}: ${code}`)
      }
    }
    console.log(`Wycheproof ML-KEM-1024 decapsulation (${file.numberOfTests}): ${show(seen)}`)
  })

  it('mlkem_1024_encaps_test.json through mlKemEncapsulate (both paths) and importMlKemPublicKey', () => {
    const file = load('mlkem_1024_encaps_test.json')
    const seen = new Map<string, number>()
    for (const t of file.testGroups.flatMap((g) => g.tests)) {
      const ek = h(t.ek)
      // The vector's m as the random source: the deterministic path gives exactly (c, K).
      const fixed: RandomSource = (n) => { expect(n).toBe(32); return h(t.m) }
      if (t.result === 'valid') {
        const out = mlKemEncapsulate(ek, fixed)
        expect({ tcId: t.tcId, c: toHex(out.ciphertext), K: toHex(out.sharedSecret) }).toEqual({ tcId: t.tcId, c: t.c, K: t.K })
        expect(outcome(() => importMlKemPublicKey(ek))).toBe('returned')
        expect(mlKemEncapsulate(ek, systemRandom).ciphertext.length).toBe(1568)
        tally(seen, 'valid')
      } else {
        const seeded = outcome(() => mlKemEncapsulate(ek, fixed))
        const system = outcome(() => mlKemEncapsulate(ek, systemRandom))
        expect({ tcId: t.tcId, seeded, system }).toEqual({ tcId: t.tcId, seeded: 'ERR_BAD_KEY', system: 'ERR_BAD_KEY' })
        tally(seen, `invalid ${t.comment !== undefined && t.comment !== '' ? t.comment : t.flags.join('+')}`)
      }
    }
    console.log(`Wycheproof ML-KEM-1024 encapsulation (${file.numberOfTests}): ${show(seen)}`)
  })

  it('xchacha20_poly1305_test.json (192-bit nonces) through xchachaSeal/xchachaOpen (node:crypto, what the sealed store calls) and noble alike; the store turns a bad tag into a typed error', async () => {
    const file = load<{ ivSize: number }>('xchacha20_poly1305_test.json')
    const seen = new Map<string, number>()
    const refusal = () => Object.assign(new Error('refused'), { code: 'ERR_TEST_REFUSED' })
    for (const g of file.testGroups) {
      expect(g.ivSize).toBe(192)
      for (const t of g.tests) {
        const sealed = Uint8Array.from([...h(t.ct), ...h(t.tag)])
        if (t.result === 'valid') {
          expect({ tcId: t.tcId, out: toHex(xchachaSeal(h(t.key), h(t.iv), h(t.msg), h(t.aad))) }).toEqual({ tcId: t.tcId, out: `${t.ct as string}${t.tag as string}` })
          expect({ tcId: t.tcId, out: toHex(xchachaOpen(h(t.key), h(t.iv), sealed, h(t.aad), refusal)) }).toEqual({ tcId: t.tcId, out: t.msg })
          expect({ tcId: t.tcId, out: toHex(xchacha20poly1305(h(t.key), h(t.iv), h(t.aad)).encrypt(h(t.msg))) }).toEqual({ tcId: t.tcId, out: `${t.ct as string}${t.tag as string}` })
        } else {
          expect({ tcId: t.tcId, refused: outcome(() => xchachaOpen(h(t.key), h(t.iv), sealed, h(t.aad), refusal)) }).toEqual({ tcId: t.tcId, refused: 'ERR_TEST_REFUSED' })
          expect({ tcId: t.tcId, refused: outcome(() => xchacha20poly1305(h(t.key), h(t.iv), h(t.aad)).decrypt(sealed)) !== 'returned' }).toEqual({ tcId: t.tcId, refused: true })
        }
        tally(seen, t.result)
      }
    }
    console.log(`Wycheproof XChaCha20-Poly1305 (${file.numberOfTests}): ${show(seen)}`)
    // Through the store itself: a value with a modified tag is the store's typed error.
    const kv = openMemoryKV()
    const store = createSealedStore(kv, new Uint8Array(32).fill(7))
    await store.put(['wycheproof', 'x'], Uint8Array.of(1, 2, 3))
    const stored: Array<[Uint8Array, Uint8Array]> = []
    for await (const entry of kv.entries({ gte: new Uint8Array(0), lt: Uint8Array.of(0xff) })) stored.push(entry)
    expect(stored.length).toBe(1)
    const [key, value] = stored[0]
    const bad = value.slice(); bad[bad.length - 1] ^= 1
    await kv.batch([{ type: 'put', key, value: bad }])
    await expect(store.get(['wycheproof', 'x'])).rejects.toMatchObject({ code: 'ERR_RECORD_INTEGRITY' })
  })
})

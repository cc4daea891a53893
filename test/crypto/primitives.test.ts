/**
 * The primitives through the code paths Sotto uses (node:crypto), against RFC known answers
 * and cross-checked against @noble on random inputs (K7, K8, K9). The Wycheproof vectors run
 * through the same wrappers in wycheproof.test.ts.
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { gcm } from '@noble/ciphers/aes.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js'
import { fromHex, toHex, concatBytes } from '../../node/bytes.js'
import { checkX25519PublicKey, X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { Ed25519Signer, matchesX25519, verifyEd25519 } from '../../node/crypto/primitives/ed25519.js'
import { MlKemKeyPair, mlKemEncapsulate } from '../../node/crypto/primitives/mlkem.js'
import { aeadDecrypt, aeadEncrypt } from '../../node/crypto/primitives/aead.js'
import { hkdfSha256, hmacSha256, secretKey, sha256 as sha256Native } from '../../node/crypto/primitives/kdf.js'
import { kdfCk, messageKeyOf, nextChainKey } from '../../node/crypto/ratchet/keys.js'
import { seededRandom, systemRandom } from '../../node/crypto/random.js'
import { SIGNATURE_CONTEXTS, type SignatureContext } from '../../node/crypto/constants.js'

const h = (s: string) => fromHex(s) as Uint8Array
const P = (1n << 255n) - 19n
const L = (1n << 252n) + 27742317777372353535851937790883648493n
const le = (b: Uint8Array) => { let v = 0n; for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); return v }
const toLe = (v: bigint, n = 32) => { const o = new Uint8Array(n); for (let i = 0; i < n; i++) { o[i] = Number(v & 0xffn); v >>= 8n } return o }

describe('X25519 (RFC 7748) through node:crypto, K8', () => {
  it('K8: RFC 7748 §5.2 test vectors (scalar, u) -> output', () => {
    const vectors = [
      ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
      ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957']
    ]
    for (const [k, u, out] of vectors) {
      // The second vector's u has the high bit set: the primitive masks it (RFC 7748 §5) ...
      expect(toHex(X25519KeyPair.fromPrivateKey(h(k)).agree(h(u)))).toBe(out)
      expect(toHex(x25519.getSharedSecret(h(k), h(u)))).toBe(out)
    }
    // ... and Sotto's protocol check refuses such an encoding from a peer (H11).
    expect(() => checkX25519PublicKey(h(vectors[1][1]))).toThrow(expect.objectContaining({ code: 'ERR_NONCANONICAL_KEY' }))
  })

  it('K8: RFC 7748 §5.2 iterated vector, 1 and 1000 iterations', () => {
    let k: Uint8Array = new Uint8Array(32); k[0] = 9
    let u: Uint8Array = k.slice()
    for (let i = 1; i <= 1000; i++) {
      const out = X25519KeyPair.fromPrivateKey(k).agree(u)
      u = k
      k = out
      if (i === 1) expect(toHex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079')
    }
    expect(toHex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51')
  })

  it('K8: RFC 7748 §6.1 Diffie-Hellman vector', () => {
    const a = X25519KeyPair.fromPrivateKey(h('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'))
    const b = X25519KeyPair.fromPrivateKey(h('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'))
    expect(toHex(a.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')
    expect(toHex(b.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
    expect(toHex(a.agree(b.publicKey))).toBe(shared)
    expect(toHex(b.agree(a.publicKey))).toBe(shared)
  })

  it('K8: node:crypto and noble agree on random keys (incl. high-bit and non-canonical u)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (k, u) => {
      let expected: string | undefined
      try { expected = toHex(x25519.getSharedSecret(k, u)) } catch { expected = undefined }
      let actual: string | undefined
      try { actual = toHex(X25519KeyPair.fromPrivateKey(k).agree(u)) } catch { actual = undefined }
      expect(actual).toBe(expected)
    }), { numRuns: 150 })
    // Key generation: the public key of a generated pair is noble's public key of its scalar.
    for (let i = 0; i < 20; i++) {
      const kp = X25519KeyPair.generate(systemRandom)
      expect(toHex(kp.publicKey)).toBe(toHex(x25519.getPublicKey(kp.privateKeyBytes())))
    }
  })

  it('K8/H3: every low-order point gives the all-zero output, refused (node:crypto and the checker)', () => {
    const lowOrder = [0n, 1n, P - 1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n]
    const kp = X25519KeyPair.generate(systemRandom)
    for (const u of lowOrder) {
      const enc = toLe(u)
      expect(() => kp.agree(enc)).toThrow(expect.objectContaining({ code: 'ERR_LOW_ORDER_KEY' }))
      expect(() => checkX25519PublicKey(enc)).toThrow(expect.objectContaining({ code: 'ERR_LOW_ORDER_KEY' }))
      // Non-canonical encodings of the same points (u + p) and the high-bit forms.
      if (u + P < (1n << 255n)) expect(() => checkX25519PublicKey(toLe(u + P))).toThrow(expect.objectContaining({ code: 'ERR_NONCANONICAL_KEY' }))
      const high = enc.slice(); high[31] |= 0x80
      expect(() => checkX25519PublicKey(high)).toThrow(expect.objectContaining({ code: 'ERR_NONCANONICAL_KEY' }))
      expect(() => kp.agree(high)).toThrow(expect.objectContaining({ code: 'ERR_LOW_ORDER_KEY' }))
    }
    expect(() => checkX25519PublicKey(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'ERR_BAD_KEY' }))
    expect(() => checkX25519PublicKey(kp.publicKey)).not.toThrow()
  })

  it('K8: key pairs redact themselves', () => {
    const kp = X25519KeyPair.generate(systemRandom)
    const hex = toHex(kp.privateKeyBytes())
    expect(JSON.stringify(kp)).not.toContain(hex)
    expect(JSON.stringify(kp)).toContain('redacted')
    expect(String((kp as unknown as Record<symbol, () => string>)[Symbol.for('nodejs.util.inspect.custom')]())).toContain('redacted')
  })
})

describe('Ed25519 (RFC 8032) through node:crypto, K7, K9', () => {
  const rfc = [
    ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '', 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
    ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72', '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
    ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82', '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a']
  ]

  it('K7: RFC 8032 §7.1 tests 1-3 (keys and signatures, node:crypto and noble)', () => {
    for (const [seed, pub, msg, sig] of rfc) {
      expect(toHex(new Ed25519Signer(h(seed)).publicKey)).toBe(pub)
      expect(toHex(ed25519.sign(h(msg), h(seed)))).toBe(sig)
      expect(ed25519.verify(h(sig), h(msg), h(pub), { zip215: false })).toBe(true)
    }
  })

  /** Signs exactly `message` (the context is ours to add): noble, over context || message. */
  const nobleSign = (ctx: SignatureContext, msg: Uint8Array, seed: Uint8Array) => ed25519.sign(concatBytes(SIGNATURE_CONTEXTS[ctx], msg), seed)

  it('K7: node signatures equal noble signatures; strict verification agrees with noble zip215:false', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), fc.nat(63), fc.nat(7), (seed, msg, byte, bit) => {
      const s = new Ed25519Signer(seed)
      const sig = s.sign('bundle', msg)
      expect(toHex(sig)).toBe(toHex(nobleSign('bundle', msg, seed)))
      expect(verifyEd25519(s.publicKey, 'bundle', msg, sig)).toBe(true)
      const bad = sig.slice(); bad[byte] ^= 1 << bit
      const full = concatBytes(SIGNATURE_CONTEXTS.bundle, msg)
      expect(verifyEd25519(s.publicKey, 'bundle', msg, bad)).toBe(ed25519.verify(bad, full, s.publicKey, { zip215: false }))
    }), { numRuns: 60 })
  })

  it('K7: S >= L, non-canonical R or A, and trailing or missing bytes are refused', () => {
    const seed = randomBytes(32)
    const s = new Ed25519Signer(seed)
    const msg = new Uint8Array([1, 2, 3])
    const sig = s.sign('bundle', msg)
    // S + L: the same point equation, a malleated encoding (RFC 8032 §5.1.7 requires S < L).
    const malleated = concatBytes(sig.subarray(0, 32), toLe(le(sig.subarray(32)) + L))
    expect(verifyEd25519(s.publicKey, 'bundle', msg, malleated)).toBe(false)
    expect(ed25519.verify(malleated, concatBytes(SIGNATURE_CONTEXTS.bundle, msg), s.publicKey, { zip215: false })).toBe(false)
    // The bounds themselves (byte-wise compares since issue 19): S = L, and y = p with the sign bit set.
    expect(verifyEd25519(s.publicKey, 'bundle', msg, concatBytes(sig.subarray(0, 32), toLe(L)))).toBe(false)
    const signedP = toLe(P); signedP[31] |= 0x80
    expect(verifyEd25519(s.publicKey, 'bundle', msg, concatBytes(signedP, sig.subarray(32)))).toBe(false)
    expect(verifyEd25519(signedP, 'bundle', msg, sig)).toBe(false)
    // Non-canonical R (y >= p) and A (y >= p).
    const badR = sig.slice(); badR.set(toLe(P + 1n), 0)
    expect(verifyEd25519(s.publicKey, 'bundle', msg, badR)).toBe(false)
    expect(verifyEd25519(toLe(P + 1n), 'bundle', msg, sig)).toBe(false)
    // Trailing or missing bytes.
    expect(verifyEd25519(s.publicKey, 'bundle', msg, concatBytes(sig, Uint8Array.of(0)))).toBe(false)
    expect(verifyEd25519(s.publicKey, 'bundle', msg, sig.subarray(0, 63))).toBe(false)
    expect(verifyEd25519(concatBytes(s.publicKey, Uint8Array.of(0)), 'bundle', msg, sig)).toBe(false)
    expect(verifyEd25519(s.publicKey, 'bundle', msg, sig)).toBe(true)
  })

  it('K9: a signature under one context never verifies under another (every pairing)', () => {
    const s = new Ed25519Signer(randomBytes(32))
    const msg = randomBytes(40)
    const contexts = Object.keys(SIGNATURE_CONTEXTS) as SignatureContext[]
    for (const a of contexts) {
      const sig = s.sign(a, msg)
      for (const b of contexts) expect(verifyEd25519(s.publicKey, b, msg, sig)).toBe(a === b)
    }
    // The mailbox proof context of node/net is distinct from all of ours, and none is a prefix of another.
    const all = [...Object.values(SIGNATURE_CONTEXTS), new TextEncoder().encode('Sotto/mailbox-proof/v1\0')].map((c) => Buffer.from(c).toString())
    for (const x of all) for (const y of all) if (x !== y) expect(y.startsWith(x)).toBe(false)
  })

  it('the Ed25519 -> X25519 check (one multiplication) agrees with noble toMontgomery', () => {
    for (let i = 0; i < 25; i++) {
      const pub = ed25519.getPublicKey(randomBytes(32))
      const mont = ed25519.utils.toMontgomery(pub)
      expect(matchesX25519(pub, mont)).toBe(true)
      const other = ed25519.utils.toMontgomery(ed25519.getPublicKey(randomBytes(32)))
      expect(matchesX25519(pub, other)).toBe(false)
      // The sign bit of x is lost by the map: -A names the same X25519 key (see PROTOCOL.md §3, H4).
      const neg = pub.slice(); neg[31] ^= 0x80
      expect(matchesX25519(neg, mont)).toBe(true)
    }
  })
})

describe('ML-KEM-1024, AES-256-GCM, HKDF, HMAC: node:crypto against noble', () => {
  it('ML-KEM-1024: same keys from a seed; node encapsulation opens in noble and the reverse', () => {
    for (let i = 0; i < 4; i++) {
      const seed = randomBytes(64)
      const ours = MlKemKeyPair.fromSeed(seed)
      const ref = ml_kem1024.keygen(seed)
      expect(toHex(ours.publicKey)).toBe(toHex(ref.publicKey))
      const a = mlKemEncapsulate(ours.publicKey, systemRandom)
      expect(toHex(ml_kem1024.decapsulate(a.ciphertext, ref.secretKey))).toBe(toHex(a.sharedSecret))
      const b = ml_kem1024.encapsulate(ref.publicKey)
      expect(toHex(ours.decapsulate(b.cipherText))).toBe(toHex(b.sharedSecret))
      // The seeded path (noble) opens in node too.
      const c = mlKemEncapsulate(ours.publicKey, seededRandom(`kem${i}`))
      expect(toHex(ours.decapsulate(c.ciphertext))).toBe(toHex(c.sharedSecret))
      // A changed ciphertext gives another secret (implicit rejection), never an exception (H9).
      const flipped = a.ciphertext.slice(); flipped[0] ^= 1
      expect(toHex(ours.decapsulate(flipped))).not.toBe(toHex(a.sharedSecret))
    }
    const generated = MlKemKeyPair.generate(systemRandom)
    expect(toHex(MlKemKeyPair.fromSeed(generated.seedBytes()).publicKey)).toBe(toHex(generated.publicKey))
  })

  it('H13: a wrong-length ML-KEM key or ciphertext is refused', () => {
    const kp = MlKemKeyPair.generate(systemRandom)
    expect(() => mlKemEncapsulate(kp.publicKey.subarray(1), systemRandom)).toThrow(expect.objectContaining({ code: 'ERR_BAD_KEY' }))
    expect(() => kp.decapsulate(new Uint8Array(1567))).toThrow(expect.objectContaining({ code: 'ERR_DECODE' }))
  })

  it('AES-256-GCM: node output equals noble gcm; any flipped bit fails', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ maxLength: 2100 }), fc.uint8Array({ maxLength: 100 }), (key, nonce, pt, ad) => {
      const ct = aeadEncrypt(key, nonce, pt, ad)
      expect(toHex(ct)).toBe(toHex(gcm(key, nonce, ad).encrypt(pt)))
      expect(toHex(aeadDecrypt(key, nonce, ct, ad))).toBe(toHex(pt))
      const bad = ct.slice(); bad[ct.length - 1] ^= 0x80
      expect(() => aeadDecrypt(key, nonce, bad, ad)).toThrow(expect.objectContaining({ code: 'ERR_DECRYPT' }))
    }), { numRuns: 60 })
  })

  it('HKDF-SHA256: RFC 5869 test case 1, and the implementation equals node:crypto hkdfSync on random inputs', () => {
    const okm = hkdfSha256(new Uint8Array(22).fill(0x0b), h('000102030405060708090a0b0c'), h('f0f1f2f3f4f5f6f7f8f9'), 42)
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 100 }), (ikm, salt, info, len) => {
      expect(toHex(hkdfSha256(ikm, salt, info, len))).toBe(toHex(new Uint8Array(hkdfSync('sha256', ikm, salt, info, len))))
      expect(toHex(hkdfSha256(ikm, salt, info, len))).toBe(toHex(hkdf(sha256, ikm, salt, info, len)))
    }), { numRuns: 60 })
  })

  it('SHA-256 on node:crypto: the FIPS 180-4 "abc" answer, and equal to @noble/hashes on random inputs', () => {
    expect(toHex(sha256Native(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (data) => {
      const out = sha256Native(data)
      expect(out).toBeInstanceOf(Uint8Array)
      expect(toHex(out)).toBe(toHex(sha256(data)))
    }), { numRuns: 100 })
  })

  it('HMAC-SHA256 on node:crypto: RFC 4231 test case 2, and equal to @noble/hashes on random keys and messages (raw key and key handle)', () => {
    expect(toHex(hmacSha256(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?')))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 200 }), (key, data) => {
      const ref = toHex(hmac(sha256, key, data))
      expect(toHex(hmacSha256(key, data))).toBe(ref)
      expect(toHex(hmacSha256(secretKey(key), data))).toBe(ref)
    }), { numRuns: 100 })
  })

  it('KDF_CK = (HMAC(ck, 0x02), HMAC(ck, 0x01)) (DR §5.2)', () => {
    const ck = randomBytes(32)
    const { chainKey, messageKey } = kdfCk(ck)
    expect(toHex(chainKey)).toBe(toHex(hmac(sha256, ck, Uint8Array.of(2))))
    expect(toHex(messageKey)).toBe(toHex(hmac(sha256, ck, Uint8Array.of(1))))
    expect(toHex(messageKey)).toBe(createHmac('sha256', ck).update(Uint8Array.of(1)).digest('hex'))
    // Its two halves, as the receiver derives them (chain keys before the AEAD check, message keys after).
    expect(toHex(nextChainKey(ck))).toBe(toHex(chainKey))
    expect(toHex(messageKeyOf(ck))).toBe(toHex(messageKey))
  })
})

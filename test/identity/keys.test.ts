import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { inspect } from 'node:util'
import { deriveIdentity, entropyToPhrase, phraseToEntropy, parseSessionId } from '../../node/identity/index.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { fromHex, toHex, utf8 } from '../../node/bytes.js'
import { Ed25519Signer, matchesX25519, verifyEd25519 } from '../../node/crypto/primitives/ed25519.js'

const P = (1n << 255n) - 19n
const le = (b: Uint8Array): bigint => { let v = 0n; for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); return v }
const toLe = (v: bigint): Uint8Array => { const o = new Uint8Array(32); for (let i = 0; i < 32; i++) { o[i] = Number(v & 0xffn); v >>= 8n } return o }
const inv = (a: bigint): bigint => { let r = 1n; let b = a % P; let e = P - 2n; while (e > 0n) { if ((e & 1n) === 1n) r = r * b % P; b = b * b % P; e >>= 1n } return r }

describe('account keys from entropy', () => {
  it('gives the Session ID that Session derives from the same 128-bit seed (libsession-util vector)', () => {
    // oxen-io/libsession-util tests/test_config_contacts.cpp: seed 0123…ef + 16 zero bytes.
    const id = deriveIdentity(fromHex('0123456789abcdef0123456789abcdef')!)
    expect(toHex(id.signingPublicKey)).toBe('4cb76fdc6d32278e3f83dbf608360ecc6b65727934b85d2fb86862ff98c46ab7')
    expect(toHex(id.dhPublicKey)).toBe('d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72')
    expect(id.sessionId).toBe('05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72')
    expect(toHex(id.signingSeed)).toBe('0123456789abcdef0123456789abcdef00000000000000000000000000000000')
  })

  it('K1: a 12-word and a 24-word phrase restore the same keys on every run', () => {
    for (const bytes of [16, 32]) {
      const entropy = new Uint8Array(bytes).map((_, i) => (i * 37 + 11) & 0xff)
      const phrase = entropyToPhrase(entropy)
      expect(phrase.split(' ')).toHaveLength(bytes === 16 ? 12 : 24)
      const a = deriveIdentity(phraseToEntropy(phrase))
      const b = deriveIdentity(phraseToEntropy(phrase))
      expect(a.sessionId).toBe(b.sessionId)
      expect(toHex(a.signingSeed)).toBe(toHex(b.signingSeed))
      // 24 words: the 32 entropy bytes are the Ed25519 seed itself.
      if (bytes === 32) expect(toHex(a.signingSeed)).toBe(toHex(entropy))
      expect(parseSessionId(a.sessionId)).toBe(a.sessionId)
    }
  })

  // K4. Why one secret may serve both forms is written in docs/THREAT-MODEL.md "Key reuse (K4)"
  // (Session's Ed25519/X25519 reuse) and docs/PROTOCOL.md §1.3: each form has one job, and
  // every signature carries a context naming what it signs.
  it('K4: the X25519 key is the Ed25519 key under the birational map; the Ed25519 form only signs (under a context), the X25519 form only agrees', () => {
    const id = deriveIdentity(new Uint8Array(16).fill(9))
    const peer = deriveIdentity(new Uint8Array(16).fill(10))

    // Same key, two forms: u = (1 + y) / (1 - y) mod p (RFC 7748 §4.1), computed here from the Edwards y.
    const y = le(id.signingPublicKey) & ((1n << 255n) - 1n)
    expect(toHex(id.dhPublicKey)).toBe(toHex(toLe((1n + y) * inv((1n - y + P) % P) % P)))
    // ... and one secret scalar: the clamped first half of SHA-512(seed) that Ed25519 signs with (RFC 8032 §5.1.5).
    const scalar = sha512(id.signingSeed).slice(0, 32)
    scalar[0] &= 248; scalar[31] &= 127; scalar[31] |= 64
    expect(toHex(id.dhPrivateKey)).toBe(toHex(scalar))
    // The two forms are different bytes: neither can be passed off as the other.
    expect(toHex(id.dhPublicKey)).not.toBe(toHex(id.signingPublicKey))

    // The X25519 form agrees keys with a peer.
    expect(toHex(x25519.getSharedSecret(id.dhPrivateKey, peer.dhPublicKey))).toBe(toHex(x25519.getSharedSecret(peer.dhPrivateKey, id.dhPublicKey)))

    // The Ed25519 form signs, always under a context: a signature made for one purpose does not
    // verify for another, nor does a context-free signature by the same key (another protocol's).
    const msg = utf8('u32 id | u64 createdAt | key')
    const sig = new Ed25519Signer(id.signingSeed).sign('signedPrekey', msg)
    expect(verifyEd25519(id.signingPublicKey, 'signedPrekey', msg, sig)).toBe(true)
    expect(verifyEd25519(id.signingPublicKey, 'kemPrekey', msg, sig)).toBe(false)
    expect(verifyEd25519(id.signingPublicKey, 'bundle', msg, sig)).toBe(false)
    expect(verifyEd25519(id.signingPublicKey, 'signedPrekey', msg, ed25519.sign(msg, id.signingSeed))).toBe(false)
    // The X25519 key (the Session ID's) is not a signature key: read as Ed25519 it verifies nothing,
    // and a bundle must carry the Ed25519 form, which is checked against the Session ID by the map.
    expect(verifyEd25519(id.dhPublicKey, 'signedPrekey', msg, sig)).toBe(false)
    expect(matchesX25519(id.signingPublicKey, id.dhPublicKey)).toBe(true)
    expect(matchesX25519(id.dhPublicKey, id.dhPublicKey)).toBe(false)
    expect(matchesX25519(peer.signingPublicKey, id.dhPublicKey)).toBe(false)
  })

  it('never prints its secrets when logged or serialised by accident', () => {
    const id = deriveIdentity(new Uint8Array(16).fill(3))
    const secret = toHex(id.signingSeed)
    expect(JSON.stringify(id)).not.toContain(secret.slice(0, 16))
    expect(inspect(id)).not.toContain(secret.slice(0, 16))
    expect(inspect(id)).toContain(id.sessionId)
  })
})

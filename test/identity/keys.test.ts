import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { inspect } from 'node:util'
import { deriveIdentity, entropyToPhrase, phraseToEntropy, parseSessionId } from '../../node/identity/index.js'
import { fromHex, toHex } from '../../node/bytes.js'

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

  it('K4: the X25519 key is the Ed25519 key in Montgomery form, and each signs or agrees, not both', () => {
    const id = deriveIdentity(new Uint8Array(16).fill(9))
    expect(toHex(x25519.getPublicKey(id.dhPrivateKey))).toBe(toHex(ed25519.utils.toMontgomery(id.signingPublicKey)))
    // The DH secret is not the signing seed: each form has its own secret.
    expect(toHex(id.dhPrivateKey)).not.toBe(toHex(id.signingSeed))
  })

  it('never prints its secrets when logged or serialised by accident', () => {
    const id = deriveIdentity(new Uint8Array(16).fill(3))
    const secret = toHex(id.signingSeed)
    expect(JSON.stringify(id)).not.toContain(secret.slice(0, 16))
    expect(inspect(id)).not.toContain(secret.slice(0, 16))
    expect(inspect(id)).toContain(id.sessionId)
  })
})

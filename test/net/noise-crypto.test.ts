import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { pureJsCrypto, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { Uint8ArrayList } from 'uint8arraylist'
import { fastNoiseCrypto, SMALL_FRAME_BYTES } from '../../node/net/noise-crypto.js'

/** Noise's own copy of uint8arraylist may differ from ours in type only: its parameter type, as Noise sees it. */
type NoiseBytes = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0]
const list = (...parts: Uint8Array[]): NoiseBytes => new Uint8ArrayList(...parts) as unknown as NoiseBytes
const bytes = (x: NoiseBytes): Uint8Array => new Uint8Array(x instanceof Uint8Array ? x : x.subarray())

describe('Noise ChaCha20-Poly1305 with cached key handles', () => {
  // @noble's ChaCha20-Poly1305 (libp2p-noise's pure-JS crypto) is the reference, byte for byte.
  it('seals and opens exactly as the pure-JS reference, below and above the small-frame bound, from arrays and lists', () => {
    const crypto = fastNoiseCrypto()
    const k = new Uint8Array(randomBytes(32))
    const ad = new Uint8Array(randomBytes(32))
    for (const size of [0, 100, SMALL_FRAME_BYTES - 1, SMALL_FRAME_BYTES, 5000, 70_000]) {
      const nonce = new Uint8Array(12)
      nonce[4] = size & 0xff
      const plain = new Uint8Array(randomBytes(size))
      const reference = bytes(pureJsCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))
      const split = list(plain.subarray(0, size >> 1), plain.subarray(size >> 1))
      expect(bytes(crypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k))).toEqual(reference)
      expect(bytes(crypto.chaCha20Poly1305Encrypt(split, nonce, ad, k))).toEqual(reference)
      expect(bytes(crypto.chaCha20Poly1305Decrypt(reference, nonce, ad, k))).toEqual(plain)
      const sealedList = list(reference.subarray(0, 7), reference.subarray(7))
      expect(bytes(crypto.chaCha20Poly1305Decrypt(sealedList, nonce, ad, k))).toEqual(plain)
    }
  })

  it('refuses a tampered frame and a wrong key, and a key changed in place is used as it is now', () => {
    const crypto = fastNoiseCrypto()
    const k = new Uint8Array(randomBytes(32))
    const nonce = new Uint8Array(12)
    const plain = new Uint8Array(randomBytes(4096))
    const sealed = bytes(crypto.chaCha20Poly1305Encrypt(plain, nonce, new Uint8Array(0), k))
    const tampered = sealed.slice()
    tampered[100] ^= 1
    expect(() => crypto.chaCha20Poly1305Decrypt(tampered, nonce, new Uint8Array(0), k)).toThrow(/unable to authenticate|Unsupported state/)
    // The same array, new bytes (the cached handle must not be used): the old frame no longer opens...
    k.set(randomBytes(32))
    expect(() => crypto.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(0), k)).toThrow(/unable to authenticate|Unsupported state/)
    // ...and what it seals now matches the reference under the new key.
    expect(bytes(crypto.chaCha20Poly1305Encrypt(plain, nonce, new Uint8Array(0), k))).toEqual(bytes(pureJsCrypto.chaCha20Poly1305Encrypt(plain, nonce, new Uint8Array(0), k)))
  })
})

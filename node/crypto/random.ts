/**
 * The random source is passed in (like libsignal's `csprng` argument), so tests and
 * known-answer vectors are deterministic. Production code uses `systemRandom`; the
 * primitives recognise it and take node:crypto's own key generation, which draws from the
 * same OpenSSL CSPRNG without a round trip through JavaScript.
 */
import { randomBytes } from 'node:crypto'
import { chacha20 } from '@noble/ciphers/chacha.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8 } from '../bytes.js'

export type RandomSource = (length: number) => Uint8Array

/** The operating system's CSPRNG (through OpenSSL). */
export const systemRandom: RandomSource = (length) => {
  const b = randomBytes(length)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export function isSystemRandom (random: RandomSource): boolean {
  return random === systemRandom
}

/**
 * A deterministic stream (ChaCha20 keyed by SHA-256 of the seed) for tests, known-answer
 * vectors and benchmarks that must repeat. Never for real keys.
 */
export function seededRandom (seed: string | Uint8Array): RandomSource {
  const key = sha256(typeof seed === 'string' ? utf8(seed) : seed)
  const nonce = new Uint8Array(12)
  let counter = 0
  return (length) => {
    // One fresh nonce per call: the stream never repeats.
    new DataView(nonce.buffer).setUint32(0, counter++, true)
    return chacha20(key, nonce, new Uint8Array(length))
  }
}

/** A uniform integer in [0, n) from a random source (rejection sampling, no modulo bias). */
export function randomInt (random: RandomSource, n: number): number {
  if (!Number.isSafeInteger(n) || n <= 0 || n > 0x1_0000_0000) throw new RangeError('randomInt bound out of range')
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % n)
  for (;;) {
    const b = random(4)
    const v = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
    if (v < limit) return v % n
  }
}

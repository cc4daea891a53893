import { Fingerprint, PublicKey } from '@signalapp/libsignal-client'
import { describe, expect, it } from 'vitest'
import { deriveIdentity, formatSafetyNumber, safetyNumber } from '../../node/identity/index.js'
import { concatBytes, utf8 } from '../../node/bytes.js'

const alice = deriveIdentity(new Uint8Array(16).fill(1))
const bob = deriveIdentity(new Uint8Array(16).fill(2))
const carol = deriveIdentity(new Uint8Array(32).fill(3))

describe('safety numbers', () => {
  it('are 60 digits, the same whichever side computes them', () => {
    const ab = safetyNumber(alice.sessionId, bob.sessionId)
    expect(ab).toMatch(/^\d{60}$/)
    expect(safetyNumber(bob.sessionId, alice.sessionId)).toBe(ab)
    expect(safetyNumber(alice.sessionId, carol.sessionId)).not.toBe(ab)
    expect(formatSafetyNumber(ab).split(' ')).toHaveLength(12)
  })

  it('match Signal\'s own numeric fingerprint (libsignal-client, 5200 iterations, version 0)', () => {
    for (const [a, b] of [[alice, bob], [bob, carol], [carol, alice]]) {
      const djb = (k: Uint8Array) => PublicKey.deserialize(concatBytes(Uint8Array.of(5), k) as Uint8Array<ArrayBuffer>)
      const signal = Fingerprint.new(5200, 0, utf8(a.sessionId) as Uint8Array<ArrayBuffer>, djb(a.dhPublicKey),
        utf8(b.sessionId) as Uint8Array<ArrayBuffer>, djb(b.dhPublicKey))
      expect(safetyNumber(a.sessionId, b.sessionId)).toBe(signal.displayableFingerprint().toString())
    }
  })
})

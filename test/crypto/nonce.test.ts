/**
 * R10: no (key, nonce) pair is ever used twice. Every AES-256-GCM encryption of a long
 * session (both directions, DH steps, skipped messages, envelopes) is recorded.
 */
import { describe, it, expect, vi } from 'vitest'

const seen = vi.hoisted(() => ({ pairs: new Set<string>(), count: 0 }))

vi.mock('../../node/crypto/primitives/aead.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../node/crypto/primitives/aead.js')>()
  return {
    ...orig,
    aeadEncrypt: (key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array) => {
      seen.pairs.add(Buffer.concat([key, nonce]).toString('hex'))
      seen.count++
      return orig.aeadEncrypt(key, nonce, pt, ad)
    }
  }
})

const { party, text, world } = await import('./helpers.js')

describe('nonces', () => {
  it('R10: every (key, nonce) pair of a long session is distinct (counter-derived keys, one message per key)', async () => {
    const w = world()
    const alice = await party(w, 'alice10')
    const bob = await party(w, 'bob10')
    for (let i = 0; i < 600; i++) {
      const [from, to] = i % 7 < 4 ? [alice, bob] : [bob, alice]
      if (i === 0) { await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('start'))); continue }
      const env = await from.manager.encrypt(to.sessionId, text(`m${i}`))
      if (i % 11 !== 0) await to.manager.decrypt(env) // some are dropped: skipped keys are used later or never
    }
    expect(seen.count).toBeGreaterThan(1000) // ratchet messages plus their envelopes
    expect(seen.pairs.size).toBe(seen.count)
  })
})

/** Sealed envelopes and padding: E1-E7. */
import { describe, it, expect } from 'vitest'
import { toHex } from '../../node/bytes.js'
import { PADDING_BUCKETS } from '../../node/crypto/constants.js'
import { pad, unpad } from '../../node/crypto/padding.js'
import { aeadEncrypt } from '../../node/crypto/primitives/aead.js'
import { ENVELOPE_OVERHEAD } from '../../node/crypto/sealed-sender.js'
import { seededRandom, systemRandom } from '../../node/crypto/random.js'
import { party, rejectsWith, reseal, str, text, unseal, world } from './helpers.js'

describe('sealed envelopes', () => {
  it('E1: the outer layer names no sender; a carrier learns only a padded size', async () => {
    const w = world()
    const alice = await party(w, 'alice-e1')
    const carol = await party(w, 'carol-e1')
    const bob = await party(w, 'bob-e1')
    const a = await alice.manager.encrypt(bob.sessionId, text('secret words'))
    const c = await carol.manager.encrypt(bob.sessionId, text('other words!'))
    for (const [env, sender] of [[a, alice], [c, carol]] as const) {
      const hex = toHex(env)
      expect(hex).not.toContain(toHex(sender.id.dhPublicKey))
      expect(hex).not.toContain(toHex(sender.id.signingPublicKey))
      expect(hex).not.toContain(toHex(bob.id.dhPublicKey))
      expect(Buffer.from(env).includes(Buffer.from('secret words'))).toBe(false)
      expect(env.length).toBe(PADDING_BUCKETS[0] + ENVELOPE_OVERHEAD)
    }
    expect(a.length).toBe(c.length)
  })

  it('E2: an envelope whose inner sender differs from the session peer is refused; nothing stored', async () => {
    const w = world()
    const alice = await party(w, 'alice-e2')
    const mallory = await party(w, 'mallory-e2')
    const bob = await party(w, 'bob-e2')
    for (const p of [alice, mallory]) {
      await bob.manager.decrypt(await p.manager.encrypt(bob.sessionId, text('hi')))
      await p.manager.decrypt(await bob.manager.encrypt(p.sessionId, text('hi')))
    }
    const inner = unseal(bob, await mallory.manager.encrypt(bob.sessionId, text('from "alice"')))
    inner.set(alice.id.dhPublicKey, 2)
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, inner)), 'ERR_DECRYPT')
    // (For initial messages the same mismatch is ERR_SENDER_MISMATCH: handshake.test.ts H4/H17.)
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('E3: an envelope sealed to another recipient fails to open, with a typed error', async () => {
    const w = world()
    const alice = await party(w, 'alice-e3')
    const bob = await party(w, 'bob-e3')
    const carol = await party(w, 'carol-e3')
    const env = await alice.manager.encrypt(carol.sessionId, text('for carol'))
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(env), 'ERR_ENVELOPE')
    expect(await bob.disk.snapshot()).toBe(before)
    expect(str((await carol.manager.decrypt(env)).plaintext)).toBe('for carol')
  })

  it('E4: plaintexts of lengths 0..N map to a small set of bucket sizes', async () => {
    const sizes = new Set<number>()
    for (let n = 0; n <= 40_000; n += 97) sizes.add(pad(new Uint8Array(n)).length)
    console.log('E4: padded sizes seen for plaintexts of 0..40000 bytes:', [...sizes].join(', '))
    expect([...sizes].every((s) => (PADDING_BUCKETS as readonly number[]).includes(s))).toBe(true)
    expect(sizes.size).toBeLessThanOrEqual(PADDING_BUCKETS.length)
    expect(unpad(pad(text('x')))).toEqual(text('x'))
    const w = world()
    const alice = await party(w, 'alice-e4')
    const bob = await party(w, 'bob-e4')
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('start')))
    const envSizes = new Set<number>()
    for (const n of [0, 1, 100, 1000, 1900, 2000, 5000, 20_000]) {
      const env = await alice.manager.encrypt(bob.sessionId, new Uint8Array(n))
      envSizes.add(env.length)
      expect((await bob.manager.decrypt(env)).plaintext.length).toBe(n)
    }
    console.log('E4: envelope sizes seen:', [...envSizes].join(', '))
    expect(envSizes.size).toBeLessThanOrEqual(4)
  })

  it('E6: every bit of an envelope flipped in turn gives a typed error, never a crash; bad padding = bad tag', async () => {
    const w = world()
    const alice = await party(w, 'alice-e6')
    const bob = await party(w, 'bob-e6')
    const env = await alice.manager.encrypt(bob.sessionId, text('bits'))
    const before = await bob.disk.snapshot()
    const codes = new Set<string>()
    for (let bit = 0; bit < env.length * 8; bit++) {
      const bad = env.slice(); bad[bit >> 3] ^= 1 << (bit & 7)
      const e = await bob.manager.decrypt(bad).then(() => undefined, (err: { code?: string }) => err)
      expect(e?.code).toMatch(/^ERR_/)
      codes.add(e?.code as string)
    }
    expect([...codes].sort()).toEqual(['ERR_ENVELOPE', 'ERR_UNKNOWN_VERSION'])
    expect(await bob.disk.snapshot()).toBe(before)
    // An envelope whose content is authentic but badly padded: the same error as a bad tag.
    const { X25519KeyPair } = await import('../../node/crypto/primitives/x25519.js')
    const { hkdfSha256 } = await import('../../node/crypto/primitives/kdf.js')
    const { SEALED_KDF_INFO } = await import('../../node/crypto/constants.js')
    const e = X25519KeyPair.generate(systemRandom)
    const shared = e.agree(bob.id.dhPublicKey)
    const km = hkdfSha256(shared, Buffer.concat([e.publicKey, bob.id.dhPublicKey]), SEALED_KDF_INFO, 44)
    const ad = Buffer.concat([Buffer.from([1, 5]), e.publicKey, Buffer.from([5]), bob.id.dhPublicKey])
    const unpadded = aeadEncrypt(km.subarray(0, 32), km.subarray(32), new Uint8Array(2048).fill(1), ad)
    await rejectsWith(async () => await bob.manager.decrypt(Buffer.concat([Buffer.from([1, 5]), e.publicKey, unpadded])), 'ERR_ENVELOPE')
    expect(str((await bob.manager.decrypt(env)).plaintext)).toBe('bits')
  })

  it('E7: texts, receipts, typing notices and initial messages all fall in the same size buckets', async () => {
    const w = world()
    const alice = await party(w, 'alice-e7')
    const bob = await party(w, 'bob-e7')
    const initial = await alice.manager.encrypt(bob.sessionId, text('{"t":"text","body":"hello, this is the first message"}'))
    await bob.manager.decrypt(initial)
    const reply = await bob.manager.encrypt(alice.sessionId, text('{"t":"receipt","id":"0123456789abcdef"}'))
    await alice.manager.decrypt(reply)
    const typing = await alice.manager.encrypt(bob.sessionId, text('{"t":"typing"}'))
    const textMsg = await alice.manager.encrypt(bob.sessionId, text('{"t":"text","body":"a normal message"}'))
    expect(new Set([initial.length, reply.length, typing.length, textMsg.length]).size).toBe(1)
  })
})

describe('redaction', () => {
  it('managers, ciphers, prekey stores and key pairs print no key material', async () => {
    const { inspect } = await import('node:util')
    const w = world()
    const alice = await party(w, 'alice-redact')
    const bob = await party(w, 'bob-redact')
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('x')))
    for (const obj of [alice.manager, alice.manager.cipher, alice.manager.prekeys, alice.manager.cipher.identity]) {
      const shown = inspect(obj, { depth: 10 }) + JSON.stringify(obj)
      expect(shown).toContain('redacted')
      expect(shown).not.toContain(toHex(alice.id.dhPrivateKey))
      expect(shown).not.toContain(toHex(alice.manager.cipher.identity.privateKeyBytes()))
    }
  })
})

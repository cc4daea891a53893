/** Sealed envelopes and padding: E1-E7. */
import { describe, it, expect, vi } from 'vitest'
import { gcm } from '@noble/ciphers/aes.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, toHex, utf8 } from '../../node/bytes.js'
import { PADDING_BUCKETS } from '../../node/crypto/constants.js'
import { pad, unpad } from '../../node/crypto/padding.js'
import { X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { ENVELOPE_OVERHEAD } from '../../node/crypto/sealed-sender.js'
import { junkRatchetMessage, keyPairOf, party, publish, rejectsWith, reseal, sealRaw, str, text, unseal, view, world, type Party, type World } from './helpers.js'
import { work } from './ratchet-work.js'

/** Ratchet work done while the test runs (ratchet-work.ts). */
vi.mock('../../node/crypto/ratchet/keys.js', async (importOriginal) => (await import('./ratchet-work.js')).countingKeys(await importOriginal()))

/** Bob holds `states` session states for Alice (she started over states - 1 times), all acknowledged. */
async function manyStates (w: World, alice: Party, bob: Party, states: number): Promise<void> {
  for (let i = 0; i < states; i++) {
    if (i > 0) await alice.manager.resetSession(bob.sessionId)
    await publish(w, bob)
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text(`session ${i}`)))
    await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text(`ack ${i}`)))
  }
}

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

  it('E2: an envelope naming a real contact as sender, not made with that contact\'s identity key, is refused before any ratchet work', async () => {
    const w = world()
    const alice = await party(w, 'alice-e2f')
    const mallory = await party(w, 'mallory-e2f')
    const bob = await party(w, 'bob-e2f')
    await manyStates(w, alice, bob, 6)
    // Mallory names Alice, with a fresh ratchet key and counters of 1,000: on the old format
    // every one of Bob's six states for Alice ran 2,000 KDF steps and two DHs on it.
    const forged = reseal(bob, view(0x02, alice.id.dhPublicKey, junkRatchetMessage(1000, 1000, 1024)), keyPairOf(mallory))
    const before = await bob.disk.snapshot()
    const dh = vi.spyOn(X25519KeyPair.prototype, 'agree')
    work.chainSteps = 0
    work.rootSteps = 0
    try {
      const refused = await bob.manager.decrypt(forged).then(() => undefined, (err: { code?: string }) => err.code)
      console.log(`E2: forged envelope refused (${refused}) after ${dh.mock.calls.length} X25519, ${work.rootSteps} KDF_RK, ${work.chainSteps} chain steps`)
      expect(refused).toBe('ERR_ENVELOPE')
      expect({ chainSteps: work.chainSteps, rootSteps: work.rootSteps }).toEqual({ chainSteps: 0, rootSteps: 0 })
      // The ephemeral layer's DH and the static layer's DH, nothing more.
      expect(dh.mock.calls.length).toBeLessThanOrEqual(2)
    } finally {
      dh.mockRestore()
    }
    expect(await bob.disk.snapshot()).toBe(before)
    // The same bytes sealed by Alice herself reach the session layer (and fail there, as junk).
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, view(0x02, alice.id.dhPublicKey, junkRatchetMessage(0, 0)))), 'ERR_DECRYPT')
    expect(str((await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('still here')))).plaintext)).toBe('still here')
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
    // An envelope whose layers are authentic (made by Alice) but whose content is badly padded: the same error as a bad tag.
    await rejectsWith(async () => await bob.manager.decrypt(sealRaw(bob.id.dhPublicKey, alice.id.dhPublicKey, keyPairOf(alice), new Uint8Array(2048).fill(1))), 'ERR_ENVELOPE')
    expect(str((await bob.manager.decrypt(env)).plaintext)).toBe('bits')
  })

  it('envelope version 2 is what docs/PROTOCOL.md §7.1 writes out, byte by byte (checked with @noble alone)', async () => {
    const w = world()
    const alice = await party(w, 'alice-format')
    const bob = await party(w, 'bob-format')
    const env = await alice.manager.encrypt(bob.sessionId, text('format'))
    const R = bob.id.dhPublicKey
    const S = alice.id.dhPublicKey
    expect(env[0]).toBe(0x02)
    expect(env[1]).toBe(0x05)
    const E = env.subarray(2, 34)
    const staticCt = env.subarray(34, 83)
    const eph = hkdf(sha256, x25519.getSharedSecret(bob.id.dhPrivateKey, E), concatBytes(Uint8Array.of(5), R, Uint8Array.of(5), E), utf8('Sotto_SealedSender_v2_Ephemeral'), 76)
    const claimed = gcm(eph.subarray(32, 64), eph.subarray(64, 76), concatBytes(env.subarray(0, 34), Uint8Array.of(5), R)).decrypt(staticCt)
    expect(toHex(claimed)).toBe('05' + toHex(S))
    const stat = hkdf(sha256, x25519.getSharedSecret(bob.id.dhPrivateKey, S), concatBytes(eph.subarray(0, 32), staticCt), utf8('Sotto_SealedSender_v2_Static'), 44)
    const padded = gcm(stat.subarray(0, 32), stat.subarray(32, 44), env.subarray(0, 83)).decrypt(env.subarray(83))
    expect(padded.length).toBe(PADDING_BUCKETS[0])
    const content = unpad(padded)
    expect(content[0]).toBe(0x01) // an initial message: kind, then the session message
    expect(env.length).toBe(34 + 49 + PADDING_BUCKETS[0] + 16)
    // And the reverse: an envelope written from the document opens in the manager.
    const reply = unseal(alice, await bob.manager.encrypt(alice.sessionId, text('from the document')))
    expect(str((await alice.manager.decrypt(reseal(alice, reply))).plaintext)).toBe('from the document')
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
  it('managers, ciphers, prekey stores, key pairs and the contacts cache print no key material', async () => {
    const { inspect } = await import('node:util')
    const w = world()
    const alice = await party(w, 'alice-redact')
    const bob = await party(w, 'bob-redact')
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('x')))
    const staticSecret = alice.manager.cipher.contacts.peek(bob.id.dhPublicKey)?.staticShared as Uint8Array
    expect(staticSecret).toBeDefined()
    for (const obj of [alice.manager, alice.manager.cipher, alice.manager.prekeys, alice.manager.cipher.identity, alice.manager.cipher.contacts]) {
      const shown = inspect(obj, { depth: 10 }) + JSON.stringify(obj)
      expect(shown).toContain('redacted')
      expect(shown).not.toContain(toHex(alice.id.dhPrivateKey))
      expect(shown).not.toContain(toHex(alice.manager.cipher.identity.privateKeyBytes()))
      expect(shown).not.toContain(toHex(staticSecret))
    }
  })
})

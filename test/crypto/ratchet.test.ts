/**
 * The Double Ratchet through the SessionManager and its store: R1-R9, R11-R14 (R10 in
 * nonce.test.ts). Adversarial cases assert the typed error and an unchanged store.
 */
import { describe, it, expect, vi } from 'vitest'
import fc from 'fast-check'
import { MAX_ARCHIVED_STATES, MAX_CACHED_SESSION_RECORDS, MAX_NEW_CHAIN_TRIALS, MAX_RECEIVER_CHAINS, MAX_SKIP, MAX_SKIP_WORK_PER_MESSAGE, MAX_SKIPPED_KEYS, SKIPPED_KEY_MAX_AGE_MS } from '../../node/crypto/constants.js'
import { X25519KeyPair } from '../../node/crypto/primitives/x25519.js'
import { systemRandom } from '../../node/crypto/random.js'
import { decodeSessionRecord } from '../../node/crypto/session-record.js'
import type { SessionManager } from '../../node/crypto/session-manager.js'
import { freshManager, INJECTED_CRASH, junkRatchetMessage, party, publish, rejectsWith, reseal, restart, str, text, unseal, view, world, type Party, type World } from './helpers.js'
import { work } from './ratchet-work.js'

/** Ratchet work done while the test runs (ratchet-work.ts). */
vi.mock('../../node/crypto/ratchet/keys.js', async (importOriginal) => (await import('./ratchet-work.js')).countingKeys(await importOriginal()))

/** The session records a manager holds in memory (its cache in front of the store). */
function cachedRecords (m: SessionManager): number {
  return (m as unknown as { records: Map<string, unknown> }).records.size
}

async function pair (tag = ''): Promise<{ w: World, alice: Party, bob: Party }> {
  const w = world()
  const alice = await party(w, `alice${tag}`)
  const bob = await party(w, `bob${tag}`)
  // Established and acknowledged both ways.
  await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('hello')))
  await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text('hi')))
  return { w, alice, bob }
}

async function record (p: Party, peer: string) {
  return decodeSessionRecord(await p.store.get(['session', peer]) as Uint8Array)
}

describe('Double Ratchet', () => {
  it('R1: any interleaving both ways, with reordering, drops and duplicates: every delivered message decrypts exactly once', async () => {
    let run = 0
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ op: fc.constantFrom('a', 'b', 'deliver', 'deliver', 'dup', 'drop', 'junk'), pick: fc.nat() }), { minLength: 5, maxLength: 40 }),
      async (ops) => {
        const { alice, bob } = await pair(`-r1-${run++}`)
        interface Flight { to: Party, env: Uint8Array, text: string, delivered: boolean }
        const flight: Flight[] = []
        const delivered: Flight[] = []
        let n = 0
        const deliver = async (f: Flight) => {
          const r = await f.to.manager.decrypt(f.env).then((x) => ({ ok: str(x.plaintext) }), (e: { code: string }) => ({ err: e.code }))
          if (f.delivered) expect(r).toEqual({ err: 'ERR_DUPLICATE_MESSAGE' })
          else expect(r).toEqual({ ok: f.text })
          f.delivered = true
        }
        for (const { op, pick } of ops) {
          if (op === 'a' || op === 'b') {
            const [from, to] = op === 'a' ? [alice, bob] : [bob, alice]
            const t = `${op}${n++}`
            flight.push({ to, env: await from.manager.encrypt(to.sessionId, text(t)), text: t, delivered: false })
          } else if (op === 'deliver' && flight.length > 0) {
            const f = flight.splice(pick % flight.length, 1)[0]
            await deliver(f)
            delivered.push(f)
          } else if (op === 'dup' && delivered.length > 0) {
            await deliver(delivered[pick % delivered.length])
          } else if (op === 'drop' && flight.length > 0) {
            flight.splice(pick % flight.length, 1)
          } else if (op === 'junk') {
            // Nothing else decrypts: random bytes and a re-sealed garbage message.
            const to = pick % 2 === 0 ? alice : bob
            await expect(to.manager.decrypt(new Uint8Array(2098).fill(pick & 0xff))).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) })
          }
        }
        // Everything still in flight arrives in the end, in any order.
        for (const f of flight) await deliver(f)
      }), { numRuns: Number(process.env.R1_RUNS ?? 12) })
  })

  it('R2: a message more than MAX_SKIP ahead is refused without storing skipped keys', async () => {
    const { alice, bob } = await pair()
    let last: Uint8Array = new Uint8Array()
    for (let i = 0; i <= MAX_SKIP + 1; i++) last = await alice.manager.encrypt(bob.sessionId, text(`m${i}`))
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(last), 'ERR_TOO_FAR_AHEAD')
    expect(await bob.disk.snapshot()).toBe(before)
  })

  it('R2/R13: the skipped-key store has a global cap; the oldest keys are evicted first', async () => {
    const { alice, bob } = await pair()
    const firsts: Uint8Array[] = []
    for (let round = 0; round < 3; round++) {
      const sent: Uint8Array[] = []
      for (let i = 0; i < 900; i++) sent.push(await alice.manager.encrypt(bob.sessionId, text(`r${round}m${i}`)))
      firsts.push(sent[0])
      await bob.manager.decrypt(sent[sent.length - 1]) // 899 skipped
      await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text('step'))) // DH step
      bob.clock.now += 1000
    }
    const r = await record(bob, alice.sessionId)
    const skipped = r.current?.ratchet.skipped.length ?? 0
    expect(skipped).toBe(MAX_SKIPPED_KEYS)
    // The first round's oldest key was evicted; the last round's keys are still there.
    await rejectsWith(async () => await bob.manager.decrypt(firsts[0]), 'ERR_DUPLICATE_MESSAGE')
    expect(str((await bob.manager.decrypt(firsts[2])).plaintext)).toBe('r2m0')
  })

  it('R2: one envelope from a genuine contact costs a bounded number of KDF and DH steps before its AEAD check, however many states the contact has', async () => {
    const w = world()
    const alice = await party(w, 'alice-r2w')
    const bob = await party(w, 'bob-r2w')
    for (let i = 0; i < 1 + MAX_ARCHIVED_STATES; i++) {
      if (i > 0) await alice.manager.resetSession(bob.sessionId)
      await publish(w, bob)
      await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text(`session ${i}`)))
      await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text(`ack ${i}`)))
    }
    const r = await record(bob, alice.sessionId)
    expect(1 + r.archived.length).toBe(1 + MAX_ARCHIVED_STATES)
    // Alice herself (her identity key seals it) sends a fresh ratchet key with PN = N = MAX_SKIP.
    const costly = reseal(bob, view(0x02, alice.id.dhPublicKey, junkRatchetMessage(MAX_SKIP, MAX_SKIP, 1024)))
    const before = await bob.disk.snapshot()
    const dh = vi.spyOn(X25519KeyPair.prototype, 'agree')
    work.chainSteps = 0
    work.rootSteps = 0
    try {
      const refused = await bob.manager.decrypt(costly).then(() => undefined, (err: { code?: string }) => err.code)
      console.log(`R2: a junk message (${refused}) from a genuine contact with ${1 + r.archived.length} states cost ${dh.mock.calls.length} X25519, ${work.rootSteps} KDF_RK, ${work.chainSteps} chain steps`)
      expect(refused).toBe('ERR_DECRYPT')
      // Per state tried: one KDF_CK for the message key beyond the skipped ones. The counter
      // does count (the message was tried at all), so the bound below can fail.
      expect(work.chainSteps).toBeGreaterThan(0)
      expect(work.rootSteps).toBeGreaterThan(0)
      expect(work.chainSteps).toBeLessThanOrEqual(MAX_SKIP_WORK_PER_MESSAGE + MAX_NEW_CHAIN_TRIALS)
      expect(work.rootSteps).toBeLessThanOrEqual(MAX_NEW_CHAIN_TRIALS)
      // Two for the envelope's layers, one per state tried; no new ratchet key pair is made.
      expect(dh.mock.calls.length).toBeLessThanOrEqual(2 + MAX_NEW_CHAIN_TRIALS)
    } finally {
      dh.mockRestore()
    }
    expect(await bob.disk.snapshot()).toBe(before)
    // A genuine message that skips as far still opens (its skipped keys are kept), and so does the rest.
    const sent: Uint8Array[] = []
    for (let i = 0; i <= MAX_SKIP; i++) sent.push(await alice.manager.encrypt(bob.sessionId, text(`m${i}`)))
    expect((await bob.manager.decrypt(sent[MAX_SKIP])).missing).toBe(MAX_SKIP)
    expect(str((await bob.manager.decrypt(sent[7])).plaintext)).toBe('m7')
  })

  it('R3: a bit flipped in header, ciphertext or tag fails and leaves the state unchanged', async () => {
    const { alice, bob } = await pair()
    const env = await alice.manager.encrypt(bob.sessionId, text('flip me'))
    const inner = unseal(bob, env)
    const before = await bob.disk.snapshot()
    for (let at = 34; at < inner.length; at += (at < 34 + 43 ? 1 : 5)) {
      const bad = inner.slice(); bad[at] ^= 0x04
      const e = await bob.manager.decrypt(reseal(bob, bad)).catch((err: { code: string }) => err)
      expect((e as { code: string }).code).toMatch(/^ERR_(DECRYPT|DECODE|UNKNOWN_VERSION|NONCANONICAL_KEY|LOW_ORDER_KEY|BAD_KEY|TOO_FAR_AHEAD|DUPLICATE_MESSAGE)$/)
    }
    expect(await bob.disk.snapshot()).toBe(before)
    expect(str((await bob.manager.decrypt(env)).plaintext)).toBe('flip me')
  })

  it('R4: a replayed message is refused and does not advance or corrupt the state', async () => {
    const { alice, bob } = await pair()
    const m1 = await alice.manager.encrypt(bob.sessionId, text('one'))
    await bob.manager.decrypt(m1)
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(m1), 'ERR_DUPLICATE_MESSAGE')
    expect(await bob.disk.snapshot()).toBe(before)
    expect(str((await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('two')))).plaintext)).toBe('two')
  })

  it('R5: forward secrecy: a copy of Alice\'s current state decrypts no earlier message', async () => {
    const { w, alice, bob } = await pair()
    const earlier: Uint8Array[] = []
    for (let i = 0; i < 3; i++) {
      const e = await bob.manager.encrypt(alice.sessionId, text(`secret ${i}`))
      earlier.push(e)
      await alice.manager.decrypt(e)
    }
    const stolen = freshManager(alice, w, (await alice.disk.copy()).open())
    for (const e of earlier) await rejectsWith(async () => await stolen.decrypt(e), 'ERR_DUPLICATE_MESSAGE')
    // No message key of those messages is in the stolen bytes: the state holds no skipped keys.
    expect((await record(alice, bob.sessionId)).current?.ratchet.skipped.length).toBe(0)
  })

  it('R6: healing: after one round trip of DH ratchet steps, a copied state decrypts nothing new', async () => {
    const { w, alice, bob } = await pair()
    const stolen = freshManager(alice, w, (await alice.disk.copy()).open())
    // Until a ratchet key made after the copy is used, the copy reads along (that is the compromise).
    const leaked = await bob.manager.encrypt(alice.sessionId, text('leaked'))
    expect(str((await stolen.decrypt(leaked)).plaintext)).toBe('leaked')
    await alice.manager.decrypt(leaked)
    // One round trip of DH steps: Alice answers, Bob ratchets (new key), Alice ratchets (new key),
    // and Bob's next message is under a DH with a key the copy never had.
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('reply')))
    const step = await bob.manager.encrypt(alice.sessionId, text('bob steps'))
    await alice.manager.decrypt(step)
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('alice steps')))
    const healed = await bob.manager.encrypt(alice.sessionId, text('healed'))
    expect(str((await alice.manager.decrypt(healed)).plaintext)).toBe('healed')
    await stolen.decrypt(step).catch(() => undefined) // the copy follows as far as it can
    await expect(stolen.decrypt(healed)).rejects.toMatchObject({ code: 'ERR_DECRYPT' })
    // A copy that never saw the intermediate messages fails as well.
    await expect(freshManager(alice, w, (await alice.disk.copy()).open()).decrypt(healed)).rejects.toMatchObject({ code: 'ERR_DUPLICATE_MESSAGE' })
  })

  it('R7: message keys are deleted after use; skipped keys expire by count (R2) and by age', async () => {
    const { alice, bob } = await pair()
    const m1 = await alice.manager.encrypt(bob.sessionId, text('late'))
    const m2 = await alice.manager.encrypt(bob.sessionId, text('now'))
    await bob.manager.decrypt(m2)
    expect((await record(bob, alice.sessionId)).current?.ratchet.skipped.length).toBe(1)
    bob.clock.now += SKIPPED_KEY_MAX_AGE_MS + 1
    await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('much later')))
    expect((await record(bob, alice.sessionId)).current?.ratchet.skipped.length).toBe(0)
    await rejectsWith(async () => await bob.manager.decrypt(m1), 'ERR_DUPLICATE_MESSAGE')
  })

  it('R8: a message for another session fails cleanly, and the right session is still usable', async () => {
    const w = world()
    const alice = await party(w, 'alice8')
    const bob = await party(w, 'bob8')
    const carol = await party(w, 'carol8')
    for (const p of [alice, carol]) {
      await bob.manager.decrypt(await p.manager.encrypt(bob.sessionId, text('hi')))
      await p.manager.decrypt(await bob.manager.encrypt(p.sessionId, text('hi')))
    }
    const fromAlice = await alice.manager.encrypt(bob.sessionId, text('for bob, from alice'))
    const inner = unseal(bob, fromAlice)
    inner.set(carol.id.dhPublicKey, 2) // presented as Carol's
    const before = await bob.disk.snapshot()
    await rejectsWith(async () => await bob.manager.decrypt(reseal(bob, inner)), 'ERR_DECRYPT')
    expect(await bob.disk.snapshot()).toBe(before)
    expect(str((await bob.manager.decrypt(await carol.manager.encrypt(bob.sessionId, text('carol ok')))).plaintext)).toBe('carol ok')
    expect(str((await bob.manager.decrypt(fromAlice)).plaintext)).toBe('for bob, from alice')
    // An archived session: after Alice starts over, a message of the old session still fails cleanly or opens once.
    const old = await alice.manager.encrypt(bob.sessionId, text('old session'))
    await alice.manager.resetSession(bob.sessionId)
    await publish(w, bob)
    expect(str((await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('new session')))).plaintext)).toBe('new session')
    expect(str((await bob.manager.decrypt(old)).plaintext)).toBe('old session')
    await rejectsWith(async () => await bob.manager.decrypt(old), 'ERR_DUPLICATE_MESSAGE')
  })

  it('R9: a crash between decrypt and commit leaves the message decryptable later, exactly once', async () => {
    const w = world()
    const alice = await party(w, 'alice9')
    const bob = await party(w, 'bob9')
    const init = await alice.manager.encrypt(bob.sessionId, text('first'))
    const before = await bob.disk.snapshot()
    bob.disk.failNextBatch = true
    let committed = 0
    await expect(bob.manager.decrypt(init, { commit: () => { committed++; return [{ type: 'put', key: ['msg', 'x'], value: text('stored') }] } })).rejects.toMatchObject({ code: INJECTED_CRASH })
    expect(await bob.disk.snapshot()).toBe(before) // the one-time prekey is still there, no message stored
    // What a restart would load (a copy of the data as it is now, nothing cached) decrypts it once ...
    const afterRestart = await freshManager(bob, w, (await bob.disk.copy()).open()).decrypt(init)
    expect(str(afterRestart.plaintext)).toBe('first')
    // ... and in the same process too: the cache did not run ahead of the store.
    const again = await bob.manager.decrypt(init, { commit: () => [{ type: 'put', key: ['msg', 'x'], value: text('stored') }] })
    expect(str(again.plaintext)).toBe('first')
    expect(await bob.store.get(['msg', 'x'])).toEqual(text('stored'))
    expect(committed).toBe(1)
    await rejectsWith(async () => await bob.manager.decrypt(init), 'ERR_DUPLICATE_MESSAGE')
    await rejectsWith(async () => await (await restart(bob, w)).decrypt(init), 'ERR_DUPLICATE_MESSAGE')
    // A failed encrypt batch returns no envelope and reuses nothing: the next one decrypts.
    alice.disk.failNextBatch = true
    await expect(alice.manager.encrypt(bob.sessionId, text('lost'))).rejects.toMatchObject({ code: INJECTED_CRASH })
    expect(str((await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('kept')))).plaintext)).toBe('kept')
  })

  it('R11: Alice\'s own message reflected back to her fails', async () => {
    const { alice, bob } = await pair()
    const env = await alice.manager.encrypt(bob.sessionId, text('mine'))
    const inner = unseal(bob, env)
    const asFromBob = inner.slice(); asFromBob.set(bob.id.dhPublicKey, 2)
    const before = await alice.disk.snapshot()
    await rejectsWith(async () => await alice.manager.decrypt(reseal(alice, asFromBob)), 'ERR_DECRYPT')
    await rejectsWith(async () => await alice.manager.decrypt(reseal(alice, inner)), 'ERR_DECRYPT')
    await rejectsWith(async () => await alice.manager.decrypt(env), 'ERR_ENVELOPE')
    expect(await alice.disk.snapshot()).toBe(before)
  })

  it('R12: a dropped message leaves a gap the receiver can see; the rest decrypt', async () => {
    const { alice, bob } = await pair()
    const m = [] as Uint8Array[]
    for (let i = 0; i < 4; i++) m.push(await alice.manager.encrypt(bob.sessionId, text(`m${i}`)))
    expect((await bob.manager.decrypt(m[0])).missing).toBe(0)
    const r = await bob.manager.decrypt(m[2])
    expect(r.missing).toBe(1)
    expect((await bob.manager.decrypt(m[3])).missing).toBe(1)
    expect((await bob.manager.decrypt(m[1])).missing).toBe(0)
  })

  it('R13: memory stays bounded with many receiver chains, archived sessions and random resets', async () => {
    const w = world()
    const alice = await party(w, 'alice13')
    const bob = await party(w, 'bob13')
    for (let round = 0; round < 12; round++) {
      if (round % 3 === 2) {
        await alice.manager.resetSession(bob.sessionId)
        await publish(w, bob)
      }
      const e = await alice.manager.encrypt(bob.sessionId, text(`x${round}`))
      await alice.manager.encrypt(bob.sessionId, text('dropped'))
      await bob.manager.decrypt(e)
      await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text('y')))
    }
    const r = await record(bob, alice.sessionId)
    expect(r.archived.length).toBeLessThanOrEqual(MAX_ARCHIVED_STATES)
    for (const s of [r.current, ...r.archived]) {
      expect(s?.ratchet.receiverChains.length).toBeLessThanOrEqual(MAX_RECEIVER_CHAINS)
    }
    expect((await bob.store.get(['session', alice.sessionId]))?.length).toBeLessThan(20_000)
  })

  it('R13: 10,000 junk senders leave the session cache at its bound; a real contact still works', async () => {
    const { alice, bob } = await pair('-r13c')
    const junk = 10_000
    for (let i = 0; i < junk; i++) {
      // Each a sender of its own (anyone can make identity keys), with a message for no session.
      const sender = X25519KeyPair.generate(systemRandom)
      const env = reseal(bob, view(0x02, sender.publicKey, junkRatchetMessage(0, 0)), sender)
      await expect(bob.manager.decrypt(env)).rejects.toMatchObject({ code: 'ERR_NO_SESSION' })
    }
    console.log(`R13: ${cachedRecords(bob.manager)} session records cached after ${junk} junk senders (bound ${MAX_CACHED_SESSION_RECORDS})`)
    expect(cachedRecords(bob.manager)).toBeLessThanOrEqual(MAX_CACHED_SESSION_RECORDS)
    expect(str((await bob.manager.decrypt(await alice.manager.encrypt(bob.sessionId, text('still me')))).plaintext)).toBe('still me')
    expect(str((await alice.manager.decrypt(await bob.manager.encrypt(alice.sessionId, text('and me')))).plaintext)).toBe('and me')
  })

  it('R13: the session cache evicts the least recently used record; an evicted contact reloads from the store, exactly once per message', async () => {
    const w = world()
    const bound = 4
    const bob = await party(w, 'bob-r13-lru', { maxCachedSessions: bound })
    const contacts: Party[] = []
    const late: Uint8Array[] = []
    for (let i = 0; i < 3 * bound; i++) {
      const c = await party(w, `contact-r13-lru-${i}`)
      contacts.push(c)
      await bob.manager.decrypt(await c.manager.encrypt(bob.sessionId, text('hi')))
      await c.manager.decrypt(await bob.manager.encrypt(c.sessionId, text('hi')))
      const a = await c.manager.encrypt(bob.sessionId, text(`early ${i}`))
      late.push(await c.manager.encrypt(bob.sessionId, text(`late ${i}`)))
      await bob.manager.decrypt(a)
      expect(cachedRecords(bob.manager)).toBeLessThanOrEqual(bound)
    }
    // The first contacts were evicted long ago: their records come back from the store intact.
    for (let i = 0; i < contacts.length; i++) {
      expect(str((await bob.manager.decrypt(late[i])).plaintext)).toBe(`late ${i}`)
      await rejectsWith(async () => await bob.manager.decrypt(late[i]), 'ERR_DUPLICATE_MESSAGE')
      expect(cachedRecords(bob.manager)).toBeLessThanOrEqual(bound)
    }
    expect(str((await bob.manager.decrypt(await contacts[0].manager.encrypt(bob.sessionId, text('back')))).plaintext)).toBe('back')
  })

  it('R14: a replay after a restart (store closed, reopened on the same KV and data key) is still refused', async () => {
    const { w, alice, bob } = await pair()
    const m = await alice.manager.encrypt(bob.sessionId, text('once'))
    await bob.manager.decrypt(m)
    const reopened = await restart(bob, w)
    await rejectsWith(async () => await reopened.decrypt(m), 'ERR_DUPLICATE_MESSAGE')
    expect(str((await reopened.decrypt(await alice.manager.encrypt(bob.sessionId, text('after restart')))).plaintext)).toBe('after restart')
  })

  // Fails today: a restored older copy holds the older ratchet state, and nothing tells it
  // apart from the current one. Needs rollback detection (checklist L7, a monotonic epoch).
  it.fails('R14/L7: a replay after the data folder is restored from a copy taken before the message arrived is refused', async () => {
    const { w, alice, bob } = await pair()
    const m = await alice.manager.encrypt(bob.sessionId, text('once'))
    const backup = await bob.disk.copy()
    await bob.manager.decrypt(m)
    await bob.store.close()
    const restored = freshManager(bob, w, backup.open())
    await rejectsWith(async () => await restored.decrypt(m), 'ERR_DUPLICATE_MESSAGE')
  })
})


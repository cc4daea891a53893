/**
 * Frozen known answers: no public PQXDH or Double Ratchet vectors exist, so a whole
 * conversation is run with seeded random sources and a fixed clock, and the SHA-256 of every
 * byte that crosses the wire (bundles and envelopes) is frozen here. A change to any KDF,
 * info string, encoding or padding changes these digests; change them only with a protocol
 * version bump and a note in docs/PROTOCOL.md.
 */
import { describe, it, expect } from 'vitest'
import { sha256 } from '@noble/hashes/sha2.js'
import { concatBytes, toHex, utf8 } from '../../node/bytes.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { pqxdhKdf } from '../../node/crypto/pqxdh.js'
import { kdfCk, kdfRk, messageKeyMaterial } from '../../node/crypto/ratchet/keys.js'
import { party, str, text, world } from './helpers.js'

describe('known answers (seeded)', () => {
  it('KDFs with fixed inputs', () => {
    const k = new Uint8Array(32).fill(0x11)
    const dh = new Uint8Array(32).fill(0x22)
    // PQXDH §2.2 stated independently: HKDF(salt = 0^32, ikm = 0xFF^32 || KM, info).
    expect(toHex(pqxdhKdf([dh, dh, dh, k]))).toBe(toHex(hkdf(nobleSha256, concatBytes(new Uint8Array(32).fill(0xff), dh, dh, dh, k), new Uint8Array(32), utf8('Sotto_CURVE25519_SHA-256_ML-KEM-1024'), 32)))
    expect(toHex(pqxdhKdf([dh, dh, dh, k]))).toMatchInlineSnapshot(`"8811b206872defb429bf50513f098f3bfca16131971edd0262c080215a1f894a"`)
    const rk = kdfRk(k, dh)
    expect(toHex(rk.rootKey) + toHex(rk.chainKey)).toMatchInlineSnapshot(`"ef2f8877b356a668a77ae9c05fdd64c98cc520fdf887a764b33b9ebc342209bf579e8d3907874007acd264d74f3fdf602b87bafe27e1f085874a1ae02e9925cc"`)
    const ck = kdfCk(k)
    expect(toHex(ck.chainKey) + toHex(ck.messageKey)).toMatchInlineSnapshot(`"ed50b271f4852277c8218e209858d8bd32a3228a9e4fb6b5a16fb9b4755c53bcc4ede064b5f2a51225b2175e5b84fb73f9cec689ac3d912ac4878f7ebeab0149"`)
    const mk = messageKeyMaterial(k)
    expect(toHex(mk.key) + toHex(mk.nonce)).toMatchInlineSnapshot(`"4c601ea80beeb9fc33591e106d055934b624c111f683366b5b005ec88799b9324816aef41334c0213dc2a496"`)
  })

  it('a seeded conversation gives the same wire bytes on every run', async () => {
    const w = world()
    const alice = await party(w, 'kat-alice')
    const bob = await party(w, 'kat-bob')
    const h = sha256.create()
    // The bundle lists one-time prekeys as the store yields them (ids ascending), so this digest
    // also depends on the store keeping its ordering contract (numbers sort numerically).
    h.update(w.bundles.get(bob.sessionId) as Uint8Array)
    const script: Array<['a' | 'b', string]> = [['a', 'hello bob'], ['a', 'are you there?'], ['b', 'hi alice'], ['a', 'good'], ['b', 'bye']]
    for (const [who, msg] of script) {
      const [from, to] = who === 'a' ? [alice, bob] : [bob, alice]
      const env = await from.manager.encrypt(to.sessionId, text(msg))
      h.update(env)
      const r = await to.manager.decrypt(env)
      expect(str(r.plaintext)).toBe(msg)
      h.update(text(r.messageId))
    }
    expect(toHex(h.digest())).toMatchInlineSnapshot(`"36f30249a1f155704a5ba1385d8e8325e4e09eebc0634f1b83e595e72bde8c81"`)
  })
})

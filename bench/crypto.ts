/**
 * `npm run bench:crypto [-- --json] [-- --quick]`: Sotto's session crypto against
 * @signalapp/libsignal-client (Signal's Rust library), in the same run on the same machine.
 *
 * Figures (sustained throughput: operations over wall time, GC included; each figure is the
 * median of 3 runs of at least 3 s, or 1 s with --quick):
 *   setupPerSec     bundle -> first message -> decrypted (both states stored)
 *   msgPerSec       1 KiB messages one way, encrypted + decrypted, both states stored after each
 *   pingPongPerSec  1 KiB messages alternating direction: every message steps the DH ratchet
 * and the same three for libsignal (its in-memory stores keep serialised records, so it
 * serialises and deserialises its session state on every message, as Sotto serialises its own).
 * repeatSetupPerSec is setupPerSec where Alice remembers bundles she verified (bundle-cache.ts;
 * 4 Alices, so all but 4 of the ~100 setups from each bundle skip the signatures, the clock
 * checks run every time): Sotto only, compared with nothing, since libsignal verifies every time.
 * The comparable Sotto figures are the session layer (libsignal's SessionBuilder/SessionCipher
 * do no sealed sender); `sealed*` adds Sotto's sealed, padded envelope (one more ephemeral
 * X25519 ECIES per message) through the full SessionManager. See bench/lib/sotto.ts.
 * setupPerSec verifies Bob's bundle on every setup (bundle.ts parseBundle, as libsignal's
 * process_prekey_bundle does); sealedSetupPerSec goes through SessionManager, whose
 * verified-bundle cache (crypto/bundle-cache.ts) skips the three Ed25519 verifies and the ML-KEM
 * key import when an Alice sees the same bundle bytes again (about a third of its setups here,
 * 64 Alices against a bundle re-signed every 100 setups); the expiry checks run every time.
 *
 * Refusal cost (E2, R2), per envelope, Bob holding 1 + MAX_ARCHIVED_STATES session states for
 * Alice, median of 3 interleaved rounds:
 *   genuineOpenMs   Bob opens and commits a 1 KiB message from Alice
 *   forgedRejectMs  Bob refuses an envelope Mallory made naming Alice, with a fresh ratchet
 *                   key and PN = N = MAX_SKIP (the static layer fails: no session work)
 *   contactJunkMs   the same junk sealed by Alice herself (her key proves the sender, so the
 *                   session layer runs, within MAX_SKIP_WORK_PER_MESSAGE and MAX_NEW_CHAIN_TRIALS)
 *   genuineSkipMs   Bob opens a genuine message MAX_SKIP ahead in its chain (from Carol, whose
 *                   record is apart from Alice's): the costliest message that opens
 *
 * Store seal (the sealed store's value AEAD, XChaCha20-Poly1305, seal + open per op), for a
 * small record and a 64 KiB attachment chunk: node:crypto (crypto/primitives/xchacha.ts, what
 * the store runs) beside @noble/ciphers' xchacha20poly1305 (the reference):
 *   storeSeal{Small,Chunk}PerSec, nobleStoreSeal{Small,Chunk}PerSec
 */
import { randomBytes } from 'node:crypto'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { concatBytes } from '../node/bytes.js'
import { ENVELOPE_VERSION, KEY_TYPE_X25519, MAX_ARCHIVED_STATES, MAX_SKIP, SEALED_EPHEMERAL_INFO, SEALED_STATIC_INFO } from '../node/crypto/constants.js'
import { pad } from '../node/crypto/padding.js'
import { aeadEncrypt } from '../node/crypto/primitives/aead.js'
import { xchachaOpen, xchachaSeal } from '../node/crypto/primitives/xchacha.js'
import { hkdfSha256 } from '../node/crypto/primitives/kdf.js'
import { X25519KeyPair } from '../node/crypto/primitives/x25519.js'
import { seededRandom, systemRandom } from '../node/crypto/random.js'
import { encodeHeader } from '../node/crypto/ratchet/message.js'
import { encodeContent, sealEnvelope } from '../node/crypto/sealed-sender.js'
import { SessionManager } from '../node/crypto/session-manager.js'
import { deriveIdentity } from '../node/identity/keys.js'
import { libsignalBench } from './lib/libsignal.js'
import { MapStore } from './lib/map-store.js'
import { sottoBench } from './lib/sotto.js'
import { fmt, median, sustained, wantsJson } from './lib/measure.js'

/**
 * An envelope (PROTOCOL.md §7.1) whose static layer names `claimed` but is keyed by
 * X25519(`staticKey`, R): what a forger who does not hold the claimed key can make.
 */
function sealNaming (claimed: Uint8Array, staticKey: X25519KeyPair, recipient: Uint8Array, content: Uint8Array): Uint8Array {
  const e = X25519KeyPair.generate(systemRandom)
  const head = concatBytes(Uint8Array.of(ENVELOPE_VERSION, KEY_TYPE_X25519), e.publicKey)
  const eph = hkdfSha256(e.agree(recipient), concatBytes(Uint8Array.of(KEY_TYPE_X25519), recipient, Uint8Array.of(KEY_TYPE_X25519), e.publicKey), SEALED_EPHEMERAL_INFO, 76)
  const staticCt = aeadEncrypt(eph.subarray(32, 64), eph.subarray(64, 76), concatBytes(Uint8Array.of(KEY_TYPE_X25519), claimed), concatBytes(head, Uint8Array.of(KEY_TYPE_X25519), recipient))
  const stat = hkdfSha256(staticKey.agree(recipient), concatBytes(eph.subarray(0, 32), staticCt), SEALED_STATIC_INFO, 44)
  return concatBytes(head, staticCt, aeadEncrypt(stat.subarray(0, 32), stat.subarray(32, 44), pad(content), concatBytes(head, staticCt)))
}

/** A ratchet message (kind 0x02) under a fresh ratchet key, PN = N = MAX_SKIP, 1 KiB of random body: it opens nowhere. */
function junkContent (): Uint8Array {
  const rk = X25519KeyPair.generate(systemRandom).publicKey
  return encodeContent({ kind: 0x02, message: concatBytes(encodeHeader(rk, MAX_SKIP, MAX_SKIP), systemRandom(1024 + 16)) })
}

async function refusalCost (rounds: number): Promise<{ genuineOpenMs: number, forgedRejectMs: number, contactJunkMs: number, genuineSkipMs: number, states: number }> {
  const r = seededRandom('bench-refusal')
  const [aliceId, bobId, malloryId, carolId] = [deriveIdentity(r(32)), deriveIdentity(r(32)), deriveIdentity(r(32)), deriveIdentity(r(32))]
  let bundle: Uint8Array | undefined
  const alice = new SessionManager({ identity: aliceId, store: new MapStore(), fetchBundle: async () => bundle })
  const carol = new SessionManager({ identity: carolId, store: new MapStore(), fetchBundle: async () => bundle })
  const bob = new SessionManager({ identity: bobId, store: new MapStore(), fetchBundle: async () => undefined })
  const kib = new Uint8Array(1024).fill(0x62)
  const states = 1 + MAX_ARCHIVED_STATES
  for (let i = 0; i < states; i++) {
    if (i > 0) await alice.resetSession(bobId.sessionId)
    bundle = await bob.buildBundle()
    await bob.decrypt(await alice.encrypt(bobId.sessionId, kib))
    await alice.decrypt(await bob.encrypt(aliceId.sessionId, kib))
  }
  bundle = await bob.buildBundle()
  await bob.decrypt(await carol.encrypt(bobId.sessionId, kib))
  await carol.decrypt(await bob.encrypt(carolId.sessionId, kib))
  const aliceKey = X25519KeyPair.fromPrivateKey(aliceId.dhPrivateKey)
  const malloryKey = X25519KeyPair.fromPrivateKey(malloryId.dhPrivateKey)
  const perOp = async (n: number, make: () => Promise<Uint8Array> | Uint8Array, opens: boolean): Promise<number> => {
    const envelopes: Uint8Array[] = []
    for (let i = 0; i < n; i++) envelopes.push(await make())
    const t = performance.now()
    for (const e of envelopes) {
      const ok = await bob.decrypt(e).then(() => true, () => false)
      if (ok !== opens) throw new Error('refusal bench: unexpected outcome')
    }
    return (performance.now() - t) / n
  }
  const genuine = async (): Promise<Uint8Array> => await alice.encrypt(bobId.sessionId, kib)
  const forged = (): Uint8Array => sealNaming(aliceId.dhPublicKey, malloryKey, bobId.dhPublicKey, junkContent())
  const contactJunk = (): Uint8Array => sealEnvelope(aliceKey, bobId.dhPublicKey, junkContent(), systemRandom)
  const skipping = async (): Promise<Uint8Array> => {
    for (let i = 0; i < MAX_SKIP; i++) await carol.encrypt(bobId.sessionId, kib)
    return await carol.encrypt(bobId.sessionId, kib)
  }
  await perOp(20, genuine, true)
  await perOp(20, forged, false)
  await perOp(5, contactJunk, false)
  await perOp(2, skipping, true)
  const g: number[] = []; const f: number[] = []; const c: number[] = []; const k: number[] = []
  for (let i = 0; i < rounds; i++) {
    g.push(await perOp(300, genuine, true))
    f.push(await perOp(300, forged, false))
    c.push(await perOp(30, contactJunk, false))
    k.push(await perOp(10, skipping, true))
  }
  return { genuineOpenMs: median(g), forgedRejectMs: median(f), contactJunkMs: median(c), genuineSkipMs: median(k), states }
}

const quick = process.argv.includes('--quick')
const RUN_MS = quick ? 1000 : 3000
const RUNS = 3

async function measure (op: () => Promise<void> | void): Promise<number> {
  const rates: number[] = []
  for (let i = 0; i < RUNS; i++) rates.push(await sustained(op, RUN_MS))
  return median(rates)
}

/** Seal + open of one value of `size` bytes, as the sealed store does it, both ways. */
function storeSealOps (size: number): { native: () => void, noble: () => void } {
  const key = randomBytes(32)
  const value = randomBytes(size)
  const ad = randomBytes(40)
  const fail = () => new Error('bench: open failed')
  return {
    native: () => {
      const nonce = randomBytes(24)
      xchachaOpen(key, nonce, xchachaSeal(key, nonce, value, ad), ad, fail)
    },
    noble: () => {
      const nonce = randomBytes(24)
      const c = xchacha20poly1305(key, nonce, ad)
      xchacha20poly1305(key, nonce, ad).decrypt(c.encrypt(value))
    }
  }
}

async function main (): Promise<void> {
  const json = wantsJson()
  const log = (line: string) => { if (!json) console.log(line) }
  log(`bench:crypto — ${RUNS} runs of >= ${RUN_MS / 1000} s per figure, median; Node ${process.version}`)
  const sotto = await sottoBench()
  const signal = await libsignalBench()
  const r: Record<string, number> = {}
  // Interleaved, so a slow phase of the machine hits both sides alike.
  r.libsignalSetupPerSec = await measure(signal.setup)
  r.setupPerSec = await measure(sotto.setup)
  r.repeatSetupPerSec = await measure(sotto.repeatSetup)
  r.libsignalMsgPerSec = await measure(signal.oneWay)
  r.msgPerSec = await measure(sotto.oneWay)
  r.libsignalPingPongPerSec = await measure(signal.pingPong)
  r.pingPongPerSec = await measure(sotto.pingPong)
  r.sealedSetupPerSec = await measure(sotto.sealedSetup)
  r.sealedMsgPerSec = await measure(sotto.sealedOneWay)
  r.sealedPingPongPerSec = await measure(sotto.sealedPingPong)
  const small = storeSealOps(200)
  const chunk = storeSealOps(64 * 1024)
  r.nobleStoreSealSmallPerSec = await measure(small.noble)
  r.storeSealSmallPerSec = await measure(small.native)
  r.nobleStoreSealChunkPerSec = await measure(chunk.noble)
  r.storeSealChunkPerSec = await measure(chunk.native)
  const refusal = await refusalCost(RUNS)
  const rows: Array<[string, number, number, number]> = [
    ['session setup', r.setupPerSec, r.libsignalSetupPerSec, 1.5],
    ['1 KiB one-way', r.msgPerSec, r.libsignalMsgPerSec, 2],
    ['1 KiB ping-pong', r.pingPongPerSec, r.libsignalPingPongPerSec, 1.2]
  ]
  if (json) {
    console.log(JSON.stringify({
      setupPerSec: r.setupPerSec,
      repeatSetupPerSec: r.repeatSetupPerSec,
      msgPerSec: r.msgPerSec,
      pingPongPerSec: r.pingPongPerSec,
      libsignalSetupPerSec: r.libsignalSetupPerSec,
      libsignalMsgPerSec: r.libsignalMsgPerSec,
      libsignalPingPongPerSec: r.libsignalPingPongPerSec,
      sealedSetupPerSec: r.sealedSetupPerSec,
      sealedMsgPerSec: r.sealedMsgPerSec,
      sealedPingPongPerSec: r.sealedPingPongPerSec,
      genuineOpenMs: refusal.genuineOpenMs,
      forgedRejectMs: refusal.forgedRejectMs,
      contactJunkMs: refusal.contactJunkMs,
      genuineSkipMs: refusal.genuineSkipMs,
      storeSealSmallPerSec: r.storeSealSmallPerSec,
      nobleStoreSealSmallPerSec: r.nobleStoreSealSmallPerSec,
      storeSealChunkPerSec: r.storeSealChunkPerSec,
      nobleStoreSealChunkPerSec: r.nobleStoreSealChunkPerSec
    }))
    return
  }
  log('')
  log('                     Sotto/s   libsignal/s   ratio   goal')
  for (const [name, s, l, goal] of rows) {
    log(`${name.padEnd(18)} ${fmt(s, 0).padStart(9)} ${fmt(l, 0).padStart(13)} ${(s / l).toFixed(2).padStart(6)}x  >= ${goal}x ${s / l >= goal ? 'met' : 'NOT met'}`)
  }
  log('')
  log(`Session setup when Alice verified the same bundle bytes before (bundle-cache.ts; not comparable): ${fmt(r.repeatSetupPerSec, 0)}/s`)
  log('')
  log('Sotto with sealed envelopes (full SessionManager path; libsignal figures above have no sealed sender):')
  log(`  setup ${fmt(r.sealedSetupPerSec, 0)}/s, one-way ${fmt(r.sealedMsgPerSec, 0)}/s, ping-pong ${fmt(r.sealedPingPongPerSec, 0)}/s`)
  log('')
  log('Store seal (XChaCha20-Poly1305 seal + open):   node:crypto/s   noble/s   ratio')
  log(`  200 B record                                ${fmt(r.storeSealSmallPerSec, 0).padStart(9)} ${fmt(r.nobleStoreSealSmallPerSec, 0).padStart(9)} ${(r.storeSealSmallPerSec / r.nobleStoreSealSmallPerSec).toFixed(2).padStart(6)}x`)
  log(`  64 KiB chunk                                ${fmt(r.storeSealChunkPerSec, 0).padStart(9)} ${fmt(r.nobleStoreSealChunkPerSec, 0).padStart(9)} ${(r.storeSealChunkPerSec / r.nobleStoreSealChunkPerSec).toFixed(2).padStart(6)}x`)
  log('')
  log(`Refusal cost per envelope (Bob holds ${refusal.states} session states for Alice; PN = N = ${MAX_SKIP}):`)
  log(`  genuine 1 KiB message opened     ${fmt(refusal.genuineOpenMs, 3)} ms`)
  log(`  forged, naming Alice, refused    ${fmt(refusal.forgedRejectMs, 3)} ms   (${fmt(refusal.forgedRejectMs / refusal.genuineOpenMs, 2)}x genuine)`)
  log(`  junk sealed by Alice, refused    ${fmt(refusal.contactJunkMs, 3)} ms   (${fmt(refusal.contactJunkMs / refusal.genuineOpenMs, 2)}x genuine)`)
  log(`  genuine, ${MAX_SKIP} ahead, opened       ${fmt(refusal.genuineSkipMs, 3)} ms   (the costliest message that opens)`)
}

await main()

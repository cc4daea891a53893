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
 * The comparable Sotto figures are the session layer (libsignal's SessionBuilder/SessionCipher
 * do no sealed sender); `sealed*` adds Sotto's sealed, padded envelope (one more ephemeral
 * X25519 ECIES per message) through the full SessionManager. See bench/lib/sotto.ts.
 */
import { libsignalBench } from './lib/libsignal.js'
import { sottoBench } from './lib/sotto.js'
import { fmt, median, sustained, wantsJson } from './lib/measure.js'

const quick = process.argv.includes('--quick')
const RUN_MS = quick ? 1000 : 3000
const RUNS = 3

async function measure (op: () => Promise<void>): Promise<number> {
  const rates: number[] = []
  for (let i = 0; i < RUNS; i++) rates.push(await sustained(op, RUN_MS))
  return median(rates)
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
  r.libsignalMsgPerSec = await measure(signal.oneWay)
  r.msgPerSec = await measure(sotto.oneWay)
  r.libsignalPingPongPerSec = await measure(signal.pingPong)
  r.pingPongPerSec = await measure(sotto.pingPong)
  r.sealedSetupPerSec = await measure(sotto.sealedSetup)
  r.sealedMsgPerSec = await measure(sotto.sealedOneWay)
  r.sealedPingPongPerSec = await measure(sotto.sealedPingPong)
  const rows: Array<[string, number, number, number]> = [
    ['session setup', r.setupPerSec, r.libsignalSetupPerSec, 1.5],
    ['1 KiB one-way', r.msgPerSec, r.libsignalMsgPerSec, 2],
    ['1 KiB ping-pong', r.pingPongPerSec, r.libsignalPingPongPerSec, 1.2]
  ]
  if (json) {
    console.log(JSON.stringify({
      setupPerSec: r.setupPerSec,
      msgPerSec: r.msgPerSec,
      pingPongPerSec: r.pingPongPerSec,
      libsignalSetupPerSec: r.libsignalSetupPerSec,
      libsignalMsgPerSec: r.libsignalMsgPerSec,
      libsignalPingPongPerSec: r.libsignalPingPongPerSec,
      sealedSetupPerSec: r.sealedSetupPerSec,
      sealedMsgPerSec: r.sealedMsgPerSec,
      sealedPingPongPerSec: r.sealedPingPongPerSec
    }))
    return
  }
  log('')
  log('                     Sotto/s   libsignal/s   ratio   goal')
  for (const [name, s, l, goal] of rows) {
    log(`${name.padEnd(18)} ${fmt(s, 0).padStart(9)} ${fmt(l, 0).padStart(13)} ${(s / l).toFixed(2).padStart(6)}x  >= ${goal}x ${s / l >= goal ? 'met' : 'NOT met'}`)
  }
  log('')
  log('Sotto with sealed envelopes (full SessionManager path; libsignal figures above have no sealed sender):')
  log(`  setup ${fmt(r.sealedSetupPerSec, 0)}/s, one-way ${fmt(r.sealedMsgPerSec, 0)}/s, ping-pong ${fmt(r.sealedPingPongPerSec, 0)}/s`)
}

await main()

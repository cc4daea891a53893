/**
 * `npm run bench:attachments [-- --json]`: a 50 MiB file between two loopback Sotto nodes,
 * **each in its own process** (bench/lib/att-peer.ts, forked; commands over IPC), as two
 * users' nodes are. Until 2026-11 both nodes ran in this one process: the sender's serving
 * and the receiver's checking and writing then shared one event loop, one heap and one core,
 * so the figure measured the sum of both sides' CPU per chunk, not a transfer, and RSS growth
 * was both nodes' together. The bare stream below is measured the same way, so the two
 * stay comparable. This process runs only the DHT's bootstrap node (mDNS off, 127.0.0.1
 * only) and plays the sender's browser (the HTTP upload); every wait is bounded.
 * - throughputMBps: from the send call until the recipient has every chunk verified and
 *   written (its record says "ready"), MiB per second;
 * - bareStreamMBps: 50 MiB over a bare libp2p stream (same transport, Noise and yamux, no
 *   Sotto protocol, nothing stored) between two other processes, in the same run;
 * - uploadMBps: the sender's POST /api/attachments (sealing and storing as it streams);
 * - peakRssMb / rssGrowthMb: the larger of the two nodes' peak resident memory from before
 *   the upload until the file is ready, and the larger growth over its own level before the
 *   upload (each side also apart: sender…, receiver…; senderUploadRssGrowthMb: the sender's
 *   growth by the end of the upload);
 * - senderCpuMs / receiverCpuMs: each node process's CPU time (user + system) over the same
 *   span; sender/receiverTransferCpuMs: the same from the send call on (the upload left out).
 * BENCH_MIB=n changes the size; BENCH_CPU_PROF=dir writes sender.cpuprofile and
 * receiver.cpuprofile there (from the send call until ready).
 * Goal (issue 16): throughput at least half the bare stream; RSS growth under 64 MiB.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSottoNode } from '../node/daemon/sotto-node.js'
import type { SottoNode } from '../node/daemon/types.js'
import { silentLogger } from '../node/log.js'
import { MIN_SCRYPT } from '../node/store/kdf.js'
import { PeerProcess } from './lib/att-client.js'
import type { Measured, Started } from './lib/att-protocol.js'
import { fmt, wantsJson } from './lib/measure.js'

const SIZE = Number(process.env.BENCH_MIB ?? 50) * 1024 * 1024
const PIECE = 64 * 1024
const MAX_WAIT_MS = 5 * 60_000
const say = (s: string): void => { if (!wantsJson()) process.stdout.write(s + '\n') }
const mb = (bytes: number): number => Number((bytes / 1024 / 1024).toFixed(1))

async function until (what: string, fn: () => Promise<boolean>, everyMs = 100): Promise<void> {
  const deadline = Date.now() + MAX_WAIT_MS
  while (!await fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** The same pseudo-random 64 KiB repeated: generating the file costs nothing measurable. */
const block = randomBytes(PIECE)
function fileStream (): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream({
    pull (controller) {
      if (sent >= SIZE) { controller.close(); return }
      const n = Math.min(PIECE, SIZE - sent)
      sent += n
      controller.enqueue(new Uint8Array(block.subarray(0, n)))
    }
  })
}

const env = process.env.BENCH_CPU_PROF === undefined ? {} : { BENCH_CPU_PROF: process.env.BENCH_CPU_PROF }
const sender = new PeerProcess('sender', env)
const receiver = new PeerProcess('receiver', env)
process.on('exit', () => { sender.kill(); receiver.kill() })
let hub: SottoNode | undefined
const hubDir = await mkdtemp(join(tmpdir(), 'sotto-bench-att-hub-'))
try {
  say(`attachments: a ${fmt(SIZE / 1024 / 1024, 0)} MiB file between two loopback nodes, one process each`)

  const addrs = await receiver.request<string[]>({ cmd: 'bareListen' })
  const bareStart = performance.now()
  await Promise.all([sender.request({ cmd: 'bareSend', addrs, bytes: SIZE }, MAX_WAIT_MS), receiver.request({ cmd: 'bareWait', bytes: SIZE }, MAX_WAIT_MS)])
  const bareStreamMBps = SIZE / 1024 / 1024 / ((performance.now() - bareStart) / 1000)
  await Promise.all([sender.request({ cmd: 'bareStop' }), receiver.request({ cmd: 'bareStop' })])
  say(`bare libp2p stream: ${fmt(bareStreamMBps)} MiB/s`)

  hub = await startSottoNode({ dataDir: join(hubDir, 'data'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, apiPort: 0, logger: silentLogger, kdf: MIN_SCRYPT })
  const bootstrap = [hub.addresses()[0]]
  const [a, b] = await Promise.all([sender.request<Started>({ cmd: 'start', bootstrap }), receiver.request<Started>({ cmd: 'start', bootstrap })])
  await until('records published', async () => await sender.request<boolean>({ cmd: 'published' }) && await receiver.request<boolean>({ cmd: 'published' }))
  await receiver.request({ cmd: 'addContact', sessionId: a.sessionId, name: 'Alice' })

  await Promise.all([sender.request({ cmd: 'mark' }), receiver.request({ cmd: 'mark' })])
  const uploadStart = performance.now()
  const res = await fetch(`http://127.0.0.1:${a.apiPort}/api/attachments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': 'bench.bin', 'X-Sotto-Mime': 'application/octet-stream' },
    body: fileStream(),
    duplex: 'half'
  } as RequestInit)
  if (!res.ok) throw new Error(`upload failed: HTTP ${res.status} ${await res.text()}`)
  const { attachment } = await res.json() as { attachment: { id: string } }
  const uploadMBps = SIZE / 1024 / 1024 / ((performance.now() - uploadStart) / 1000)
  say(`upload (seal and store): ${fmt(uploadMBps)} MiB/s`)

  await Promise.all([sender.request({ cmd: 'transfer' }), receiver.request({ cmd: 'transfer' })])
  const start = performance.now()
  await sender.request({ cmd: 'send', to: b.sessionId, attachmentId: attachment.id }, MAX_WAIT_MS)
  await receiver.request({ cmd: 'waitReady', id: attachment.id, timeoutMs: MAX_WAIT_MS }, MAX_WAIT_MS + 5_000)
  const seconds = (performance.now() - start) / 1000
  const [s, r] = await Promise.all([sender.request<Measured>({ cmd: 'report' }), receiver.request<Measured>({ cmd: 'report' })])
  const throughputMBps = SIZE / 1024 / 1024 / seconds
  const figures = {
    sizeMiB: SIZE / 1024 / 1024,
    throughputMBps: Number(throughputMBps.toFixed(1)),
    bareStreamMBps: Number(bareStreamMBps.toFixed(1)),
    ratio: Number((throughputMBps / bareStreamMBps).toFixed(2)),
    uploadMBps: Number(uploadMBps.toFixed(1)),
    peakRssMb: mb(Math.max(s.peakRss, r.peakRss)),
    rssGrowthMb: mb(Math.max(s.peakRss - s.baseRss, r.peakRss - r.baseRss)),
    senderPeakRssMb: mb(s.peakRss),
    senderRssGrowthMb: mb(s.peakRss - s.baseRss),
    senderUploadRssGrowthMb: mb(s.uploadPeakRss - s.baseRss),
    senderAnonGrowthMb: mb(s.anonGrowth),
    senderFileGrowthMb: mb(s.fileGrowth),
    receiverPeakRssMb: mb(r.peakRss),
    receiverRssGrowthMb: mb(r.peakRss - r.baseRss),
    receiverAnonGrowthMb: mb(r.anonGrowth),
    receiverFileGrowthMb: mb(r.fileGrowth),
    senderCpuMs: Math.round(s.cpuMs),
    receiverCpuMs: Math.round(r.cpuMs),
    senderTransferCpuMs: Math.round(s.transferCpuMs),
    receiverTransferCpuMs: Math.round(r.transferCpuMs),
    senderLoopDelayMaxMs: Math.round(s.loopDelayMaxMs),
    receiverLoopDelayMaxMs: Math.round(r.loopDelayMaxMs)
  }
  say(`transfer: ${fmt(throughputMBps)} MiB/s (${fmt(figures.ratio * 100, 0)} % of the bare stream; goal ≥ 50 %)`)
  say(`peak RSS: sender ${fmt(figures.senderPeakRssMb)} MiB (growth ${fmt(figures.senderRssGrowthMb)}), receiver ${fmt(figures.receiverPeakRssMb)} MiB (growth ${fmt(figures.receiverRssGrowthMb)}); goal < 64 MiB growth`)
  say(`CPU from upload to ready: sender ${fmt(figures.senderCpuMs, 0)} ms, receiver ${fmt(figures.receiverCpuMs, 0)} ms; of it from the send call: sender ${fmt(figures.senderTransferCpuMs, 0)} ms, receiver ${fmt(figures.receiverTransferCpuMs, 0)} ms`)
  if (wantsJson()) process.stdout.write(JSON.stringify(figures) + '\n')
} finally {
  await Promise.all([sender.close(), receiver.close()])
  await hub?.stop().catch(() => {})
  await rm(hubDir, { recursive: true, force: true })
}

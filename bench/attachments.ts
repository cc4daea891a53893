/**
 * `npm run bench:attachments [-- --json]`: a 50 MiB file between two loopback nodes in one
 * process (plus a third as the DHT's bootstrap; mDNS off, 127.0.0.1 only, every wait bounded).
 * - throughputMBps: from the send call until the recipient has every chunk verified and
 *   written (its record says "ready"), MiB per second;
 * - bareStreamMBps: 50 MiB over a bare libp2p stream (same transport, Noise and yamux, no
 *   Sotto protocol, nothing stored) between two other nodes, in the same run;
 * - uploadMBps: the sender's POST /api/attachments (sealing and storing as it streams);
 * - peakRssMb / rssGrowthMb: the process's peak resident memory while the file moved, and its
 *   growth over the level before the upload (both nodes live in this process).
 * Goal (issue 16): throughput at least half the bare stream; RSS growth under 64 MiB.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { startSottoNode } from '../node/daemon/sotto-node.js'
import type { SottoNode } from '../node/daemon/types.js'
import type { SessionId } from '../node/identity/session-id.js'
import { createSottoLibp2p } from '../node/net/libp2p.js'
import { silentLogger } from '../node/log.js'
import { MIN_SCRYPT } from '../node/store/kdf.js'
import { fmt, wantsJson } from './lib/measure.js'

const SIZE = Number(process.env.BENCH_MIB ?? 50) * 1024 * 1024
const PIECE = 64 * 1024
const PASS = 'bench passphrase'
const MAX_WAIT_MS = 5 * 60_000
const say = (s: string): void => { if (!wantsJson()) process.stdout.write(s + '\n') }

async function until<T> (what: string, fn: () => Promise<T | undefined | false>, everyMs = 20): Promise<T> {
  const deadline = Date.now() + MAX_WAIT_MS
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
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

async function bareStream (): Promise<number> {
  const [x, y] = await Promise.all([0, 1].map(async () => await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })))
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  await y.handle('/bench/bare/1', (stream: Stream) => {
    void (async () => {
      for await (const piece of stream) {
        received += piece.byteLength
        if (received >= SIZE) done()
      }
    })()
  })
  const stream = await x.dialProtocol(y.getMultiaddrs(), '/bench/bare/1')
  const start = performance.now()
  for (let sent = 0; sent < SIZE; sent += PIECE) {
    if (!stream.send(block)) await stream.onDrain()
  }
  await finished
  const seconds = (performance.now() - start) / 1000
  await stream.close().catch(() => {})
  await Promise.all([x.stop(), y.stop()])
  return SIZE / 1024 / 1024 / seconds
}

const dirs: string[] = []
async function node (bootstrap: SottoNode[] = []): Promise<SottoNode> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-bench-att-'))
  dirs.push(dir)
  return await startSottoNode({ dataDir: join(dir, 'data'), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: bootstrap.map((n) => n.addresses()[0]), mdns: false, apiPort: 0, logger: silentLogger, kdf: MIN_SCRYPT, receiptDelayMs: () => 20 })
}

const nodes: SottoNode[] = []
try {
  say(`attachments: a ${fmt(SIZE / 1024 / 1024, 0)} MiB file between two loopback nodes`)
  const bareStreamMBps = await bareStream()
  say(`bare libp2p stream: ${fmt(bareStreamMBps)} MiB/s`)
  const hub = await node()
  const a = await node([hub])
  const b = await node([hub])
  nodes.push(hub, a, b)
  const aliceId = (await a.controller.createAccount(PASS)).sessionId as SessionId
  const bobId = (await b.controller.createAccount(PASS)).sessionId as SessionId
  await until('records published', async () => (await a.controller.status()).dht.recordPublished && (await b.controller.status()).dht.recordPublished, 100)
  await b.controller.messenger().addContact(aliceId, 'Alice')

  global.gc?.()
  const baseRss = process.memoryUsage().rss
  let peakRss = baseRss
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 20)

  const uploadStart = performance.now()
  const res = await fetch(`http://127.0.0.1:${a.apiPort}/api/attachments`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${a.token}`, 'Content-Type': 'application/octet-stream', 'X-Sotto-Name': 'bench.bin', 'X-Sotto-Mime': 'application/octet-stream' },
    body: fileStream(),
    duplex: 'half'
  } as RequestInit)
  const { attachment } = await res.json() as { attachment: { id: string } }
  const uploadMBps = SIZE / 1024 / 1024 / ((performance.now() - uploadStart) / 1000)
  say(`upload (seal and store): ${fmt(uploadMBps)} MiB/s`)

  const start = performance.now()
  await a.controller.messenger().send(bobId, '', { attachments: [await a.controller.attachments!().ref(attachment.id)] })
  await until('the file ready at B', async () => (await b.controller.attachments!().blobs.record(attachment.id))?.state === 'ready')
  const seconds = (performance.now() - start) / 1000
  clearInterval(sampler)
  const throughputMBps = SIZE / 1024 / 1024 / seconds
  const figures = {
    sizeMiB: SIZE / 1024 / 1024,
    throughputMBps: Number(throughputMBps.toFixed(1)),
    bareStreamMBps: Number(bareStreamMBps.toFixed(1)),
    ratio: Number((throughputMBps / bareStreamMBps).toFixed(2)),
    uploadMBps: Number(uploadMBps.toFixed(1)),
    peakRssMb: Number((peakRss / 1024 / 1024).toFixed(1)),
    rssGrowthMb: Number(((peakRss - baseRss) / 1024 / 1024).toFixed(1))
  }
  say(`transfer: ${fmt(throughputMBps)} MiB/s (${fmt(figures.ratio * 100, 0)} % of the bare stream; goal ≥ 50 %)`)
  say(`peak RSS: ${fmt(figures.peakRssMb)} MiB, growth ${fmt(figures.rssGrowthMb)} MiB (goal < 64 MiB)`)
  if (wantsJson()) process.stdout.write(JSON.stringify(figures) + '\n')
} finally {
  await Promise.all(nodes.map(async (n) => await n.stop().catch(() => {})))
  await Promise.all(dirs.map(async (d) => await rm(d, { recursive: true, force: true })))
}

/**
 * `npm run bench:net [-- --json]`: the network figures (delivery latency, throughput, record lookups), in one run, on loopback.
 * - deliver p50/p99: a 100-byte message A -> B through the whole stack (seal, /sotto/deliver,
 *   B commits message + ratchet state, ack), beside the floor: the same request/response with
 *   bare libp2p on a fresh stream;
 * - msgs/s: sustained A -> B with every message committed on both sides;
 * each twice: both nodes in this process (one thread does both sides' work), and B in its own
 * process (`...TwoProcesses`, bench/lib/net-peer.ts), as users' nodes run; the floor likewise;
 * - start -> record published, idle RSS of one `sotto start` process;
 * - on a 20-node network: finding a user's prekey record vs a bare kad-dht get.
 * Nodes run with mDNS off and listen on 127.0.0.1 only. `--only find` runs the record lookup
 * figures alone (same JSON keys).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { startSottoNode } from '../node/daemon/sotto-node.js'
import type { SottoNode } from '../node/daemon/types.js'
import { silentLogger } from '../node/log.js'
import { MIN_SCRYPT } from '../node/store/kdf.js'
import type { SessionId } from '../node/identity/session-id.js'
import { createSottoLibp2p, type SottoLibp2p } from '../node/net/libp2p.js'
import { findRecord, publishRecord } from '../node/net/records.js'
import { parseBundle, bundleSequence } from '../node/crypto/bundle.js'
import { parseSessionId } from '../node/identity/session-id.js'
import { fmt, percentile, wantsJson } from './lib/measure.js'
import { ECHO_PROTOCOL, type NetPeerMessage } from './lib/net-peer-protocol.js'
import { multiaddr } from '@multiformats/multiaddr'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const dirs: string[] = []
async function dir (): Promise<string> { const d = await mkdtemp(join(tmpdir(), 'sotto-bench-')); dirs.push(d); return d }
const PASS = 'bench passphrase'
const say = (s: string) => { if (!wantsJson()) process.stdout.write(s + '\n') }

async function sottoNode (bootstrap: string[]): Promise<SottoNode> {
  return await startSottoNode({ dataDir: await dir(), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, mdns: false, apiPort: 0, logger: silentLogger, kdf: MIN_SCRYPT, receiptDelayMs: () => 10 })
}

async function waitFor (fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** 300 sends one after the other (each until acked), then 3 s with 32 in flight, each acked after the recipient committed it. */
async function measureDelivery (a: SottoNode, bob: SessionId): Promise<{ p50: number, p99: number, perSec: number }> {
  const text = 'x'.repeat(100)
  await a.controller.messenger().send(bob, 'warm-up')
  const times: number[] = []
  for (let i = 0; i < 300; i++) {
    const t = performance.now()
    const m = await a.controller.messenger().send(bob, text)
    if (m.state !== 'delivered') throw new Error(`not delivered: ${m.state}`)
    times.push(performance.now() - t)
  }
  times.sort((x, y) => x - y)
  const start = performance.now()
  let done = 0
  const worker = async (): Promise<void> => {
    while (performance.now() - start < 3000) {
      const m = await a.controller.messenger().send(bob, text)
      if (m.state === 'delivered') done++
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  const perSec = done / ((performance.now() - start) / 1000)
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSec }
}

/** Both nodes in this process: every step of both sides on one thread. */
async function deliveryFigures (): Promise<{ p50: number, p99: number, perSec: number }> {
  const a = await sottoNode([])
  const b = await sottoNode([a.addresses()[0]])
  await a.controller.createAccount(PASS)
  const bob = (await b.controller.createAccount(PASS)).sessionId as SessionId
  await waitFor(async () => (await b.controller.status()).dht.recordPublished)
  const figures = await measureDelivery(a, bob)
  await a.stop()
  await b.stop()
  return figures
}

/** The far node in its own process (bench/lib/net-peer.ts), as users' nodes run: one per process. */
async function forkPeer (mode: 'sotto' | 'bare'): Promise<{ child: ChildProcess, address: string, sessionId: () => Promise<string> }> {
  const child = fork(fileURLToPath(new URL('./lib/net-peer.js', import.meta.url)), [mode], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const messages: NetPeerMessage[] = []
  let wake: (() => void) | undefined
  child.on('message', (m: NetPeerMessage) => { messages.push(m); wake?.() })
  const next = async <K extends 'address' | 'sessionId'>(key: K): Promise<string> => {
    const end = Date.now() + 30_000
    for (;;) {
      const found = messages.find((m) => key in m) as Record<K, string> | undefined
      if (found !== undefined) return found[key]
      if (Date.now() > end) throw new Error(`the ${mode} peer process did not report its ${key}`)
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 1000) })
    }
  }
  return { child, address: await next('address'), sessionId: async () => await next('sessionId') }
}

async function stopPeer (child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.on('exit', resolve))
  child.disconnect()
  await closed
}

async function deliveryFiguresTwoProcesses (): Promise<{ p50: number, p99: number, perSec: number }> {
  const peer = await forkPeer('sotto')
  const a = await sottoNode([peer.address])
  await a.controller.createAccount(PASS)
  const bob = await peer.sessionId() as SessionId
  const figures = await measureDelivery(a, bob)
  await a.stop()
  await stopPeer(peer.child)
  return figures
}

/**
 * The bare get's plain value. kad-dht refuses every record of a namespace without a validator
 * (a `/bench/…` key would be found nowhere), so it is filed in the one namespace Sotto's libp2p
 * validates, under a name the bench nodes accept without any check.
 */
const PLAIN_KEY = '/sotto-prekeys/bench-plain-value'

async function bareNode (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    validate: (key, value) => {
      const k = new TextDecoder().decode(key)
      if (k !== PLAIN_KEY) parseBundle(value, parseSessionId(k.slice(15)), Date.now())
    },
    select: (key, records) => {
      if (new TextDecoder().decode(key) === PLAIN_KEY) return 0
      let best = 0
      for (let i = 1; i < records.length; i++) if (bundleSequence(records[i]) > bundleSequence(records[best])) best = i
      return best
    }
  })
}

/** The floor: the same request/response with bare libp2p, a fresh stream each time, the far node here or in its own process. */
async function bareFloor (twoProcesses = false): Promise<number> {
  const a = await bareNode()
  let far: { child: ChildProcess } | { node: SottoLibp2p }
  let address: string
  if (twoProcesses) {
    const peer = await forkPeer('bare')
    far = { child: peer.child }
    address = peer.address
  } else {
    const b = await bareNode()
    await b.handle(ECHO_PROTOCOL, (stream: Stream) => {
      void (async () => {
        for await (const chunk of stream) {
          if (chunk.byteLength > 0) { stream.send(Uint8Array.of(1)); await stream.close(); return }
        }
      })()
    })
    far = { node: b }
    address = b.getMultiaddrs()[0].toString()
  }
  const conn = await a.dial(multiaddr(address))
  const times: number[] = []
  for (let i = 0; i < 300; i++) {
    const t = performance.now()
    const s = await a.dialProtocol(conn.remotePeer, ECHO_PROTOCOL)
    s.send(new Uint8Array(100))
    for await (const _ of s) break
    await s.close()
    times.push(performance.now() - t)
  }
  await a.stop()
  if ('child' in far) await stopPeer(far.child)
  else await far.node.stop()
  return percentile(times.sort((x, y) => x - y), 50)
}

async function startToPublished (): Promise<{ ms: number, rssMb: number }> {
  const peer = await sottoNode([])
  const dataDir = await dir()
  const bin = join(ROOT, 'bin', 'sotto.js')
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, [bin, 'init', '--data-dir', dataDir], { env: { ...process.env, SOTTO_PASSPHRASE: PASS }, stdio: 'ignore' })
    c.on('close', (code) => code === 0 ? resolve() : reject(new Error('init failed')))
  })
  const t = performance.now()
  const child = spawn(process.execPath, [bin, 'start', '--data-dir', dataDir, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--bootstrap', peer.addresses()[0], '--log-level', 'info'], {
    env: { ...process.env, SOTTO_PASSPHRASE: PASS }, stdio: ['ignore', 'ignore', 'pipe']
  })
  let ms = NaN
  await new Promise<void>((resolve) => {
    let buf = ''
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString()
      if (Number.isNaN(ms) && buf.includes('prekey record published')) { ms = performance.now() - t; resolve() }
    })
    setTimeout(resolve, 20_000)
  })
  await new Promise((r) => setTimeout(r, 3000))
  const status = await readFile(`/proc/${child.pid ?? 0}/status`, 'utf8').catch(() => '')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  child.kill('SIGTERM')
  await new Promise((r) => child.on('close', r))
  await peer.stop()
  return { ms, rssMb: rssKb / 1024 }
}

async function findFigures (): Promise<{ find: number, bare: number }> {
  const nodes: SottoLibp2p[] = []
  for (let i = 0; i < 20; i++) nodes.push(await bareNode())
  for (let i = 1; i < nodes.length; i++) {
    await nodes[i].dial(nodes[0].getMultiaddrs()[0])
    await nodes[i].dial(nodes[i - 1].getMultiaddrs()[0]).catch(() => {})
  }
  await new Promise((r) => setTimeout(r, 2000))
  // A real account's record, published by a real node into this network.
  const owner = await sottoNode([nodes[5].getMultiaddrs()[0].toString()])
  const sessionId = (await owner.controller.createAccount(PASS)).sessionId as SessionId
  await waitFor(async () => (await owner.controller.status()).dht.recordPublished)
  const record = await findRecord(nodes[3].services.dht, sessionId, (s, v) => { parseBundle(v, parseSessionId(s), Date.now()) }, (x, y) => bundleSequence(x) - bundleSequence(y))
  if (record === undefined) throw new Error('record not found')
  await publishRecord(nodes[7].services.dht, sessionId, record, () => {})
  const plainKey = new TextEncoder().encode(PLAIN_KEY)
  for await (const _ of nodes[8].services.dht.put(plainKey, new Uint8Array(200))) { /* drain */ }
  // Every node walks once first, so both figures below start from the same open connections
  // (a lookup that stops early leaves fewer of them behind for the bare get that follows it).
  for (const n of nodes) for await (const _ of n.services.dht.get(plainKey)) { /* drain */ }
  const find: number[] = []
  const bare: number[] = []
  for (let i = 0; i < 20; i++) {
    const from = nodes[(i * 7) % nodes.length]
    let t = performance.now()
    const got = await findRecord(from.services.dht, sessionId, (s, v) => { parseBundle(v, parseSessionId(s), Date.now()) }, (x, y) => bundleSequence(x) - bundleSequence(y))
    if (got === undefined) throw new Error('lookup failed')
    find.push(performance.now() - t)
    t = performance.now()
    let found = false
    for await (const e of from.services.dht.get(plainKey)) if (e.name === 'VALUE') { found = true; break }
    if (!found) throw new Error('bare get found nothing')
    bare.push(performance.now() - t)
  }
  await owner.stop()
  await Promise.all(nodes.map(async (n) => await n.stop()))
  return { find: percentile(find.sort((x, y) => x - y), 50), bare: percentile(bare.sort((x, y) => x - y), 50) }
}

function only (): string | undefined {
  const i = process.argv.indexOf('--only')
  return i >= 0 ? process.argv[i + 1] : undefined
}

async function main (): Promise<void> {
  if (only() === 'find') {
    const find = await findFigures()
    say(`find record, 20 nodes:        p50 ${fmt(find.find, 1)} ms   bare kad-dht get p50 ${fmt(find.bare, 1)} ms`)
    if (wantsJson()) process.stdout.write(JSON.stringify({ findRecordP50Ms: find.find, bareFindP50Ms: find.bare }) + '\n')
    for (const d of dirs) await rm(d, { recursive: true, force: true })
    return
  }
  say('Sotto network benchmark (loopback, one process unless noted)')
  const delivery = await deliveryFigures()
  say(`deliver 100 B, whole stack:   p50 ${fmt(delivery.p50, 2)} ms   p99 ${fmt(delivery.p99, 2)} ms`)
  const floor = await bareFloor()
  say(`bare libp2p, fresh stream:    p50 ${fmt(floor, 2)} ms   (ratio ${fmt(delivery.p50 / floor, 2)}x)`)
  say(`sustained A->B, committed:    ${fmt(delivery.perSec, 0)} msgs/s`)
  const apart = await deliveryFiguresTwoProcesses()
  const apartFloor = await bareFloor(true)
  say('the same with B in its own process (as users run nodes):')
  say(`deliver 100 B, whole stack:   p50 ${fmt(apart.p50, 2)} ms   p99 ${fmt(apart.p99, 2)} ms`)
  say(`bare libp2p, fresh stream:    p50 ${fmt(apartFloor, 2)} ms   (ratio ${fmt(apart.p50 / apartFloor, 2)}x, goal <= 2x)`)
  say(`sustained A->B, committed:    ${fmt(apart.perSec, 0)} msgs/s (goal >= 3,000)`)
  const start = await startToPublished()
  say(`sotto start -> published:     ${fmt(start.ms, 0)} ms (goal < 1,500; includes the scrypt unlock)`)
  say(`idle RSS of sotto start:      ${fmt(start.rssMb, 1)} MB (goal < 100)`)
  const find = await findFigures()
  say(`find record, 20 nodes:        p50 ${fmt(find.find, 1)} ms   bare kad-dht get p50 ${fmt(find.bare, 1)} ms`)
  if (wantsJson()) {
    process.stdout.write(JSON.stringify({
      deliverP50Ms: delivery.p50, deliverP99Ms: delivery.p99, bareP50Ms: floor, msgsPerSec: delivery.perSec,
      deliverP50MsTwoProcesses: apart.p50, deliverP99MsTwoProcesses: apart.p99, bareP50MsTwoProcesses: apartFloor, msgsPerSecTwoProcesses: apart.perSec,
      startToPublishedMs: start.ms, idleRssMb: start.rssMb, findRecordP50Ms: find.find, bareFindP50Ms: find.bare
    }) + '\n')
  }
  for (const d of dirs) await rm(d, { recursive: true, force: true })
}

await main()
process.exit(0)

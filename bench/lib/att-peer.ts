/**
 * One peer process of bench/attachments.ts (forked by it, see att-client.ts): a bare libp2p
 * node or one Sotto node with its own account, answering the bench's commands over IPC
 * (att-protocol.ts), with its own event loop, heap and CPU time as a user's node has.
 * It measures itself between 'mark' and 'report' (RSS sampled every 20 ms, CPU time), and
 * from 'transfer' to 'report' its CPU time apart and a CPU profile to $BENCH_CPU_PROF/<role>.cpuprofile when
 * that is set. It exits, its data folder removed, when the bench goes away.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { startSottoNode } from '../../node/daemon/sotto-node.js'
import type { SottoNode } from '../../node/daemon/types.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { silentLogger } from '../../node/log.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { MIN_SCRYPT } from '../../node/store/kdf.js'
import type { AttCommand, AttReply, AttRequest, Measured, Started } from './att-protocol.js'

const ROLE = process.env.BENCH_ROLE ?? 'peer'
const PASS = 'bench passphrase'
const PIECE = 64 * 1024
const BARE_PROTOCOL = '/bench/bare/1'

const dir = mkdtempSync(join(tmpdir(), `sotto-bench-att-${ROLE}-`))
let node: SottoNode | undefined
let bare: SottoLibp2p | undefined
let bareReceived = 0
let bareWaiter: { bytes: number, resolve: () => void } | undefined

function cleanUpAndExit (code: number): never {
  try { rmSync(dir, { recursive: true, force: true }) } catch { /* best effort */ }
  process.exit(code)
}
process.on('disconnect', () => { cleanUpAndExit(3) })

function need (): SottoNode {
  if (node === undefined) throw new Error('no Sotto node in this process')
  return node
}

async function newBare (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

/** RSS split as /proc/self/status gives it: anonymous memory, and mapped files (LevelDB maps its tables). */
function rssParts (): { anon: number, file: number } {
  try {
    const text = readFileSync('/proc/self/status', 'utf8')
    const kb = (name: string): number => Number(new RegExp(`${name}:\\s*(\\d+) kB`).exec(text)?.[1] ?? NaN) * 1024
    return { anon: kb('RssAnon'), file: kb('RssFile') }
  } catch {
    return { anon: NaN, file: NaN }
  }
}

// What is measured between 'mark' and 'report'.
let measuring: { baseRss: number, peakRss: number, baseAnon: number, peakAnon: number, baseFile: number, peakFile: number, cpu: NodeJS.CpuUsage, sampler: NodeJS.Timeout, transferCpu?: NodeJS.CpuUsage, uploadPeakRss?: number, profiler?: Session } | undefined
const loopDelay = monitorEventLoopDelay({ resolution: 10 })

async function handle (command: AttCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'bareListen': {
      bare = await newBare()
      await bare.handle(BARE_PROTOCOL, (stream: Stream) => {
        void (async () => {
          for await (const piece of stream) {
            bareReceived += piece.byteLength
            if (bareWaiter !== undefined && bareReceived >= bareWaiter.bytes) bareWaiter.resolve()
          }
        })().catch(() => {})
      })
      return bare.getMultiaddrs().map((a) => a.toString())
    }
    case 'bareWait':
      if (bareReceived < command.bytes) await new Promise<void>((resolve) => { bareWaiter = { bytes: command.bytes, resolve } })
      return bareReceived
    case 'bareSend': {
      bare = await newBare()
      const block = new Uint8Array(PIECE).fill(0x5a)
      const stream = await bare.dialProtocol(command.addrs.map((a) => multiaddr(a)), BARE_PROTOCOL)
      for (let sent = 0; sent < command.bytes; sent += PIECE) {
        if (!stream.send(block)) await stream.onDrain()
      }
      await stream.close().catch(() => {})
      return null
    }
    case 'bareStop':
      await bare?.stop()
      bare = undefined
      return null
    case 'start': {
      node = await startSottoNode({ dataDir: join(dir, 'data'), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: command.bootstrap, mdns: false, apiPort: 0, logger: silentLogger, kdf: MIN_SCRYPT, receiptDelayMs: () => 20 })
      const created = await node.controller.createAccount(PASS)
      const r: Started = { sessionId: created.sessionId, apiPort: node.apiPort, token: node.token, addresses: node.addresses() }
      return r
    }
    case 'published':
      return (await need().controller.status()).dht.recordPublished
    case 'addContact':
      await need().controller.messenger().addContact(command.sessionId as SessionId, command.name)
      return null
    case 'mark': {
      global.gc?.()
      const baseRss = process.memoryUsage.rss()
      const base = rssParts()
      // The split costs a read of /proc: every fifth sample (the total, every one, is cheap).
      let n = 0
      const sample = (): void => {
        m.peakRss = Math.max(m.peakRss, process.memoryUsage.rss())
        if (n++ % 5 !== 0) return
        const p = rssParts()
        m.peakAnon = Math.max(m.peakAnon, p.anon)
        m.peakFile = Math.max(m.peakFile, p.file)
      }
      const m: NonNullable<typeof measuring> = { baseRss, peakRss: baseRss, baseAnon: base.anon, peakAnon: base.anon, baseFile: base.file, peakFile: base.file, cpu: process.cpuUsage(), sampler: setInterval(sample, 20) }
      measuring = m
      loopDelay.reset()
      loopDelay.enable()
      return null
    }
    case 'transfer': {
      if (measuring === undefined) throw new Error('transfer before mark')
      measuring.transferCpu = process.cpuUsage()
      measuring.uploadPeakRss = measuring.peakRss
      if (process.env.BENCH_CPU_PROF === undefined) return null
      const profiler = new Session()
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 })
      await profiler.post('Profiler.start')
      measuring.profiler = profiler
      return null
    }
    case 'send': {
      const c = need().controller
      await c.messenger().send(command.to as SessionId, '', { attachments: [await c.attachments!().ref(command.attachmentId)] })
      return null
    }
    case 'waitReady': {
      // The service's in-memory state (what the API shows), not a store read per look: the
      // receiver's event loop is what is measured.
      const deadline = Date.now() + command.timeoutMs
      const service = need().controller.attachments!()
      const ref = { manifestId: command.id, name: '', size: 0, mime: '' }
      for (;;) {
        if (service.view(ref).state === 'ready') break
        if (Date.now() > deadline) throw new Error('timed out waiting for the file')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      if ((await service.blobs.record(command.id))?.state !== 'ready') throw new Error('the file is shown ready but its record is not')
      return true
    }
    case 'report': {
      const m = measuring
      if (m === undefined) throw new Error('report before mark')
      measuring = undefined
      clearInterval(m.sampler)
      m.peakRss = Math.max(m.peakRss, process.memoryUsage.rss())
      const cpu = process.cpuUsage(m.cpu)
      loopDelay.disable()
      if (m.profiler !== undefined) {
        const { profile } = await m.profiler.post('Profiler.stop')
        m.profiler.disconnect()
        writeFileSync(join(process.env.BENCH_CPU_PROF as string, `${ROLE}.cpuprofile`), JSON.stringify(profile))
      }
      const transferCpu = process.cpuUsage(m.transferCpu ?? m.cpu)
      const r: Measured = { baseRss: m.baseRss, peakRss: m.peakRss, anonGrowth: m.peakAnon - m.baseAnon, fileGrowth: m.peakFile - m.baseFile, uploadPeakRss: m.uploadPeakRss ?? m.peakRss, cpuMs: (cpu.user + cpu.system) / 1000, transferCpuMs: (transferCpu.user + transferCpu.system) / 1000, loopDelayMaxMs: loopDelay.max / 1e6 }
      return r
    }
    case 'exit':
      await node?.stop().catch(() => {})
      await Promise.resolve(bare?.stop()).catch(() => {})
      setImmediate(() => { cleanUpAndExit(0) })
      return null
  }
}

function reply (r: AttReply): void {
  if (process.connected) process.send?.(r)
}

process.on('message', (raw: unknown) => {
  const request = raw as AttRequest
  handle(request.command).then(
    (result) => { reply({ id: request.id, ok: true, result: result ?? null }) },
    (err: unknown) => { reply({ id: request.id, ok: false, error: String((err as Error)?.stack ?? err) }) }
  )
})

if (process.send === undefined) {
  process.stderr.write('att-peer: run by bench/attachments.ts (child_process.fork), not directly\n')
  cleanUpAndExit(1)
}

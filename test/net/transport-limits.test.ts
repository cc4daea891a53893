/**
 * The checklist's transport items on real libp2p nodes over loopback TCP: garbage, oversize
 * frames, slow senders and stream floods on /sotto/deliver/1 cost the offender its stream and
 * nothing else.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { DELIVER_PROTOCOL, MAX_DELIVER_FRAME } from '../../node/net/constants.js'
import { deliverEnvelope, registerDeliver } from '../../node/net/deliver.js'
import { encodeFrame, FrameReader } from '../../node/net/frames.js'
import { silentLogger } from '../../node/log.js'

let server: SottoLibp2p
let attacker: SottoLibp2p
let honest: SottoLibp2p
const received: Uint8Array[] = []

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}

beforeAll(async () => {
  server = await node()
  attacker = await node()
  honest = await node()
  await registerDeliver(server, {
    logger: silentLogger.forComponent('t'),
    frameTimeoutMs: 1000,
    onEnvelope: async (e) => { received.push(e); return 'accepted' }
  })
})

afterAll(async () => { await Promise.all([server, attacker, honest].map(async (n) => await n.stop())) })

async function rawStream (): Promise<Stream> {
  return await attacker.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL)
}

async function endsWithin (stream: Stream, ms: number): Promise<boolean> {
  const reader = new FrameReader(stream, 1024, ms)
  try {
    await reader.read()
    return true
  } catch (err) {
    return (err as { code?: string }).code !== 'ERR_FRAME_TIMEOUT'
  }
}

async function honestDeliveryWorks (): Promise<boolean> {
  const r = await deliverEnvelope(honest, server.peerId, server.getMultiaddrs(), new Uint8Array([1, 2, 3]))
  return r.ok
}

describe('transport limits on /sotto/deliver/1', () => {
  it('T1: garbage bytes reset that stream; the node and other peers carry on', async () => {
    const s = await rawStream()
    s.send(new Uint8Array(64).fill(0x41))
    expect(await endsWithin(s, 3000)).toBe(true)
    expect(await honestDeliveryWorks()).toBe(true)
    // The attacker's own connection is still usable for a proper delivery.
    expect((await deliverEnvelope(attacker, server.peerId, server.getMultiaddrs(), new Uint8Array([9]))).ok).toBe(true)
  })

  it('T2: an oversize length prefix is refused before anything of that size is allocated', async () => {
    const before = process.memoryUsage().arrayBuffers
    const s = await rawStream()
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 0xfffffff0)
    s.send(header)
    expect(await endsWithin(s, 3000)).toBe(true)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
    const s2 = await rawStream()
    s2.send(encodeFrame(new Uint8Array(MAX_DELIVER_FRAME + 1).fill(1)))
    expect(await endsWithin(s2, 3000)).toBe(true)
    expect(await honestDeliveryWorks()).toBe(true)
  })

  it('T4: a stream sending one byte at a time is closed by the frame timeout', async () => {
    const s = await rawStream()
    const frame = encodeFrame(Uint8Array.of(1, 1, 7, 7, 7))
    let closed = false
    void endsWithin(s, 10_000).then(() => { closed = true })
    for (let i = 0; i < frame.length && !closed; i++) {
      try { s.send(frame.subarray(i, i + 1)) } catch { break }
      await new Promise((r) => setTimeout(r, 400))
    }
    expect(closed).toBe(true)
    expect(await honestDeliveryWorks()).toBe(true)
  })

  it('T5: a frame with an unknown version is refused with a reset', async () => {
    const s = await rawStream()
    s.send(encodeFrame(Uint8Array.of(9, 1, 1, 2, 3)))
    expect(await endsWithin(s, 3000)).toBe(true)
  })

  it('T3: thousands of stream attempts hit the per-protocol limit; other peers are unaffected', async () => {
    const attempts = 2000
    const opened: Stream[] = []
    let refused = 0
    await Promise.all(Array.from({ length: attempts }, async () => {
      try { opened.push(await rawStream()) } catch { refused++ }
    }))
    expect(refused).toBeGreaterThan(0)
    expect(await honestDeliveryWorks()).toBe(true)
    for (const s of opened) s.abort(new Error('done'))
  })

  it('T6: fast redials past the inbound threshold fail as values; no socket error crashes either side', async () => {
    const redialer = await node()
    let failures = 0
    for (let i = 0; i < 120; i++) {
      try {
        await redialer.dial(server.getMultiaddrs()[0], { signal: AbortSignal.timeout(2000) })
        await redialer.hangUp(server.peerId)
      } catch {
        failures++
      }
    }
    // Still alive, both of them, and the server still serves others.
    expect(redialer.status).toBe('started')
    expect(server.status).toBe('started')
    expect(await honestDeliveryWorks()).toBe(true)
    expect(failures).toBeLessThan(120)
    await redialer.stop()
  })
})

/**
 * The checklist's transport items on real libp2p nodes over loopback TCP: garbage, oversize
 * frames, slow senders, unknown versions and stream floods on /sotto/deliver/1 cost the
 * offender its stream and nothing else.
 *
 * Each refusal is checked from both sides: the offending stream is reset (the client sees a
 * remote reset, not a reply and not its own timeout), and the server logged the reason, the
 * FrameError code, for that reset.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { DELIVER_PROTOCOL, MAX_DELIVER_FRAME, MAX_INBOUND_DELIVER_STREAMS } from '../../node/net/constants.js'
import { deliverEnvelope, registerDeliver } from '../../node/net/deliver.js'
import { checkVersion, encodeFrame, FRAME_VERSION } from '../../node/net/frames.js'
import { codeOf, outcome, plainNode, ResetLog, type Outcome } from '../helpers/stream-probe.js'

let server: SottoLibp2p
let attacker: SottoLibp2p
let honest: SottoLibp2p
const received: Uint8Array[] = []
/** The server's reset codes, and the event the tests wait on (a reset logged, an envelope reached the handler). */
const resets = new ResetLog('deliver stream reset')
const resetCodes = resets.codes
const until = async (condition: () => boolean): Promise<void> => { await resets.until(condition) }
const resetCode = async (index: number): Promise<string> => await resets.code(index)
const notify = (): void => { resets.notify() }


/** While set, envelopes from this peer wait in the handler until `gate` resolves (T3). */
let hold: { peer: string, gate: Promise<void>, inHandler: number } | undefined

async function node (): Promise<SottoLibp2p> {
  return await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
}


beforeAll(async () => {
  server = await node()
  attacker = await node()
  honest = await node()
  await registerDeliver(server, {
    logger: resets.logger.forComponent('t'),
    frameTimeoutMs: 1000,
    onEnvelope: async (e, from) => {
      received.push(e)
      if (hold !== undefined && from.toString() === hold.peer) {
        hold.inHandler++
        notify()
        await hold.gate
      }
      return 'accepted'
    }
  })
})

afterAll(async () => { await Promise.all([server, attacker, honest].map(async (n) => await n.stop())) })

async function rawStream (): Promise<Stream> {
  return await attacker.dialProtocol(server.getMultiaddrs()[0], DELIVER_PROTOCOL)
}


function envelopeFrame (version: number, envelope: Uint8Array): Uint8Array {
  return encodeFrame(Uint8Array.of(version, 0x01, ...envelope))
}

async function honestDeliveryWorks (): Promise<boolean> {
  const r = await deliverEnvelope(honest, server.peerId, server.getMultiaddrs(), new Uint8Array([1, 2, 3]))
  return r.ok
}


describe('transport limits on /sotto/deliver/1', () => {
  it('T1: garbage bytes reset that stream; the node and other peers carry on', async () => {
    const before = resetCodes.length
    const s = await rawStream()
    s.send(new Uint8Array(64).fill(0x41))
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    // "AAAA" read as a length is 1 GiB: refused as too large, nothing else tried.
    expect(await resetCode(before)).toBe('ERR_FRAME_TOO_LARGE')
    expect(await honestDeliveryWorks()).toBe(true)
    // The attacker's own connection is still usable for a proper delivery.
    expect((await deliverEnvelope(attacker, server.peerId, server.getMultiaddrs(), new Uint8Array([9]))).ok).toBe(true)
  })

  it('T2: an oversize length prefix is refused before anything of that size is allocated', async () => {
    const before = resetCodes.length
    const memBefore = process.memoryUsage().arrayBuffers
    const s = await rawStream()
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 0xfffffff0)
    s.send(header)
    // Refused on the header alone: the reset comes from the length check, not from waiting for the body.
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_FRAME_TOO_LARGE')
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(64 * 1024 * 1024)
    // One byte over the limit, sent whole: refused too.
    const s2 = await rawStream()
    s2.send(encodeFrame(new Uint8Array(MAX_DELIVER_FRAME + 1).fill(1)))
    expect(await outcome(s2)).toEqual({ kind: 'reset' })
    expect(await resetCode(before + 1)).toBe('ERR_FRAME_TOO_LARGE')
    expect(await honestDeliveryWorks()).toBe(true)
  })

  it('T4: a stream sending one byte at a time is reset by the frame timeout', async () => {
    const before = resetCodes.length
    const s = await rawStream()
    const frame = envelopeFrame(FRAME_VERSION, Uint8Array.of(7, 7, 7))
    let ended = false
    const result = outcome(s, 20_000).finally(() => { ended = true })
    // The attack itself: one byte every 400 ms, so the whole frame would take 3.6 s (timeout: 1 s).
    let sent = 0
    for (; sent < frame.length && !ended; sent++) {
      try { s.send(frame.subarray(sent, sent + 1)) } catch { break }
      await new Promise((resolve) => setTimeout(resolve, 400))
    }
    expect(await result).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_FRAME_TIMEOUT')
    // Reset while the frame was still incomplete.
    expect(sent).toBeLessThan(frame.length)
    expect(await honestDeliveryWorks()).toBe(true)
  })

  it('T5: a frame with an unknown version is refused with a typed error and a reset; version 1 is answered', async () => {
    expect(codeOf(() => checkVersion(Uint8Array.of(9, 1, 2)))).toBe('ERR_UNKNOWN_VERSION')
    expect(codeOf(() => checkVersion(Uint8Array.of(0, 1, 2)))).toBe('ERR_UNKNOWN_VERSION')
    expect(codeOf(() => checkVersion(Uint8Array.of(FRAME_VERSION, 1, 2)))).toBeUndefined()

    const marker = Uint8Array.of(0x55, 0x4e, 0x4b, 0x56) // only ever sent with the unknown version
    const before = resetCodes.length
    const s = await rawStream()
    s.send(envelopeFrame(9, marker))
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await resetCode(before)).toBe('ERR_UNKNOWN_VERSION')
    expect(received.some((e) => Buffer.from(e).equals(Buffer.from(marker)))).toBe(false)

    // The same frame with version 1 on the same kind of stream: answered "accepted" (verdict 0).
    const ok = await rawStream()
    ok.send(envelopeFrame(FRAME_VERSION, Uint8Array.of(0x4f, 0x4b)))
    expect(await outcome(ok)).toEqual({ kind: 'reply', frame: Uint8Array.of(FRAME_VERSION, 0x02, 0) })
    expect(resetCodes.length).toBe(before + 1)
  })

  it('T3: one connection gets MAX_INBOUND_DELIVER_STREAMS delivery streams served at a time; a flood beyond is refused; other peers are unaffected', async () => {
    // The flooder runs plain libp2p, so no limit on its own side refuses anything first.
    const flooder = await plainNode()
    let release!: () => void
    hold = { peer: flooder.peerId.toString(), gate: new Promise<void>((resolve) => { release = resolve }), inHandler: 0 }
    const served: Array<Promise<Outcome>> = []
    try {
      const connection = await flooder.dial(server.getMultiaddrs()[0])
      const open = async (): Promise<Outcome> => {
        let s: Stream | undefined
        try {
          s = await connection.newStream(DELIVER_PROTOCOL, { maxOutboundStreams: 10_000 })
          s.send(envelopeFrame(FRAME_VERSION, Uint8Array.of(0x46)))
          return await outcome(s, 30_000)
        } catch (err) {
          // Refused right after negotiation: the reset reaches the dialer inside the
          // multistream-select exchange (as a reset or as the end of the stream), or just
          // after it, before the envelope could be sent.
          const name = (err as Error).name
          return name === 'StreamResetError' || name === 'UnexpectedEOFError' || s?.status === 'reset' ? { kind: 'reset' } : { kind: 'error', name }
        }
      }
      // Up to the limit, one after the other: each is served and waits in the handler.
      for (let i = 0; i < MAX_INBOUND_DELIVER_STREAMS; i++) {
        served.push(open())
        await until(() => hold!.inHandler === i + 1)
      }
      // Then a flood on the same connection while those are held: every one is refused.
      const attempts = 200
      let refused = 0
      const other: Outcome[] = []
      const flood = Array.from({ length: attempts }, async () => {
        const r = await open()
        if (r.kind === 'reset') refused++
        else other.push(r)
        notify()
      })
      // Each flood stream ends up refused, answered, or waiting in the handler.
      await until(() => refused + other.length + (hold!.inHandler - MAX_INBOUND_DELIVER_STREAMS) >= attempts)
      expect(hold.inHandler).toBe(MAX_INBOUND_DELIVER_STREAMS)
      expect(other).toEqual([])
      expect(refused).toBe(attempts)
      await Promise.all(flood)
      // Only streams were refused: the flooder's connection is the same one, still open.
      expect(flooder.getConnections(server.peerId).map((c) => c.id)).toEqual([connection.id])
      // While the flooder's streams are held, another peer still delivers.
      expect(await honestDeliveryWorks()).toBe(true)
      release()
      expect((await Promise.all(served)).map((r) => r.kind)).toEqual(Array(MAX_INBOUND_DELIVER_STREAMS).fill('reply'))
    } finally {
      release()
      hold = undefined
      await flooder.stop()
    }
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

/**
 * The checklist's transport items on Sotto's DHT protocol (/sotto/kad/1.0.0, served by
 * kad-dht), on real libp2p nodes over loopback TCP. kad-dht frames messages with a varint
 * length and reads them with libp2p's length-prefixed reader: no maximum length is set, so a
 * huge length prefix is not refused on sight; what bounds it is that reader's 4 MiB buffer
 * and kad-dht's 10 s per-message timeout. These tests pin down what a peer can make a DHT
 * node hold, and that the offender loses its stream and nothing else.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DHT_PROTOCOL, MAX_INBOUND_DHT_STREAMS } from '../../node/net/constants.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'

/** kad-dht's defaults, which node/net/libp2p.ts leaves as they are. */
const KAD_MESSAGE_TIMEOUT_MS = 10_000
const KAD_READ_BUFFER_BYTES = 4 * 1024 * 1024

let server: SottoLibp2p
let attacker: SottoLibp2p
let honest: SottoLibp2p
const running: Libp2p[] = []

async function node (): Promise<SottoLibp2p> {
  const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  running.push(n)
  return n
}

beforeAll(async () => {
  server = await node()
  attacker = await node()
  honest = await node()
  for (const n of [attacker, honest]) await n.dial(server.getMultiaddrs()[0])
})

afterAll(async () => { await Promise.all(running.map(async (n) => await n.stop())) })

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  out.push(n)
  return Uint8Array.from(out)
}
/** A FIND_NODE request (type 4) for `key`, length-prefixed as kad-dht frames it. */
function findNode (key: Uint8Array): Uint8Array {
  const body = Uint8Array.of(0x08, 4, 0x12, key.length, ...key)
  return Uint8Array.of(...varint(body.length), ...body)
}

type Outcome = { kind: 'data', bytes: number } | { kind: 'end' } | { kind: 'reset' } | { kind: 'error', name: string }

/** What the server did with this stream: sent something back, ended it, or reset it. */
async function outcome (stream: Stream): Promise<Outcome> {
  try {
    for await (const chunk of stream) return { kind: 'data', bytes: chunk.byteLength }
    // A reset that lands before the first read ends the iteration instead of throwing.
    return stream.status === 'reset' ? { kind: 'reset' } : { kind: 'end' }
  } catch (err) {
    const name = (err as Error).name
    return name === 'StreamResetError' ? { kind: 'reset' } : { kind: 'error', name }
  }
}

async function rawStream (from: Libp2p = attacker): Promise<Stream> {
  return await from.dialProtocol(server.getMultiaddrs()[0], DHT_PROTOCOL)
}

/** A proper FIND_NODE from `from` is answered. */
async function answers (from: Libp2p = honest): Promise<boolean> {
  const s = await rawStream(from)
  s.send(findNode(new Uint8Array(32).fill(1)))
  const r = await outcome(s)
  s.abort(new Error('done'))
  return r.kind === 'data'
}

describe('transport limits on /sotto/kad/1.0.0', () => {
  it('T1: bytes that are no DHT message reset that stream; the node and the same connection carry on', async () => {
    expect(await answers(attacker)).toBe(true)
    const s = await rawStream()
    // A well-framed message whose body is not protobuf: field 31, wire type 7.
    s.send(Uint8Array.of(8, ...new Uint8Array(8).fill(0xff)))
    expect(await outcome(s)).toEqual({ kind: 'reset' })
    expect(await answers(honest)).toBe(true)
    expect(await answers(attacker)).toBe(true)
  })

  it('T2: a 1 GiB length prefix allocates nothing of that size; the stream is reset once kad-dht\'s 4 MiB read buffer is full', async () => {
    const memBefore = process.memoryUsage().arrayBuffers
    const s = await rawStream()
    s.send(varint(1024 * 1024 * 1024))
    const result = outcome(s)
    let sent = 0
    const chunk = new Uint8Array(64 * 1024).fill(7)
    for (; sent < 2 * KAD_READ_BUFFER_BYTES && s.status === 'open' && s.writeStatus === 'writable'; sent += chunk.length) {
      if (!s.send(chunk)) await s.onDrain().catch(() => {})
    }
    expect(await result).toEqual({ kind: 'reset' })
    // Reset before the sender got far past the buffer, however large a message it announced.
    expect(sent).toBeLessThanOrEqual(2 * KAD_READ_BUFFER_BYTES)
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(64 * 1024 * 1024)
    expect(await answers(honest)).toBe(true)
  })

  it('T3: one connection gets MAX_INBOUND_DHT_STREAMS streams at a time; a flood beyond is refused; other peers are unaffected', async () => {
    // The flooder runs plain libp2p, so no limit on its own side refuses anything first.
    const flooder = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    running.push(flooder)
    const connection = await flooder.dial(server.getMultiaddrs()[0])
    const open = async (): Promise<Stream | Outcome> => {
      try {
        return await connection.newStream(DHT_PROTOCOL, { maxOutboundStreams: 10_000 })
      } catch (err) {
        const name = (err as Error).name
        return name === 'StreamResetError' || name === 'UnexpectedEOFError' ? { kind: 'reset' } : { kind: 'error', name }
      }
    }
    // Up to the limit: opened, never written (held by the server until its timeout).
    const held: Stream[] = []
    for (let i = 0; i < MAX_INBOUND_DHT_STREAMS; i++) held.push(await open() as Stream)
    const heldResults = held.map(outcome)
    // A flood beyond, on the same connection, while those are held: every one is refused.
    const flood = await Promise.all(Array.from({ length: 100 }, async () => {
      const s = await open()
      return 'kind' in s ? s : await outcome(s)
    }))
    expect(flood.filter((o) => o.kind !== 'reset')).toEqual([])
    expect(flooder.getConnections(server.peerId).map((c) => c.id)).toEqual([connection.id])
    expect(await answers(honest)).toBe(true)
    // T6: the held streams, opened and never written, are reset by kad-dht's timeout.
    expect(await Promise.all(heldResults)).toEqual(held.map(() => ({ kind: 'reset' })))
  }, 3 * KAD_MESSAGE_TIMEOUT_MS)

  it('T4: a stream sending one byte at a time is reset by kad-dht\'s message timeout', async () => {
    const s = await rawStream()
    const message = findNode(new Uint8Array(32).fill(2))
    let ended = false
    const result = outcome(s).finally(() => { ended = true })
    // One byte every 500 ms: the whole message would take 18 s (timeout: 10 s).
    let sent = 0
    for (; sent < message.length && !ended; sent++) {
      try { s.send(message.subarray(sent, sent + 1)) } catch { break }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    expect(await result).toEqual({ kind: 'reset' })
    expect(sent).toBeLessThan(message.length)
    expect(await answers(honest)).toBe(true)
  }, 3 * KAD_MESSAGE_TIMEOUT_MS)

  it('T5: another DHT protocol version (or the IPFS DHT) is refused at negotiation with a typed error', async () => {
    for (const protocol of ['/sotto/kad/2.0.0', '/ipfs/kad/1.0.0']) {
      const err = await attacker.dialProtocol(server.getMultiaddrs()[0], protocol).then(() => undefined, (e: Error) => e)
      expect(err?.name).toBe('UnsupportedProtocolError')
    }
    expect(await answers(attacker)).toBe(true)
  })
})

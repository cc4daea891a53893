/**
 * MAX_STREAMS_PER_CONNECTION on real nodes over loopback TCP: a peer that opens more streams
 * than that on one connection has the extra ones reset by the muxer, whatever the protocol
 * and whether or not the streams ever negotiate one; its connection, the streams it already
 * has and every other peer go on. Our own node opens no more than that on one connection.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { MAX_STREAMS_PER_CONNECTION } from '../../node/net/constants.js'

/** A protocol whose handler keeps every stream open until the test lets go of it. */
const HOLD = '/sotto-test/hold/1'
/** Far above MAX_STREAMS_PER_CONNECTION, so per-protocol limits never get a say here. */
const NO_PROTOCOL_LIMIT = 100_000

const changed = new EventTarget()
function notify (): void { changed.dispatchEvent(new Event('change')) }
/** Resolves once `condition` holds; re-checked on every change, never on a timer. */
async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => changed.addEventListener('change', resolve, { once: true }))
}

/** Streams held open by a node's HOLD handler, by remote peer. */
function holder (node: Libp2p): Map<string, Stream[]> {
  const held = new Map<string, Stream[]>()
  void node.handle(HOLD, (stream, connection) => {
    const peer = connection.remotePeer.toString()
    held.set(peer, [...(held.get(peer) ?? []), stream])
    notify()
  }, { maxInboundStreams: NO_PROTOCOL_LIMIT, maxOutboundStreams: NO_PROTOCOL_LIMIT })
  return held
}

/**
 * A peer that does not run Sotto's code: libp2p and yamux defaults (1,000 streams each way),
 * except that it sends no keep-alive pings, so the only yamux ping on its connections is the
 * one a test sends.
 */
async function plainNode (): Promise<Libp2p> {
  return await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux({ enableKeepAlive: false })] })
}

/**
 * Dials and waits until the other side has its end of the connection set up too. Streams that
 * arrive before that are "early streams"; libp2p closes a connection with more than 10 of them,
 * which is not the limit under test here.
 */
async function dialReady (from: Libp2p, to: Libp2p): Promise<Connection> {
  const ready = new Promise<void>((resolve) => {
    const onOpen = (event: CustomEvent<Connection>): void => {
      if (!event.detail.remotePeer.equals(from.peerId)) return
      to.removeEventListener('connection:open', onOpen)
      resolve()
    }
    to.addEventListener('connection:open', onOpen)
  })
  const connection = await from.dial(to.getMultiaddrs()[0])
  await ready
  return connection
}

type Opened = { ok: true, stream: Stream } | { ok: false, name: string }

/** Opens a HOLD stream; a refusal by the remote muxer shows as a reset (or as the end of the negotiation). */
async function openHold (connection: Connection): Promise<Opened> {
  try {
    return { ok: true, stream: await connection.newStream(HOLD, { maxOutboundStreams: NO_PROTOCOL_LIMIT }) }
  } catch (err) {
    return { ok: false, name: (err as Error).name }
  }
}

let server: SottoLibp2p
let serverHeld: Map<string, Stream[]>
const others: Libp2p[] = []

beforeAll(async () => {
  server = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  serverHeld = holder(server)
})

afterEach(async () => {
  for (const streams of serverHeld.values()) for (const s of streams) s.abort(new Error('test over'))
  serverHeld.clear()
  await Promise.all(others.splice(0).map(async (n) => await n.stop()))
})

afterAll(async () => { await server.stop() })

describe('streams per connection (MAX_STREAMS_PER_CONNECTION)', () => {
  it('a peer opening more streams than the limit on one connection gets the extra ones reset; its connection and other peers go on', async () => {
    const attacker = await plainNode()
    const honest = await plainNode()
    others.push(attacker, honest)
    const connection = await dialReady(attacker, server)
    const attempts = MAX_STREAMS_PER_CONNECTION + 100
    const results = await Promise.all(Array.from({ length: attempts }, async () => await openHold(connection)))
    const opened = results.filter((r) => r.ok)
    const refused = results.filter((r): r is { ok: false, name: string } => !r.ok)
    // Exactly the limit got through to the handler, and every attempt beyond it was reset by the muxer.
    await until(() => (serverHeld.get(attacker.peerId.toString())?.length ?? 0) >= opened.length)
    expect(opened).toHaveLength(MAX_STREAMS_PER_CONNECTION)
    expect(serverHeld.get(attacker.peerId.toString())).toHaveLength(MAX_STREAMS_PER_CONNECTION)
    expect(refused).toHaveLength(attempts - MAX_STREAMS_PER_CONNECTION)
    expect(new Set(refused.map((r) => r.name))).toEqual(new Set(['StreamResetError']))
    // The node goes on: same connection still open, another peer is served.
    expect(server.status).toBe('started')
    expect(connection.status).toBe('open')
    expect(attacker.getConnections(server.peerId).map((c) => c.id)).toEqual([connection.id])
    const other = await openHold(await honest.dial(server.getMultiaddrs()[0]))
    expect(other.ok).toBe(true)
    await until(() => serverHeld.get(honest.peerId.toString())?.length === 1)
    // Once the server lets go of the attacker's streams, the same connection may open new ones.
    for (const s of serverHeld.get(attacker.peerId.toString()) ?? []) s.abort(new Error('released'))
    serverHeld.delete(attacker.peerId.toString())
    const again = await openHold(connection)
    expect(again.ok).toBe(true)
    await until(() => serverHeld.get(attacker.peerId.toString())?.length === 1)
  })

  it('streams that never negotiate a protocol count too: the extra ones are reset at once, not after the negotiation timeout', async () => {
    const attacker = await plainNode()
    others.push(attacker)
    const connection = await dialReady(attacker, server)
    // Raw muxer streams, below any protocol: the attacker sends the SYN and nothing else, so
    // each would sit in protocol negotiation on the server (10 s) if the muxer let it in.
    const muxer = (connection as unknown as { muxer: { createStream: () => Promise<Stream>, ping: () => Promise<number> } }).muxer
    const attempts = MAX_STREAMS_PER_CONNECTION + 100
    const raw = await Promise.all(Array.from({ length: attempts }, async () => await muxer.createStream()))
    // A yamux ping is answered in order after every frame sent before it: once this ping,
    // sent after the SYNs, is answered, every refusal (RST) the server sent for them has arrived.
    await muxer.ping()
    const reset = raw.filter((s) => s.status === 'reset')
    expect(reset).toHaveLength(attempts - MAX_STREAMS_PER_CONNECTION)
    expect(raw.filter((s) => s.status === 'open')).toHaveLength(MAX_STREAMS_PER_CONNECTION)
    // The first ones in are the ones kept.
    expect(raw.slice(0, MAX_STREAMS_PER_CONNECTION).every((s) => s.status === 'open')).toBe(true)
    expect(connection.status).toBe('open')
    for (const s of raw) s.abort(new Error('done'))
  })

  it('our node opens no more than the limit on one connection; the next one fails locally with a typed error', async () => {
    const peer = await plainNode()
    others.push(peer)
    const peerHeld = holder(peer)
    const connection = await dialReady(server, peer)
    // Our own services (identify) may have a stream of their own open on this connection; it
    // counts against the same limit. All the opens below pass the muxer's check in this tick.
    const busy = connection.streams.filter((s) => s.direction === 'outbound').length
    expect(busy).toBeLessThan(4)
    const attempts = MAX_STREAMS_PER_CONNECTION + 20
    const results = await Promise.all(Array.from({ length: attempts }, async () => await openHold(connection)))
    const refused = results.filter((r): r is { ok: false, name: string } => !r.ok)
    expect(results.filter((r) => r.ok)).toHaveLength(MAX_STREAMS_PER_CONNECTION - busy)
    expect(refused).toHaveLength(attempts - MAX_STREAMS_PER_CONNECTION + busy)
    expect(new Set(refused.map((r) => r.name))).toEqual(new Set(['TooManyOutboundProtocolStreamsError']))
    await until(() => peerHeld.get(server.peerId.toString())?.length === MAX_STREAMS_PER_CONNECTION - busy)
    for (const r of results) if (r.ok) r.stream.abort(new Error('done'))
  })
})

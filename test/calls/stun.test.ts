/**
 * The STUN responder (node/calls/stun-server.ts): RFC 5389 Binding requests answered with the
 * sender's address in XOR-MAPPED-ADDRESS, over a real UDP socket on loopback; anything else
 * gets no answer at all. Also where it listens (the libp2p TCP listener's host and port).
 */
import { createSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { bindingResponse, MAGIC_COOKIE, startStunServer, type StunServer } from '../../node/calls/stun-server.js'
import { stunPlace } from '../../node/calls/stun-address.js'
import { silentLogger } from '../../node/log.js'

function bindingRequest (transaction = randomBytes(12)): Uint8Array {
  const out = new Uint8Array(20)
  const v = new DataView(out.buffer)
  v.setUint16(0, 0x0001)
  v.setUint16(2, 0)
  v.setUint32(4, MAGIC_COOKIE)
  out.set(transaction, 8)
  return out
}

/** Reads XOR-MAPPED-ADDRESS back (RFC 5389 §15.2), as a browser does. */
function mappedAddress (response: Uint8Array): { address: string, port: number, transaction: Uint8Array } {
  const v = new DataView(response.buffer, response.byteOffset, response.byteLength)
  expect(v.getUint16(0)).toBe(0x0101)
  expect(v.getUint32(4)).toBe(MAGIC_COOKIE)
  expect(v.getUint16(20)).toBe(0x0020)
  const family = response[25]
  const port = v.getUint16(26) ^ (MAGIC_COOKIE >>> 16)
  const mask = response.subarray(4, 20)
  const bytes = response.subarray(28, 28 + (family === 1 ? 4 : 16)).map((b, i) => b ^ mask[i])
  const address = family === 1 ? [...bytes].join('.') : [...Array(8).keys()].map((i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16)).join(':')
  return { address, port, transaction: response.subarray(8, 20) }
}

describe('Binding responses', () => {
  it('carry the sender\'s IPv4 and IPv6 address and port, XORed, with the request\'s transaction id', () => {
    const tx = randomBytes(12)
    const v4 = bindingResponse(bindingRequest(tx), '192.168.1.20', 54321)
    expect(v4).toBeDefined()
    expect(mappedAddress(v4 as Uint8Array)).toEqual({ address: '192.168.1.20', port: 54321, transaction: new Uint8Array(tx) })
    const v6 = bindingResponse(bindingRequest(tx), 'fe80::1:2', 40000)
    expect(mappedAddress(v6 as Uint8Array)).toMatchObject({ address: 'fe80:0:0:0:0:0:1:2', port: 40000 })
  })

  it.each([
    ['too short', bindingRequest().subarray(0, 19)],
    ['not a Binding request', (() => { const r = bindingRequest(); r[1] = 0x03; return r })()],
    ['no magic cookie', (() => { const r = bindingRequest(); r[4] = 0; return r })()],
    ['a length that does not match', (() => { const r = bindingRequest(); r[3] = 8; return r })()],
    ['larger than a datagram should be', (() => { const r = new Uint8Array(600); r.set(bindingRequest()); new DataView(r.buffer).setUint16(2, 580); return r })()]
  ])('%s: no answer', (_what, request) => {
    expect(bindingResponse(request, '127.0.0.1', 1000)).toBeUndefined()
  })
})

describe('the responder on a socket', () => {
  let server: StunServer | undefined
  afterEach(async () => { await server?.close() })

  it('answers a request over UDP on loopback with the port it came from; garbage gets nothing', async () => {
    server = await startStunServer({ host: '127.0.0.1', port: 0, logger: silentLogger.forComponent('t') })
    const client = createSocket('udp4')
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve))
    const replies: Buffer[] = []
    const next = async (): Promise<Buffer> => await new Promise((resolve) => client.once('message', resolve))
    client.on('message', (m) => replies.push(m))
    // Garbage first: the answer that arrives must be the Binding request's.
    client.send(Buffer.from('hello stun'), server.port, '127.0.0.1')
    const tx = randomBytes(12)
    const got = next()
    client.send(bindingRequest(tx), server.port, '127.0.0.1')
    const mapped = mappedAddress(new Uint8Array(await got))
    expect(mapped).toEqual({ address: '127.0.0.1', port: client.address().port, transaction: new Uint8Array(tx) })
    expect(replies).toHaveLength(1)
    client.close()
  })
})

describe('where it listens', () => {
  it('the TCP listener\'s host and actual port; for 0.0.0.0 a LAN address (or loopback) is announced', () => {
    expect(stunPlace(['/ip4/127.0.0.1/tcp/0'], ['/ip4/127.0.0.1/tcp/41234/p2p/12D3KooWabc'])).toEqual({ bindHost: '127.0.0.1', port: 41234, announceHost: '127.0.0.1' })
    const any = stunPlace(['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'], ['/ip4/127.0.0.1/tcp/5000/ws', '/ip4/127.0.0.1/tcp/4001'])
    expect(any).toMatchObject({ bindHost: '0.0.0.0', port: 4001 })
    expect(typeof any?.announceHost).toBe('string')
    expect(stunPlace(['/ip4/127.0.0.1/tcp/0/ws'], ['/ip4/127.0.0.1/tcp/5000/ws'])).toBeUndefined()
  })
})

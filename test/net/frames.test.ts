/**
 * FrameReader over a real libp2p stream (TCP on loopback, Noise, yamux): frames a sender
 * writes back to back may arrive in one read, the end of one frame together with the start of
 * the next, and each is still read whole; a frame over the limit is still refused by its
 * length prefix alone.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes } from '../../node/bytes.js'
import { encodeFrame, FrameReader } from '../../node/net/frames.js'

const PROTOCOL = '/sotto-test/frames/1'
const MAX_FRAME = 1000

let server: Libp2p
let client: Libp2p
/** What the server's reader made of each stream: the frames' lengths, or the error code. */
const results: Array<Promise<Array<number | string>>> = []

async function readAll (stream: Stream): Promise<Array<number | string>> {
  const reader = new FrameReader(stream, MAX_FRAME, 5000)
  const got: Array<number | string> = []
  try {
    for (let frame = await reader.read(); frame !== undefined; frame = await reader.read()) got.push(frame.length)
  } catch (err) {
    got.push((err as { code?: string }).code ?? 'untyped')
  }
  return got
}

beforeAll(async () => {
  const node = async (): Promise<Libp2p> => await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  server = await node()
  client = await node()
  await server.handle(PROTOCOL, (stream) => { results.push(readAll(stream)) })
})

afterAll(async () => {
  await Promise.all([server?.stop(), client?.stop()])
})

async function sendOnce (bytes: Uint8Array): Promise<Array<number | string>> {
  const count = results.length
  const s = await client.dialProtocol(server.getMultiaddrs()[0], PROTOCOL)
  s.send(bytes)
  await s.close()
  while (results.length === count) await new Promise((resolve) => setImmediate(resolve))
  return await results[count]
}

describe('FrameReader', () => {
  it('reads frames that arrive together in one read, each whole, even when together they exceed one frame\'s limit', async () => {
    const frames = [MAX_FRAME, MAX_FRAME, 7, MAX_FRAME].map((n) => encodeFrame(new Uint8Array(n).fill(n % 251)))
    expect(await sendOnce(concatBytes(...frames))).toEqual([MAX_FRAME, MAX_FRAME, 7, MAX_FRAME])
  })

  it('refuses a frame over the limit by its length prefix, with its code', async () => {
    expect(await sendOnce(concatBytes(encodeFrame(new Uint8Array(5)), encodeFrame(new Uint8Array(MAX_FRAME + 1))))).toEqual([5, 'ERR_FRAME_TOO_LARGE'])
  })
})

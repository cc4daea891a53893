/**
 * A minimal STUN responder (RFC 5389 Binding only), so any Sotto node can tell a browser the
 * address it is seen from, with no special server: off by default, on with `sotto start
 * --stun`, on UDP at the host and port number of the node's libp2p TCP listener. It answers a
 * Binding request with XOR-MAPPED-ADDRESS and nothing else: no authentication, no relaying,
 * no state. The answer (32 or 44 bytes) is barely larger than the request (at least 20), so
 * it amplifies little; each source address is rate limited besides.
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIPv4 } from 'node:net'
import type { ComponentLogger } from '../log.js'
import { TokenBuckets } from '../net/token-bucket.js'

/** RFC 5389 §6: the fixed value in every STUN header. */
export const MAGIC_COOKIE = 0x2112a442
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
/** RFC 5389 §15.2. */
const XOR_MAPPED_ADDRESS = 0x0020
const HEADER_BYTES = 20
/** RFC 5389 §7.1: a request over UDP should fit an unfragmented datagram; bigger is not a browser's. */
const MAX_REQUEST_BYTES = 548
/** Binding requests per source address per second: a browser gathering sends a handful. */
const RATE_PER_SECOND = 20
const RATE_BURST = 40
/** Source addresses whose buckets are remembered. */
const MAX_RATE_KEYS = 4096

export interface StunServer {
  readonly host: string
  readonly port: number
  close: () => Promise<void>
}

/**
 * The Binding success response to `request` as seen from `address:port`, or undefined when
 * the datagram is not a well-formed Binding request (then nothing is sent back).
 */
export function bindingResponse (request: Uint8Array, address: string, port: number): Uint8Array | undefined {
  if (request.length < HEADER_BYTES || request.length > MAX_REQUEST_BYTES) return undefined
  const view = new DataView(request.buffer, request.byteOffset, request.byteLength)
  const type = view.getUint16(0)
  const length = view.getUint16(2)
  // §6: the top two bits are zero, the length counts what follows the header, in 4-byte steps.
  if (type !== BINDING_REQUEST || length !== request.length - HEADER_BYTES || length % 4 !== 0 || view.getUint32(4) !== MAGIC_COOKIE) return undefined
  const transaction = request.subarray(8, 20)
  const v4 = isIPv4(address)
  const addrBytes = v4 ? ipv4Bytes(address) : ipv6Bytes(address)
  if (addrBytes === undefined) return undefined
  const attrLength = 4 + addrBytes.length
  const out = new Uint8Array(HEADER_BYTES + 4 + attrLength)
  const w = new DataView(out.buffer)
  w.setUint16(0, BINDING_SUCCESS)
  w.setUint16(2, 4 + attrLength)
  w.setUint32(4, MAGIC_COOKIE)
  out.set(transaction, 8)
  w.setUint16(20, XOR_MAPPED_ADDRESS)
  w.setUint16(22, attrLength)
  w.setUint8(24, 0)
  w.setUint8(25, v4 ? 0x01 : 0x02)
  // §15.2: the port XORed with the cookie's top half; the address with the cookie (and, for
  // IPv6, the transaction id after it).
  w.setUint16(26, port ^ (MAGIC_COOKIE >>> 16))
  const mask = out.subarray(4, 20)
  for (let i = 0; i < addrBytes.length; i++) out[28 + i] = addrBytes[i] ^ mask[i]
  return out
}

function ipv4Bytes (address: string): Uint8Array | undefined {
  const parts = address.split('.').map(Number)
  return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255) ? Uint8Array.from(parts) : undefined
}

function ipv6Bytes (address: string): Uint8Array | undefined {
  const plain = address.split('%')[0]
  // An IPv4-mapped address (::ffff:a.b.c.d) is answered as the IPv4 address it is.
  const [head, tail] = plain.includes('::') ? plain.split('::') : [plain, undefined]
  const groups = (s: string): string[] => s === '' ? [] : s.split(':')
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const fill = 8 - left.length - right.length
  if (fill < 0 || (tail === undefined && fill !== 0)) return undefined
  const all = [...left, ...Array(fill).fill('0'), ...right]
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    const v = Number.parseInt(all[i], 16)
    if (!/^[0-9a-f]{1,4}$/i.test(all[i]) || Number.isNaN(v)) return undefined
    out[2 * i] = v >> 8
    out[2 * i + 1] = v & 0xff
  }
  return out
}

export interface StunServerInit {
  host: string
  port: number
  logger: ComponentLogger
  /** @default Date.now */
  now?: () => number
}

/** Listens on UDP host:port and answers Binding requests until close(). */
export async function startStunServer (init: StunServerInit): Promise<StunServer> {
  const socket: Socket = createSocket({ type: isIPv4(init.host) || init.host === '0.0.0.0' ? 'udp4' : 'udp6' })
  const buckets = new TokenBuckets(init.now ?? Date.now, RATE_PER_SECOND, RATE_BURST, MAX_RATE_KEYS)
  socket.on('message', (msg, rinfo) => {
    if (!buckets.take(rinfo.address)) return
    const mapped = rinfo.address.startsWith('::ffff:') && isIPv4(rinfo.address.slice(7)) ? rinfo.address.slice(7) : rinfo.address
    const response = bindingResponse(msg, mapped, rinfo.port)
    if (response !== undefined) socket.send(response, rinfo.port, rinfo.address)
  })
  socket.on('error', (err) => { init.logger.warn('STUN socket error', { code: (err as NodeJS.ErrnoException).code ?? 'ERR_SOCKET' }) })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(init.port, init.host, () => { socket.off('error', reject); resolve() })
  })
  const bound = socket.address()
  return {
    host: init.host,
    port: bound.port,
    close: async () => { await new Promise<void>((resolve) => { socket.close(() => { resolve() }) }) }
  }
}

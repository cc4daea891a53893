/**
 * Where the STUN responder listens and what the UI is told: UDP on the host of the node's
 * libp2p TCP listener and the same port number (libp2p uses no UDP here, so the port is free),
 * so a peer that knows the node's TCP address knows its STUN address too.
 */
import { networkInterfaces } from 'node:os'

const TCP_LISTEN = /^\/ip4\/(\d{1,3}(?:\.\d{1,3}){3})\/tcp\/(\d+)(?:\/p2p\/[^/]+)?$/

export interface StunPlace {
  /** The address the UDP socket binds to (the TCP listener's host). */
  bindHost: string
  port: number
  /** The address the UI's browser is given (the bind address; for 0.0.0.0 a LAN address, else loopback). */
  announceHost: string
}

/** From the listen config and the addresses libp2p ended up with; undefined when there is no plain IPv4 TCP listener. */
export function stunPlace (listen: string[], addresses: string[]): StunPlace | undefined {
  const configured = listen.map((a) => TCP_LISTEN.exec(a)).find((m) => m !== null)
  if (configured === undefined || configured === null) return undefined
  const bindHost = configured[1]
  // The port libp2p picked (the config may say 0): from an address on the same host.
  const actual = addresses.map((a) => TCP_LISTEN.exec(a)).find((m) => m !== null && (bindHost === '0.0.0.0' || m[1] === bindHost))
  if (actual === undefined || actual === null) return undefined
  return { bindHost, port: Number(actual[2]), announceHost: bindHost === '0.0.0.0' ? lanAddress() ?? '127.0.0.1' : bindHost }
}

function lanAddress (): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address
  }
  return undefined
}

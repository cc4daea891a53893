/**
 * Builds the libp2p 3 node every Sotto user runs: TCP and WebSocket, Noise, Yamux,
 * identify, ping, Sotto's own Kademlia DHT (server mode: every node serves, R21), mDNS when
 * asked, bootstrap peers, AutoNAT, circuit relay (client always, server with `relay`),
 * DCUtR. The peer key is the device's own random key, never the account key (K5, K6).
 */
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT, type SelectFn, type ValidateFn } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { fastNoiseCrypto } from './noise-crypto.js'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ConnectionGater, Libp2p, PrivateKey } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import { RecordDatastore } from './record-datastore.js'
import { GOSSIP_MAX_MESSAGE_BYTES, CONNECTION_PING_INTERVAL_MS, DHT_PROTOCOL, INBOUND_CONNECTION_THRESHOLD, MAX_CONNECTIONS, MAX_INBOUND_DHT_STREAMS, MAX_INCOMING_PENDING_CONNECTIONS, MAX_STREAMS_PER_CONNECTION, MAX_STREAM_WINDOW_BYTES, RECORD_NAMESPACE } from './constants.js'

export interface SottoLibp2pInit {
  privateKey: PrivateKey
  listen?: string[]
  bootstrap?: string[]
  mdns?: boolean
  relay?: boolean
  validate: ValidateFn
  select: SelectFn
  /** Keep loopback and private addresses in the DHT (tests, LANs); default: when listening on them. */
  keepPrivateAddresses?: boolean
  /** Peers or addresses this node refuses to dial or accept (libp2p's gater); default: libp2p's. */
  connectionGater?: ConnectionGater
  /** Where libp2p and the DHT keep their data; default: memory, with DHT records bounded. */
  datastore?: RecordDatastore
}

export type SottoLibp2p = Libp2p<{ dht: KadDHT, identify: unknown, ping: unknown, pubsub: GossipSub }>

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']

/** Addresses gossipsub's IP colocation penalty does not apply to (peers on this machine). */
const LOOPBACK_IPS = ['127.0.0.1', '::1']

export async function createSottoLibp2p (init: SottoLibp2pInit): Promise<SottoLibp2p> {
  const listen = init.listen ?? DEFAULT_LISTEN
  const keepPrivate = init.keepPrivateAddresses ?? listen.some((a) => /\/ip4\/(127\.|10\.|192\.168\.|0\.0\.0\.0)|\/ip6\/::1?\//.test(a))
  const peerDiscovery = []
  // Dialled at once (timeout 0; the module's default waits a second): the first prekey record
  // put needs a DHT peer, and a node's only peer at start is often its bootstrap peer.
  if (init.bootstrap !== undefined && init.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: init.bootstrap, timeout: 0 }))
  if (init.mdns === true) peerDiscovery.push(mdns({ interval: 1000 }))
  const services: Record<string, any> = {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: keepPrivate ? passthroughMapper : removePrivateAddressesMapper,
      validators: { [RECORD_NAMESPACE]: init.validate },
      selectors: { [RECORD_NAMESPACE]: init.select },
      allowQueryWithZeroPeers: true,
      maxInboundStreams: MAX_INBOUND_DHT_STREAMS,
      initialQuerySelfInterval: 500
    }),
    autoNAT: autoNAT(),
    dcutr: dcutr(),
    // Group fan-out (docs/GROUPS.md): messages carry their own signature (sender keys), so the
    // libp2p-level one is off and no PeerId is bound to a message; mesh-only publishing
    // (floodPublish off) keeps a sender's bytes to its mesh (D) peers.
    // Peer scoring keeps its defaults, but for loopback: the IP colocation penalty (more than
    // 10 peers from one IP score below zero and are kept out of every mesh) is a Sybil defence
    // that means nothing for peers on this very machine, and it left meshes empty whenever
    // more than 11 nodes ran on one host (measured: bench:groups, docs/GROUPS.md §8).
    pubsub: gossipsub({
      globalSignaturePolicy: StrictNoSign,
      emitSelf: false,
      floodPublish: false,
      allowPublishToZeroTopicPeers: true,
      maxInboundDataLength: GOSSIP_MAX_MESSAGE_BYTES,
      scoreParams: { IPColocationFactorWhitelist: new Set(LOOPBACK_IPS) }
    })
  }
  if (init.relay === true) services.relay = circuitRelayServer()
  const datastore = init.datastore ?? new RecordDatastore()
  const node = await createLibp2p({
    privateKey: init.privateKey,
    datastore,
    addresses: { listen },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise({ crypto: fastNoiseCrypto() })],
    // One bound on streams per connection for all protocols together, counted by the muxer
    // before any protocol is negotiated: beyond it, a peer's new streams are reset (yamux RST).
    streamMuxers: [yamux({ maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION, streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES } })],
    peerDiscovery,
    ...(init.connectionGater !== undefined ? { connectionGater: init.connectionGater } : {}),
    connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS },
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS
    },
    services
  })
  datastore.setSelf(node.peerId)
  // libp2p 3 does not dial what discovery finds; a LAN peer found by mDNS is worth a connection.
  if (init.mdns === true) {
    node.addEventListener('peer:discovery', (event) => {
      const peer = event.detail
      if (node.getConnections(peer.id).length > 0 || node.getConnections().length >= MAX_CONNECTIONS / 2) return
      node.dial(peer.id).catch(() => {})
    })
  }
  return node as unknown as SottoLibp2p
}

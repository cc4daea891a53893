/**
 * Every limit on what a peer can make this node do, with its reason. See the "Limits" table
 * of docs/NETWORK.md for the whole picture.
 */

/** Sotto's own DHT, apart from the IPFS one. */
export const DHT_PROTOCOL = '/sotto/kad/1.0.0'
export const DELIVER_PROTOCOL = '/sotto/deliver/1'
/** Many envelopes per stream, each acked in order; dialled first, `/1` when the peer lacks it. */
export const DELIVER_PROTOCOL_V2 = '/sotto/deliver/2'
export const MAILBOX_PROTOCOL = '/sotto/mailbox/1'
/** /1 plus batch puts and several owner operations per stream; senders fall back to /1. */
export const MAILBOX_PROTOCOL_V2 = '/sotto/mailbox/2'
/** DHT key namespace of prekey records: validators and selectors are keyed by it. */
export const RECORD_NAMESPACE = 'sotto-prekeys'

/** Largest frame on /sotto/deliver/1 and /2: the largest padded envelope plus framing, with room. */
export const MAX_DELIVER_FRAME = 96 * 1024
/** A whole frame must arrive within this time, or the stream is reset (slow-loris, T4). */
export const FRAME_TIMEOUT_MS = 10_000
/** How long a sender waits for a recipient's ack (the recipient commits to disk first). */
export const DELIVER_TIMEOUT_MS = 15_000
/** Concurrent inbound delivery streams per connection; one honest peer needs few. */
export const MAX_INBOUND_DELIVER_STREAMS = 32
export const MAX_OUTBOUND_DELIVER_STREAMS = 64
/**
 * Direct deliveries one remote peer may make per second, sustained (a token bucket per
 * PeerId, T3), charged per envelope on either protocol version. Every delivered envelope
 * costs two X25519 before the session looks at it (about 0.1 ms refused, 0.15 ms opened) and
 * one that opens costs a store write. An envelope that is refused (it does not open) or a
 * frame that does not parse costs DELIVER_REFUSED_COST tokens in all, so a peer sending junk
 * gets at most a fifth of this rate in decryption attempts (about a tenth of a core), while a
 * genuine bulk sender (a group fan-out, an outbox draining after a day offline) gets all of
 * it. A peer above it is answered "rate limited" and falls back to mailboxes, so nothing is lost.
 */
export const DELIVER_RATE_PER_SECOND = 5_000
/** The bucket's size: an outbox that reconnects may send this many at once. */
export const DELIVER_BURST = 5_000
/** Tokens in all for an envelope that is refused or does not parse (one before, the rest after the verdict). */
export const DELIVER_REFUSED_COST = 5
/**
 * A `/sotto/deliver/2` stream with nothing in flight is closed by the recipient after this
 * long. Longer than DELIVER_SENDER_IDLE_MS, so the sender, which knows when a burst is over,
 * closes first and rarely races an envelope against the recipient's close.
 */
export const DELIVER_STREAM_IDLE_MS = 5_000
/** A sender closes its `/sotto/deliver/2` stream to a peer after this long without an envelope. */
export const DELIVER_SENDER_IDLE_MS = 1_000
/**
 * Envelopes a sender has on one `/sotto/deliver/2` stream before their acks: enough to hide
 * the round trip and the recipient's commit, few enough that one failed stream loses little
 * and the recipient's unread bytes stay small (it reads one envelope at a time).
 */
export const MAX_DELIVER_IN_FLIGHT = 16
/**
 * Bytes a `/sotto/deliver/2` recipient holds unread on one stream: MAX_DELIVER_IN_FLIGHT full
 * frames. It reads one envelope at a time while the muxer keeps accepting bytes, so a sender
 * that pipelines past this is reset rather than buffered.
 */
export const MAX_DELIVER_UNREAD_BYTES = MAX_DELIVER_IN_FLIGHT * (4 + MAX_DELIVER_FRAME)
/**
 * Peers whose buckets are remembered, least recently seen forgotten first. Above
 * MAX_CONNECTIONS, so a peer that still has a connection keeps its bucket; a forgotten one
 * starts full again, which a peer can only cause by making new PeerIds and connections.
 */
export const MAX_DELIVER_RATE_PEERS = 1024

/** Connection manager: enough for a DHT participant on a laptop, not a flood. */
export const MAX_CONNECTIONS = 300
/** Inbound connections per second from one host (libp2p default is 5; loopback tests redial fast). */
export const INBOUND_CONNECTION_THRESHOLD = 50
export const MAX_INCOMING_PENDING_CONNECTIONS = 32
/**
 * How often libp2p's connection monitor pings each open connection (its default is 10 s). A
 * DHT participant keeps dozens to hundreds of connections, and each ping is a new stream
 * (protocol negotiation, Noise frames both ways): at 120 s the pings and their streams were
 * still the largest part of an idle node's CPU in a 200-node profile (bench/sim.ts
 * --cpu-prof). Yamux keeps its own keep-alive frame (30 s, no stream) for NATs and idle
 * sockets, and a dead connection is also found by the next stream that fails, so a slow
 * heartbeat loses little.
 */
export const CONNECTION_PING_INTERVAL_MS = 300_000
/**
 * Largest yamux receive window of one stream (the muxer's default grows it to 16 MiB when
 * the consumer is slow against the round trip): what a peer may have in flight to us on one
 * stream, so also the most one read of a stream can bring (frames.ts). 4 MiB keeps a file
 * transfer at full speed on a LAN and bounds what a stream can make us buffer.
 */
export const MAX_STREAM_WINDOW_BYTES = 4 * 1024 * 1024
/**
 * Yamux streams per connection, for all protocols together, each way: a peer's streams beyond
 * this are reset by the muxer before any protocol is negotiated (streams still negotiating
 * count too, so a peer cannot park thousands of them), and this node opens no more than this
 * on one connection.
 */
export const MAX_STREAMS_PER_CONNECTION = 256

/** Prekey records larger than this are refused by every node's validator (D1). */
export const MAX_RECORD_BYTES = 16 * 1024
/** Concurrent inbound DHT streams per connection: a peer flooding record puts gets this many at a time (D3). */
export const MAX_INBOUND_DHT_STREAMS = 16

/** Largest gossipsub frame: one group message (the 64 KiB bucket, header, tag, signature) plus protobuf framing. */
export const GOSSIP_MAX_MESSAGE_BYTES = 66 * 1024

/**
 * Limits of the store-and-forward mailbox, each with its reason. A mailbox serves strangers,
 * so every resource a peer can make it spend is bounded here.
 */

/** Default and maximum time a mailbox keeps an envelope (Session keeps 14 days). */
export const DEFAULT_TTL_MS = 14 * 24 * 60 * 60 * 1000
export const MAX_TTL_MS = DEFAULT_TTL_MS
/** Largest envelope accepted: the biggest padding bucket plus sealing overhead, with room. */
export const MAX_ENVELOPE_BYTES = 80 * 1024
/** Largest request frame a mailbox reads: a put of the largest envelope with its header, with room. */
export const MAX_MAILBOX_REQUEST_FRAME = MAX_ENVELOPE_BYTES + 64
/**
 * Every envelope is charged at least this against every byte quota: it costs a file (a disk
 * block at least) and an index entry in memory whatever its length, so a flood of tiny
 * envelopes fills a quota as fast as its cost on disk, and a byte quota also bounds the count.
 */
export const MIN_CHARGED_BYTES = 4 * 1024
/** Per recipient: enough for two weeks of heavy chatting, small enough that a flood cannot fill a disk. */
export const MAX_ENVELOPES_PER_MAILBOX = 2000
export const MAX_BYTES_PER_MAILBOX = 32 * 1024 * 1024
/**
 * A mailbox takes at most this share of the node's quota (and never more than
 * MAX_BYTES_PER_MAILBOX): one flooded mailbox leaves the node room for every other one.
 * At the default quota it comes to exactly MAX_BYTES_PER_MAILBOX.
 */
export const MAILBOX_SHARE_OF_NODE = 1 / 16
/** Default total a node holds for others; `--mailbox-quota` changes it. */
export const DEFAULT_TOTAL_QUOTA_BYTES = 512 * 1024 * 1024
/**
 * Envelopes a node holds at most, whatever its byte quota: the index of what is held lives in
 * memory (a few hundred bytes per envelope), and `--mailbox-quota` can be set very high.
 */
export const MAX_ENVELOPES_PER_NODE = 250_000
/**
 * What one sender (the PeerId that put it) may hold on one node, across all mailboxes: a
 * share of the quota (64 MiB at the default), and a count. One PeerId cannot fill the node;
 * it takes eight. A holder handing copies on (placement.ts) is a sender too: what does not
 * fit stays with it and is offered again in the next round.
 */
export const SENDER_SHARE_OF_NODE = 1 / 8
export const MAX_ENVELOPES_PER_SENDER = 10_000
/**
 * What one sender may hold in one mailbox: a quarter of the mailbox (500 envelopes, 8 MiB at
 * the default), so a stranger flooding a mailbox leaves three quarters of it to everyone else.
 */
export const SENDER_SHARE_OF_MAILBOX = 1 / 4
/**
 * Once the node is more than half full, a sender already holding more than this share of the
 * quota (8 MiB at the default) gets at most PRESSURE_TTL_MS for what it puts: the bulk of a
 * heavy sender's envelopes makes room in a day rather than in two weeks, while light senders
 * keep the full TTL.
 */
export const PRESSURE_LEVEL = 1 / 2
export const PRESSURE_SENDER_SHARE = 1 / 64
export const PRESSURE_TTL_MS = 24 * 60 * 60 * 1000
/** Puts one peer may make per second (token bucket, burst of PUT_BURST). */
export const PUTS_PER_SECOND_PER_PEER = 50
export const PUT_BURST = 200
/** Owner proofs are valid within this clock difference (M7). */
export const PROOF_CLOCK_SKEW_MS = 60_000
/** A challenge nonce must be used within this time, once. */
export const CHALLENGE_TTL_MS = 60_000
export const MAX_OPEN_CHALLENGES = 10_000
/** Envelopes a list or fetch page returns at once. */
export const MAX_BATCH = 256
/**
 * Envelopes one batch put carries at most (/sotto/mailbox/2), and the largest frame of one.
 * A single put cost a stream (open, negotiate, encrypt, close) and a new file; a batch costs
 * one of each for all its envelopes (store.ts writes a request as one pack file). 256 KiB
 * per frame, with the stream limit per connection, keeps what one peer can make a node
 * buffer within a few times what /1 allowed (64 streams x 80 KiB).
 */
export const MAX_PUT_BATCH = 64
export const MAX_PUT_BATCH_FRAME = 256 * 1024
/**
 * How long a sender waits for more envelopes to the same mailbox node before it sends what it
 * has as one batch: short against a network round trip, long enough for an outbox that puts
 * a backlog in one go.
 */
export const PUT_COALESCE_WINDOW_MS = 5
/**
 * Pages one collection run reads from one mailbox: enough to read a full mailbox
 * (MAX_ENVELOPES_PER_MAILBOX) even when the byte limit of a reply cuts pages short of
 * MAX_BATCH, with room for what arrives meanwhile; a mailbox that keeps saying "more" cannot
 * keep the collector reading forever.
 */
export const MAX_FETCH_PAGES = 64
/**
 * Owner operations (each with its own challenge and proof) one /sotto/mailbox/2 stream
 * carries: a whole collection run (MAX_FETCH_PAGES pages and their acks), then the stream ends.
 */
export const MAX_OWNER_OPS_PER_STREAM = 2 * MAX_FETCH_PAGES + 2
/** How often expired envelopes are purged. */
export const PURGE_INTERVAL_MS = 60_000
/** A whole request frame must arrive within this time, or the stream is reset (slow-loris, T4). */
export const MAILBOX_FRAME_TIMEOUT_MS = 10_000
/** Concurrent inbound mailbox streams per connection: an honest peer needs a few (T3). */
export const MAX_INBOUND_MAILBOX_STREAMS = 64
export const MAX_OUTBOUND_MAILBOX_STREAMS = 64
/** Open subscriptions a node serves in all, and per peer (each holds a stream open for hours). */
export const MAX_SUBSCRIBERS = 256
export const MAX_SUBSCRIBERS_PER_PEER = 4
/**
 * Pushes waiting unsent to one subscriber (one that does not read): beyond this the
 * subscription is reset, and its owner falls back to polling. About a dozen of the largest
 * envelopes.
 */
export const MAX_SUBSCRIPTION_BACKLOG_BYTES = 1024 * 1024

/** Acked envelope ids a mailbox remembers (each until its expiry), so no holder puts one back. */
export const MAX_TOMBSTONES = 100_000

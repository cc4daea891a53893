/**
 * Limits and sizes of attachments (docs/PROTOCOL.md "Attachments"), each with its reason.
 */

export const BLOB_PROTOCOL = '/sotto/blob/1'
/** Plaintext bytes per chunk, as age: small enough to verify and drop one at a time. */
export const CHUNK_SIZE = 64 * 1024
/** AES-GCM tag on every sealed chunk. */
export const TAG_BYTES = 16
/** Every sealed chunk has exactly this length: the last real chunk is padded to a full one. */
export const SEALED_CHUNK_BYTES = CHUNK_SIZE + TAG_BYTES
/** Largest file one attachment carries (R17; said in the UI before upload). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024
/**
 * Files up to this size travel through the recipient's mailboxes when it is offline. The
 * issue says 8 MiB; a sender may hold at most 8 MiB in one mailbox (SENDER_SHARE_OF_MAILBOX),
 * and 128 sealed chunks of an 8 MiB file are 8,390,784 bytes, over it before the manifest and
 * the text. 120 chunks (7.5 MiB, a Padmé bucket) leave room for both.
 */
export const MAX_OFFLINE_FILE_BYTES = 120 * CHUNK_SIZE
/** First byte of a chunk (or manifest) put in a mailbox; sealed-sender envelopes start with 2, group messages 0x81. */
export const BLOB_ENVELOPE_VERSION = 0xb1
/**
 * Chunks from mailboxes kept before their message has come (mail arrives in any order): a
 * bound, since anyone may put envelopes for our mailbox key. Two offline-sized files.
 */
export const MAX_EARLY_CHUNKS = 256
/** A thumbnail made in the browser: at most this many bytes once decoded. */
export const MAX_THUMBNAIL_BYTES = 1024
/** A file name as shown, in characters. */
export const MAX_NAME_LENGTH = 255
export const MAX_MIME_LENGTH = 127
/** Attachments one message may carry. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 10
/** The sender keeps what it sent this long (the mailboxes keep envelopes as long). */
export const KEEP_SENT_MS = 14 * 24 * 60 * 60 * 1000
/** Chunk ids asked for in one request frame. */
export const MAX_IDS_PER_REQUEST = 16
/** Request frames a client keeps outstanding on one stream: the next batch travels while one is read. */
export const REQUESTS_IN_FLIGHT = 2
/** Largest frame on /sotto/blob/1: one sealed chunk (or a manifest, which is smaller) plus header, with room. */
export const MAX_BLOB_FRAME = SEALED_CHUNK_BYTES + 64
/** Largest request frame: version, type, count, ids. */
export const MAX_BLOB_REQUEST_FRAME = 3 + 32 * MAX_IDS_PER_REQUEST
/** Concurrent inbound blob streams per connection; one download uses one. */
export const MAX_INBOUND_BLOB_STREAMS = 8
export const MAX_OUTBOUND_BLOB_STREAMS = 8
/**
 * Chunks one remote peer may fetch per second, sustained (token bucket per PeerId): 2,000
 * chunks is 128 MiB/s, above what loopback carries, so only a peer hammering the store for
 * chunks is slowed. Each served chunk costs a store read and an XChaCha20 open.
 */
export const BLOB_RATE_PER_SECOND = 2_000
export const BLOB_BURST = 512
export const MAX_BLOB_RATE_PEERS = 1024
/**
 * Chunks written to the store in one batch: each batch costs a LevelDB write and the store's
 * epoch record besides the chunks, so one per chunk halved the speed (bench:attachments).
 * A cut transfer resumes at most this many chunks (512 KiB) back, plus the batch that was being
 * written (transfers.ts writes one while the next fills).
 */
export const CHUNKS_PER_BATCH = 8
/**
 * Recipients a sent file remembers as having fetched it all (distinct PeerIds): a group has at
 * most 100 members, and anyone holding the chunk ids could ask, so the list is bounded.
 */
export const MAX_FETCHED_BY = 128
/** Progress events per transfer, at most this often. */
export const PROGRESS_EVERY_MS = 250
/** How often waiting downloads try their source again. */
export const RETRY_EVERY_MS = 30_000

/**
 * Limits and labels of the group protocol (docs/GROUPS.md). Every bound on what a peer can
 * make us do is named here with its reason.
 */
import { utf8 } from '../bytes.js'

/** First byte of a group message: high bit = group mode, low bits = version 1. A later MLS mode takes another byte (T5). */
export const GROUP_MESSAGE_VERSION = 0x81
/** Second byte: what the group message carries. */
export const GROUP_KIND_MESSAGE = 0x01
/** First byte of an encoded group state (its own format version). */
export const GROUP_STATE_VERSION = 0x01

/** Signature contexts (K9): none is a prefix of another, nor of the account's contexts (PROTOCOL.md §1.3). */
export const GROUP_STATE_CONTEXT = utf8('Sotto/group-state/v1\0')
export const GROUP_MESSAGE_CONTEXT = utf8('Sotto/group-message/v1\0')
export const GROUP_STATE_HASH_CONTEXT = utf8('Sotto/group-state-hash/v1\0')

/** HKDF info strings, one per derived key. */
export const GROUP_MESSAGE_KEYS_INFO = utf8('Sotto_GroupMessageKeys_v1')
export const GROUP_TOPIC_INFO = utf8('Sotto_GroupTopic_v1')
export const GROUP_MAILBOX_DAY_INFO = utf8('Sotto_GroupMailboxDay_v1')
export const GROUP_MAILBOX_ENVELOPE_INFO = utf8('Sotto_GroupMailboxEnvelope_v1')

/** Signal's sender-key chain steps (libsignal `sender_keys.rs` SenderChainKey): message key seed and next chain key. */
export const MESSAGE_KEY_SEED = Uint8Array.of(0x01)
export const CHAIN_KEY_SEED = Uint8Array.of(0x02)

/** Largest jump forward in one sender chain a single message may cause (libsignal's MAX_FORWARD_JUMPS is 25,000; ours matches the 1:1 MAX_SKIP). */
export const MAX_SENDER_KEY_SKIP = 2_000
/** Skipped message keys kept per sender key, oldest evicted (libsignal MAX_MESSAGE_KEYS). */
export const MAX_SKIPPED_SENDER_KEYS = 2_000
/** Members of one group: a removal costs every member one 1:1 message to each other member (n^2). */
export const MAX_GROUP_MEMBERS = 100
/** Groups one account may be in: a direct delivery is tried against each (see group-manager). */
export const MAX_GROUPS = 200
/** Older sender keys of one member kept, so messages sent just before a rotation still open. */
export const MAX_OLD_SENDER_KEYS = 2
/** Group messages kept aside because their sender key had not arrived yet, per group. */
export const MAX_PENDING_PER_GROUP = 500
/**
 * After a start, how long a message that skips ahead in its sender's chain waits for the
 * group mailboxes to bring the ones before it (G6: a member back online gets live copies
 * through gossip's message cache and direct copies while its collection runs). A collection
 * that reached the holders ends the wait sooner; with no holder at all, it ends here.
 */
export const CATCH_UP_MAX_MS = 2 * 60_000
/** Pending messages older than this are dropped (the mailbox TTL). */
export const PENDING_MAX_AGE_MS = 14 * 24 * 60 * 60 * 1000

/** Scheduled rotation (post-compromise security): weekly, or after this many messages. */
export const SENDER_KEY_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000
export const SENDER_KEY_MAX_MESSAGES = 1_000

/** How long a group's earlier secrets are kept: mail put under them may wait this long. */
export const GROUP_SECRET_RETENTION_MS = 15 * 24 * 60 * 60 * 1000
/** Days of group mailboxes: one mailbox key per day (UTC), held 14 days like all mail. */
export const DAY_MS = 24 * 60 * 60 * 1000
export const GROUP_MAILBOX_TTL_MS = 14 * DAY_MS
/** Group states kept per group, so a change can be checked against the state it was made from (G5). */
export const MAX_STATE_HISTORY = 16

/**
 * Padding inside a group message (gossip and direct copies): group messages carry no PQXDH
 * header, so they start at 256 bytes, not the 1:1 envelopes' 2 KiB (docs/GROUPS.md,
 * measured: sender bytes). Mailbox copies are padded to the 1:1 buckets.
 */
export const GROUP_PADDING_BUCKETS = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536] as const

/** Longest group name (characters), as contact names. */
export const MAX_GROUP_NAME = 64

/**
 * Limits of the store-and-forward mailbox, each with its reason. A mailbox serves strangers,
 * so every resource a peer can make it spend is bounded here.
 */

/** Default and maximum time a mailbox keeps an envelope (Session keeps 14 days). */
export const DEFAULT_TTL_MS = 14 * 24 * 60 * 60 * 1000
export const MAX_TTL_MS = DEFAULT_TTL_MS
/** Largest envelope accepted: the biggest padding bucket plus sealing overhead, with room. */
export const MAX_ENVELOPE_BYTES = 80 * 1024
/** Per recipient: enough for two weeks of heavy chatting, small enough that a flood cannot fill a disk. */
export const MAX_ENVELOPES_PER_MAILBOX = 2000
export const MAX_BYTES_PER_MAILBOX = 32 * 1024 * 1024
/** Default total a node holds for others; `--mailbox-quota` changes it. */
export const DEFAULT_TOTAL_QUOTA_BYTES = 512 * 1024 * 1024
/** Puts one peer may make per second (token bucket, burst of PUT_BURST). */
export const PUTS_PER_SECOND_PER_PEER = 50
export const PUT_BURST = 200
/** Owner proofs are valid within this clock difference (M7). */
export const PROOF_CLOCK_SKEW_MS = 60_000
/** A challenge nonce must be used within this time, once. */
export const CHALLENGE_TTL_MS = 60_000
export const MAX_OPEN_CHALLENGES = 10_000
/** Envelopes a list or fetch returns at once. */
export const MAX_BATCH = 256
/** How often expired envelopes are purged. */
export const PURGE_INTERVAL_MS = 60_000

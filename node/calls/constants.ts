/**
 * Limits of the call layer (node/calls), each with its reason. Everything a peer can make us
 * do with a call signal is bounded here.
 */

/** Longest SDP we send or accept, in characters: an audio+video offer from Chromium with a
 * dozen candidates is about 6 KB; the rest is room for more codecs and candidates. */
export const MAX_SDP_CHARS = 16 * 1024
/** Most ICE candidates one signal carries (the UI batches late ones). */
export const MAX_CANDIDATES_PER_SIGNAL = 32
/** One candidate line; RFC 8839 lines are well under 300 characters. */
export const MAX_CANDIDATE_CHARS = 1024
/** `sdpMid` is a short media id ("0", "audio"). */
export const MAX_MID_CHARS = 64
/** Remote candidates kept per call for a UI that asks late (GET /api/calls/:id). */
export const MAX_BUFFERED_CANDIDATES = 64

/** An offer sent longer ago than this (by its sentAt, against our clock) never rings (R18). */
export const OFFER_MAX_AGE_MS = 60_000
/** An offer dated this far in the future (a wrong clock, or a lie) never rings either. */
export const OFFER_MAX_FUTURE_MS = 60_000
/** Call ids already seen are remembered this long: past it an offer is too old to ring anyway. */
export const SEEN_CALL_MS = OFFER_MAX_AGE_MS + OFFER_MAX_FUTURE_MS
/** Most call ids remembered; beyond it the oldest go (they are also too old to ring). */
export const MAX_SEEN_CALLS = 4096

/** An unanswered call stops ringing after this; the caller hangs up, the callee has a missed call. */
export const RING_TIMEOUT_MS = 45_000
/**
 * A call signal must reach the peer's node directly within this, or the peer counts as
 * unavailable: a call never waits in a mailbox (R18), and the caller hears it within 10 s.
 */
export const CALL_DELIVER_TIMEOUT_MS = 7_000

/** Finished calls listed per conversation (GET /api/calls?peer=). */
export const CALL_LOG_PAGE = 100

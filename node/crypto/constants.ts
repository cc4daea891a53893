/**
 * Every limit and fixed string of Sotto's session protocol, each with the reason behind it.
 * Wire formats and KDFs that use them are written out byte by byte in docs/PROTOCOL.md.
 */
import { utf8 } from '../bytes.js'

// ---------------------------------------------------------------------------------------
// Names, info strings and signature contexts (PROTOCOL.md §2, checklist K9)
// ---------------------------------------------------------------------------------------

/**
 * PQXDH `info` (PQXDH §2.1: "an ASCII string identifying the application", naming curve,
 * hash and KEM). ML-KEM-1024 is the FIPS 203 standard form of CRYSTALS-Kyber-1024, which is
 * what node:crypto (OpenSSL 3.5) and @noble/post-quantum implement.
 */
export const PQXDH_INFO = 'Sotto_CURVE25519_SHA-256_ML-KEM-1024'
/** KDF_RK info (DR §5.2 recommends HKDF with an application-specific info). */
export const ROOT_KDF_INFO = utf8('Sotto_Ratchet_v1')
/** Message key -> AEAD key and nonce (DR §5.2, ENCRYPT). */
export const MESSAGE_KDF_INFO = utf8('Sotto_MessageKeys_v1')
/**
 * Sealed envelope, version 2 (after libsignal's sealed sender v1, whose HKDFs take an empty
 * info and a "UnidentifiedDelivery" salt prefix; ours name the application, layer and version
 * here instead): the ephemeral layer's chain key, key and nonce, and the static layer's key
 * and nonce. PROTOCOL.md §7.1.
 */
export const SEALED_EPHEMERAL_INFO = utf8('Sotto_SealedSender_v2_Ephemeral')
export const SEALED_STATIC_INFO = utf8('Sotto_SealedSender_v2_Static')
/** Message ids handed to the messaging layer (never a signature hash, K7). */
export const MESSAGE_ID_CONTEXT = utf8('Sotto/message-id/v1\0')

/** Signature contexts: every Ed25519 signature of the identity key starts with one (K9). */
export const SIGNATURE_CONTEXTS = {
  signedPrekey: utf8('Sotto/signed-prekey/v1\0'),
  kemPrekey: utf8('Sotto/kem-prekey/v1\0'),
  bundle: utf8('Sotto/prekey-bundle/v1\0')
} as const
export type SignatureContext = keyof typeof SIGNATURE_CONTEXTS

// ---------------------------------------------------------------------------------------
// Type bytes on every encoded key (PQXDH §2.1 Encode functions; checklist H13)
// ---------------------------------------------------------------------------------------

/** Curve25519 public key: the same byte Signal uses (DJB_TYPE). */
export const KEY_TYPE_X25519 = 0x05
/** ML-KEM-1024 public key: the same byte libsignal uses for Kyber1024. */
export const KEY_TYPE_MLKEM1024 = 0x08
/** ML-KEM-1024 ciphertext: its own byte, because a ciphertext and a public key are both 1568 bytes. */
export const KEY_TYPE_MLKEM1024_CIPHERTEXT = 0x0a
/** Ed25519 public key (Sotto's own byte: Signal has no Ed25519 identity keys). */
export const KEY_TYPE_ED25519 = 0x0e

export const X25519_KEY_BYTES = 32
export const ED25519_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64
export const MLKEM1024_PUBLIC_KEY_BYTES = 1568
export const MLKEM1024_CIPHERTEXT_BYTES = 1568
/** The 64-byte seed (d || z) of FIPS 203 §6.1 ML-KEM.KeyGen_internal: the private key we store. */
export const MLKEM1024_SEED_BYTES = 64
export const MLKEM_SHARED_SECRET_BYTES = 32

// ---------------------------------------------------------------------------------------
// Wire format versions (T5: every format has a version; unknown ones are typed errors)
// ---------------------------------------------------------------------------------------

export const BUNDLE_VERSION = 1
/** Second byte of a bundle, so no other Sotto format parses as a bundle by accident. */
export const BUNDLE_RECORD_TYPE = 0x50
export const INITIAL_MESSAGE_VERSION = 1
export const RATCHET_MESSAGE_VERSION = 1
/**
 * 2: the sender's identity is proven by a second (static) layer, libsignal's sealed sender v1
 * structure. Version 1 named the sender without proof and is refused (ERR_UNKNOWN_VERSION):
 * accepting it would let a forger skip the proof.
 */
export const ENVELOPE_VERSION = 2
export const SESSION_RECORD_VERSION = 1
export const PREKEY_STATE_VERSION = 1

// ---------------------------------------------------------------------------------------
// Prekeys and bundles (PQXDH §2-3, X3DH §4.6)
// ---------------------------------------------------------------------------------------

/** One-time prekeys made per batch; the bundle is topped up to this many. */
export const ONE_TIME_PREKEY_BATCH = 100
/** Top up when fewer remain: a bundle read by many senders at once keeps enough choices. */
export const ONE_TIME_PREKEY_LOW_WATER = 50
/** Bound on what a parser accepts (the network's record limit is 16 KiB; 200 × 37 bytes fits). */
export const MAX_ONE_TIME_PREKEYS_IN_BUNDLE = 200
/** The routing field belongs to the network layer; its own bound (node/daemon/routing.ts). */
export const MAX_ROUTING_BYTES = 2048
/** Same as the DHT's MAX_RECORD_BYTES: nothing bigger is parsed. */
export const MAX_BUNDLE_BYTES = 16 * 1024
/** Signed (and KEM) prekeys rotate weekly, as Signal's apps do (X3DH §4.6 "e.g. once a week"). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000
/**
 * Retired signed and KEM prekeys stay for this long, so initial messages still waiting in
 * mailboxes (kept 14 days: DEFAULT_TTL_MS in node/net/mailbox/constants.ts) can be opened; then they are deleted (forward secrecy).
 */
export const SIGNED_PREKEY_GRACE_MS = 21 * 24 * 3600 * 1000
/**
 * H16: a sender refuses a signed or KEM prekey created longer ago than this (two rotation
 * periods plus a day of slack): a stale record replayed from the DHT does not get used.
 */
export const SIGNED_PREKEY_MAX_AGE_MS = 15 * 24 * 3600 * 1000
/** How long a freshly built bundle is valid; the daemon republishes far more often. */
export const BUNDLE_LIFETIME_MS = 7 * 24 * 3600 * 1000
/** Longest expiry a sender accepts, so a record cannot claim to live forever. */
export const MAX_BUNDLE_LIFETIME_MS = 30 * 24 * 3600 * 1000
/**
 * Prekey bundles a SessionManager remembers as verified (bundle-cache.ts), least recently used
 * out first, so a contact's bundle is not verified again on every new session with it. One
 * entry holds at most MAX_BUNDLE_BYTES of parsed fields and an OpenSSL key handle (about
 * 12 KiB at the bound), so 256 entries stay near 3 MiB however many bundles peers hand us.
 */
export const MAX_VERIFIED_BUNDLES = 256
/** Clock skew we tolerate on timestamps made by another node. */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000

// ---------------------------------------------------------------------------------------
// Double Ratchet (DR §3.5, §4; libsignal consts.rs)
// ---------------------------------------------------------------------------------------

/** DR §3.5 MAX_SKIP: the largest jump within one chain a message may ask for (R2). */
export const MAX_SKIP = 1000
/**
 * Global cap on stored skipped message keys per contact (all states of the record): the
 * oldest is evicted first (libsignal MAX_MESSAGE_KEYS = 2000).
 */
export const MAX_SKIPPED_KEYS = 2000
/** Skipped keys older than this are deleted (R7; DR §6.5 suggests deleting by age). */
export const SKIPPED_KEY_MAX_AGE_MS = 30 * 24 * 3600 * 1000
/**
 * Chain steps one incoming message may cause before an AEAD check succeeds, over all the
 * session states it is tried in: as many as DR §3.5 lets one message skip in one chain, so
 * a message that opens nowhere costs no more than the costliest message that opens. The
 * current state is tried first with all of it; an archived state gets what is left (messages
 * in an archived session, H14, come early in their chains). Skipped message keys, and the
 * previous chain's up to PN, are derived only after the AEAD check and are not part of this.
 */
export const MAX_SKIP_WORK_PER_MESSAGE = MAX_SKIP
/**
 * Session states one message with an unknown ratchet key is tried in (current first). Each try
 * costs an X25519 and a KDF_RK before its AEAD check. A ratchet key a state already knows
 * (a receiving chain or a skipped key) is tried in that state only, at no DH cost. Three covers
 * simultaneous initiation (H14), where the peer answers in the session we archived last.
 */
export const MAX_NEW_CHAIN_TRIALS = 3
/** Receiving chains kept per state (libsignal MAX_RECEIVER_CHAINS = 5). */
export const MAX_RECEIVER_CHAINS = 5
/**
 * Older session states kept per contact after a new session replaces one (simultaneous
 * initiation, H14; libsignal keeps 40, we keep few because each may hold skipped keys).
 */
export const MAX_ARCHIVED_STATES = 5
/**
 * Contacts' session records kept decoded in memory, least recently used evicted first (R13);
 * the rest are read from the store when needed (a read and a decode, well under a
 * millisecond). A record can hold up to MAX_SKIPPED_KEYS skipped keys (about 200 KiB
 * decoded), so 256 records stay below about 50 MiB however many senders write to us.
 */
export const MAX_CACHED_SESSION_RECORDS = 256
/**
 * H15: a session we started that the peer never answered is not used to send after this
 * (libsignal MAX_UNACKNOWLEDGED_SESSION_AGE = 30 days); the next send starts a new one.
 */
export const MAX_UNACKNOWLEDGED_SESSION_AGE_MS = 30 * 24 * 3600 * 1000

// ---------------------------------------------------------------------------------------
// Envelopes and padding (R8, E4, E7)
// ---------------------------------------------------------------------------------------

/**
 * Padded plaintext sizes of a sealed envelope. The smallest bucket holds an initial message
 * (about 1.8 KiB of keys and KEM ciphertext) with a short text, so texts, receipts, typing
 * notices and initial messages look alike (E7); then powers of two, as Session pads.
 */
export const PADDING_BUCKETS = [2048, 4096, 8192, 16384, 32768, 65536] as const
/** The largest envelope: the last bucket plus the envelope's header, static layer and tag (PROTOCOL.md §7.1). */
export const MAX_ENVELOPE_BYTES = 65536 + 34 + 49 + 16

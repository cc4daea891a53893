/**
 * The public surface of Sotto's session crypto: prekeys and bundles, PQXDH, the
 * Double Ratchet and sealed envelopes behind one SessionManager, plus the helpers the
 * network and messaging layers need. Everything else in this folder is internal.
 */
export {
  SessionManager, type SessionManagerInit, type EncryptOptions, type DecryptOptions, type DecryptResult,
  type CommitHook, type BundleFetcher
} from './session-manager.js'
export { PrekeyStore } from './prekey-store.js'
export type { CryptoStore, CryptoStoreKey, CryptoStoreOp, CryptoListOptions, StoreKeyPart } from './storage.js'
export {
  parseBundle, bundleSequence, compareBundles, encodeBundle,
  type PrekeyBundle, type BundleFields
} from './bundle.js'
export { PADDING_BUCKETS, bucketFor } from './padding.js'
export { systemRandom, seededRandom, type RandomSource } from './random.js'
export {
  CryptoError, DecodeError, BadKeyError, BadSignatureError, BundleError, IdentityMismatchError, IdentityChangedError,
  PrekeyError, DecryptError, DuplicateMessageError, TooFarAheadError, NoSessionError, EnvelopeError,
  SenderMismatchError, StateError
} from './errors.js'
export {
  MAX_SKIP, MAX_SKIPPED_KEYS, MAX_RECEIVER_CHAINS, MAX_ARCHIVED_STATES, MAX_BUNDLE_BYTES, MAX_ROUTING_BYTES,
  MAX_ONE_TIME_PREKEYS_IN_BUNDLE, SIGNED_PREKEY_ROTATION_MS, SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_MAX_AGE_MS,
  BUNDLE_LIFETIME_MS, MAX_UNACKNOWLEDGED_SESSION_AGE_MS, SKIPPED_KEY_MAX_AGE_MS
} from './constants.js'

/**
 * One error class per condition, each with a stable `code` (callers branch on the code, never
 * on the text). Messages never contain key material or plaintext.
 */
import { SottoError } from '../errors.js'

/** The base of every error this module raises. */
export class CryptoError extends SottoError {}

/** Bytes that do not parse: wrong version, length, type byte, bound or trailing data. */
export class DecodeError extends CryptoError {
  constructor (what: string, code = 'ERR_DECODE') {
    super(code, `cannot decode ${what}`)
  }
}

/** A key that must not be used: all-zero, low-order, non-canonical, high bit set (H3, H11, K8). */
export class BadKeyError extends CryptoError {
  constructor (message: string, code = 'ERR_BAD_KEY') {
    super(code, message)
  }
}

/** A signature that does not verify under its context (H1, H2, K7, K9). */
export class BadSignatureError extends CryptoError {
  constructor (what: string) {
    super('ERR_BAD_SIGNATURE', `bad signature on ${what}`)
  }
}

/** A prekey bundle that is well formed but not usable. */
export class BundleError extends CryptoError {}

/** The bundle's identity key is not the key the Session ID names. */
export class IdentityMismatchError extends CryptoError {
  constructor (message = 'the bundle identity key does not match the Session ID') {
    super('ERR_IDENTITY_MISMATCH', message)
  }
}

/**
 * A contact's identity key differs from the one pinned for it (R3, H4). Never resolved
 * silently: the UI shows it and the user decides (SessionManager.trustIdentity).
 */
export class IdentityChangedError extends CryptoError {
  readonly peer: string | undefined
  constructor (peer?: string) {
    super('ERR_IDENTITY_CHANGED', 'the identity key of this contact changed')
    this.peer = peer
  }
}

/** An initial message names a prekey we do not hold (consumed one-time prekey, deleted signed prekey). */
export class PrekeyError extends CryptoError {}

/** Authentication of a message failed (bit flip, wrong session, reflection). State unchanged. */
export class DecryptError extends CryptoError {
  constructor (message = 'message authentication failed', code = 'ERR_DECRYPT') {
    super(code, message)
  }
}

/** A message whose key was already used: a duplicate or a replay (R4, R14, H6). */
export class DuplicateMessageError extends CryptoError {
  constructor () {
    super('ERR_DUPLICATE_MESSAGE', 'message already received')
  }
}

/** A message from further ahead than MAX_SKIP, or that would overflow the skipped-key store (R2). */
export class TooFarAheadError extends CryptoError {
  constructor () {
    super('ERR_TOO_FAR_AHEAD', 'message is too far ahead in its chain')
  }
}

/** No session with this contact, and nothing to start one from. */
export class NoSessionError extends CryptoError {
  constructor (message = 'no session with this contact') {
    super('ERR_NO_SESSION', message)
  }
}

/** A sealed envelope that does not open: not for us, tampered, bad padding (E3, E6: one code). */
export class EnvelopeError extends CryptoError {
  constructor (code = 'ERR_ENVELOPE') {
    super(code, 'envelope does not open')
  }
}

/** The sender named inside an envelope is not the peer of the session it uses (E2, H17). */
export class SenderMismatchError extends CryptoError {
  constructor () {
    super('ERR_SENDER_MISMATCH', 'the envelope sender does not match the session')
  }
}

/** Stored state of an unknown version or that does not parse (never silently reset). */
export class StateError extends CryptoError {
  constructor (what: string, code = 'ERR_STATE') {
    super(code, `stored ${what} is not readable`)
  }
}

/** The SessionManager was closed (the account closed): nothing more is sealed or opened with it. */
export class ClosedError extends CryptoError {
  constructor () {
    super('ERR_CLOSED', 'the session manager is closed')
  }
}

/**
 * What the messaging layer needs from the layers below, as small interfaces: the session
 * crypto (node/crypto behind an adapter) and the transport (node/net behind an adapter).
 * Tests and benchmarks plug in the real ones; nothing here knows libp2p or the ratchet.
 */
import type { SessionId } from '../identity/session-id.js'
import type { StoreOp } from '../store/types.js'

export interface SessionCrypto {
  /**
   * Seals a plaintext for a peer, starting a session from its published bundle when needed.
   * `alongside` gets the envelope before the new session state is stored and returns writes
   * for the same batch (the message and its queued envelope: one write per sent message).
   */
  seal: (peer: SessionId, plaintext: Uint8Array, options?: { signal?: AbortSignal, oneTimePrekey?: boolean, alongside?: (envelope: Uint8Array) => Promise<StoreOp[]> }) => Promise<Uint8Array>
  /**
   * Optional: fetches what a first seal to `peer` needs (its prekey record) before the
   * messenger takes its lock, so a slow lookup holds up no other conversation. A record not
   * found is remembered for the seal that follows, which then fails without looking again.
   */
  prepare?: (peer: SessionId, options?: { signal?: AbortSignal }) => Promise<void>
  /**
   * Optional: whether a session with the peer exists. Without one, the next seal starts a new
   * session, and the messenger sends our profile along (the peer may have lost it).
   */
  hasSession?: (peer: SessionId) => Promise<boolean>
  /** Forgets the session with a peer; the next seal starts a new one from their record. */
  reset: (peer: SessionId) => Promise<void>
  /**
   * Opens an envelope. `commit` receives the authenticated sender and the plaintext and
   * returns the writes that must land in the same atomic batch as the new session state.
   */
  open: (envelope: Uint8Array, commit: (from: SessionId, plaintext: Uint8Array) => Promise<StoreOp[]>) => Promise<{ from: SessionId, plaintext: Uint8Array }>
}

/** Expected delivery failures are values, not exceptions. */
export type DeliveryResult =
  | { ok: true, via: 'direct' | 'mailbox', mailboxes?: number, /** when the mailboxes drop it */ expiresAt?: number }
  | { ok: false, error: string }

export interface EnvelopeTransport {
  /** `ttlMs`: mailboxes keep the envelope no longer than this (a disappearing message's time left); default their own TTL. */
  deliver: (peer: SessionId, envelope: Uint8Array, options?: { signal?: AbortSignal, ttlMs?: number }) => Promise<DeliveryResult>
  /**
   * Optional: to the peer's device directly or not at all, never into a mailbox (call
   * signalling: a call is now or never). Without it, such payloads cannot be sent.
   */
  deliverDirect?: (peer: SessionId, envelope: Uint8Array, options?: { signal?: AbortSignal }) => Promise<DeliveryResult>
}

export type MessengerEvent =
  | { type: 'message', message: import('./message-log.js').Message }
  /** A message's state changed, or its lastError (while "sending", the reason it waits). */
  | { type: 'message-state', id: string, peer: SessionId, state: import('./message-log.js').MessageState } & import('./message-log.js').StateExtra
  | { type: 'message-deleted', id: string, peer: SessionId }
  /** Disappearing messages whose time was up: gone from the store. */
  | { type: 'messages-expired', peer: SessionId, ids: string[] }
  | { type: 'contact', contact: import('./contacts.js').Contact }
  | { type: 'contact-removed', sessionId: SessionId }

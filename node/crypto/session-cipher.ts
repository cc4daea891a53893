/**
 * The session layer between PQXDH/Double Ratchet and the envelope (the role of libsignal's
 * SessionBuilder + SessionCipher): start a session from a verified bundle, encrypt with the
 * current state, and decrypt a session message with the right state of a record (current or
 * archived, H14), answering initial messages from our prekeys (PQXDH §3.4). Pure over
 * records: it returns the new record and the store writes, and the caller commits them.
 * It knows nothing of envelopes, pins, queues or where records are stored.
 *
 * Session messages (docs/PROTOCOL.md §6):
 *   initial: initial header (pqxdh.ts) || ratchet message, AEAD AD = AD(sender, receiver) || initial header || ratchet header
 *   ratchet: ratchet message,                              AEAD AD = AD(sender, receiver) || ratchet header
 * where AD(x, y) = 0x05 || x || 0x05 || y: the sender's identity first, so a message
 * reflected to its own sender fails (R11).
 */
import { inspect } from 'node:util'
import { concatBytes, equalBytes, utf8 } from '../bytes.js'
import type { CryptoStoreOp } from './storage.js'
import { IdentityCache, type ContactKeys } from './identity-cache.js'
import type { PrekeyBundle } from './bundle.js'
import { MAX_ARCHIVED_STATES, MAX_NEW_CHAIN_TRIALS, MAX_SKIP_WORK_PER_MESSAGE } from './constants.js'
import { CryptoError, DuplicateMessageError, NoSessionError, PrekeyError, SenderMismatchError } from './errors.js'
import { associatedData, decodeInitialHeader, encodeInitialHeader, pqxdhInitiate, pqxdhRespond, type InitialHeader } from './pqxdh.js'
import type { PrekeyStore } from './prekey-store.js'
import { sha256 } from './primitives/kdf.js'
import type { X25519KeyPair } from './primitives/x25519.js'
import type { RandomSource } from './random.js'
import { initAlice, initBob, ratchetDecrypt, ratchetEncrypt, type Decryption, type WorkBudget } from './ratchet/double-ratchet.js'
import { decodeRatchetMessage, type Header } from './ratchet/message.js'
import type { SessionRecord, SessionState } from './session-record.js'

const REPLAY_TAG_CONTEXT = utf8('Sotto/initial-replay-tag/v1\0')

export const MESSAGE_KIND_INITIAL = 0x01
export const MESSAGE_KIND_RATCHET = 0x02
export type MessageKind = typeof MESSAGE_KIND_INITIAL | typeof MESSAGE_KIND_RATCHET

function knowsRatchetKey (state: SessionState, ratchetKey: Uint8Array): boolean {
  return state.ratchet.receiverChains.some((c) => equalBytes(c.ratchetKey, ratchetKey)) ||
    state.ratchet.skipped.some((k) => equalBytes(k.ratchetKey, ratchetKey))
}

export function withArchived (record: SessionRecord, fresh: SessionState): SessionRecord {
  const archived = record.current === undefined ? record.archived : [record.current, ...record.archived]
  return { current: fresh, archived: archived.slice(0, MAX_ARCHIVED_STATES) }
}

function promote (record: SessionRecord, at: number, state: SessionState): SessionRecord {
  if (at === 0) return { current: state, archived: record.archived }
  const archived = record.archived.filter((_, i) => i !== at - 1)
  return { current: state, archived: (record.current === undefined ? archived : [record.current, ...archived]).slice(0, MAX_ARCHIVED_STATES) }
}

function directionalAd (sender: Uint8Array, receiver: Uint8Array, initialHeader?: Uint8Array): Uint8Array {
  const ad = associatedData(sender, receiver)
  return initialHeader === undefined ? ad : concatBytes(ad, initialHeader)
}

export interface SessionDecryption {
  readonly record: SessionRecord
  /** Prekey writes to commit with the record (a consumed one-time prekey, a replay tag). */
  readonly ops: CryptoStoreOp[]
  readonly plaintext: Uint8Array
  readonly header: Header
  readonly newSession: boolean
  /** The one-time prekey this message consumed, if any. */
  readonly consumedOneTime: number | undefined
}

export class SessionCipher {
  readonly contacts = new IdentityCache()

  constructor (readonly identity: X25519KeyPair, private readonly prekeys: PrekeyStore, private readonly random: RandomSource) {}

  toJSON (): unknown { return { type: 'SessionCipher', state: '[redacted]' } }
  [inspect.custom] (): string { return 'SessionCipher { state: [redacted] }' }

  /**
   * What sealing an envelope to `remote` needs of it (docs/PROTOCOL.md §7.1): its handle and
   * the static secret X25519(identity, remote), computed on first use and kept beside the
   * handle (identity-cache.ts). `remote` is checked in full (K3) the first time.
   */
  staticPeer (remote: Uint8Array): ContactKeys {
    const c = this.contacts.get(remote)
    c.staticShared ??= this.identity.agree(c.handle)
    return c
  }

  /** Alice (PQXDH §3.3, DR §3.3): a new current state from a verified bundle; the old one is archived. */
  start (record: SessionRecord, bundle: PrekeyBundle, remoteIdentity: Uint8Array, oneTimeIndex: number | undefined, now: number): SessionRecord {
    const start = pqxdhInitiate(this.identity, bundle, remoteIdentity, oneTimeIndex, this.random, this.contacts.get(remoteIdentity).handle)
    const ratchet = initAlice(start.sharedKey, start.signedPrekey, this.random, start.signedPrekeyHandle)
    start.sharedKey.fill(0)
    const header: InitialHeader = {
      identityKey: start.identityKey,
      baseKey: start.baseKey,
      signedPrekeyId: start.signedPrekeyId,
      kemPrekeyId: start.kemPrekeyId,
      oneTimePrekeyId: start.oneTimePrekeyId,
      kemCiphertext: start.kemCiphertext
    }
    return withArchived(record, {
      localIdentity: this.identity.publicKey,
      remoteIdentity,
      createdAt: now,
      initiator: true,
      baseKey: start.baseKey,
      pending: { header, since: now },
      ratchet
    })
  }

  /** RatchetEncrypt with the current state; repeats the PQXDH header until the peer answers. */
  encrypt (record: SessionRecord, plaintext: Uint8Array): { record: SessionRecord, kind: MessageKind, message: Uint8Array } {
    const state = record.current
    if (state === undefined) throw new NoSessionError()
    const initialHeader = state.pending === undefined ? undefined : encodeInitialHeader(state.pending.header)
    const { state: ratchet, message } = ratchetEncrypt(state.ratchet, plaintext, directionalAd(state.localIdentity, state.remoteIdentity, initialHeader))
    const next = { ...record, current: { ...state, ratchet } }
    return initialHeader === undefined
      ? { record: next, kind: MESSAGE_KIND_RATCHET, message }
      : { record: next, kind: MESSAGE_KIND_INITIAL, message: concatBytes(initialHeader, message) }
  }

  /**
   * Decrypts a session message from `sender` with `record` (that contact's record). Throws a
   * CryptoError and changes nothing when it does not decrypt exactly once.
   */
  async decrypt (record: SessionRecord, sender: Uint8Array, kind: MessageKind, message: Uint8Array, now: number): Promise<SessionDecryption> {
    const states = [record.current, ...record.archived]
    // What one message may cost before an AEAD check succeeds, over every state it is tried in.
    const budget: WorkBudget = { chainSteps: MAX_SKIP_WORK_PER_MESSAGE }
    if (kind === MESSAGE_KIND_INITIAL) {
      const { header, rest } = decodeInitialHeader(message)
      // H17/E2: the PQXDH identity must be the sender the envelope names.
      if (!equalBytes(header.identityKey, sender)) throw new SenderMismatchError()
      const ad = directionalAd(sender, this.identity.publicKey, message.subarray(0, message.length - rest.length))
      const at = states.findIndex((s) => s?.baseKey !== undefined && !s.initiator && equalBytes(s.baseKey, header.baseKey))
      if (at >= 0) {
        // More messages of a session we already have (H6: a replay finds its key used).
        const state = states[at] as SessionState
        const r = ratchetDecrypt(state.ratchet, rest, ad, now, this.random, budget)
        return { record: promote(record, at, { ...state, ratchet: r.state }), ops: [], plaintext: r.plaintext, header: r.header, newSession: false, consumedOneTime: undefined }
      }
      const fresh = await this.respond(header, now)
      const r = ratchetDecrypt(fresh.state.ratchet, rest, ad, now, this.random, budget)
      return {
        record: withArchived(record, { ...fresh.state, ratchet: r.state }),
        ops: fresh.ops,
        plaintext: r.plaintext,
        header: r.header,
        newSession: true,
        consumedOneTime: header.oneTimePrekeyId
      }
    }
    if (states.every((s) => s === undefined)) throw new NoSessionError()
    const ad = directionalAd(sender, this.identity.publicKey)
    const { ratchetKey } = decodeRatchetMessage(message).header
    // A ratchet key is one session's (each side makes fresh ones), so a state that knows it
    // (a receiving chain or a skipped key) is the only one to try. An unknown key may start a
    // new chain in any state (DR §3.5 DHRatchet): current first, then the newest archived
    // (H14), in at most MAX_NEW_CHAIN_TRIALS states, each try an X25519 before its AEAD check.
    const known = states.findIndex((s) => s !== undefined && knowsRatchetKey(s, ratchetKey))
    const order = known >= 0
      ? [known]
      : states.flatMap((s, i) => s === undefined ? [] : [i]).slice(0, MAX_NEW_CHAIN_TRIALS)
    let first: unknown
    for (const i of order) {
      const s = states[i] as SessionState
      let r: Decryption
      try {
        r = ratchetDecrypt(s.ratchet, message, ad, now, this.random, budget)
      } catch (err) {
        if (!(err instanceof CryptoError)) throw err
        // A duplicate is known to its own state: no other state can hold that key.
        if (err instanceof DuplicateMessageError) throw err
        first ??= err
        continue
      }
      // The peer answered: the session is acknowledged, stop repeating the PQXDH header.
      return { record: promote(record, i, { ...s, pending: undefined, ratchet: r.state }), ops: [], plaintext: r.plaintext, header: r.header, newSession: false, consumedOneTime: undefined }
    }
    throw first ?? new NoSessionError()
  }

  /** Bob's side of PQXDH (§3.4): look the prekeys up, derive SK, refuse replays (H5, H6). */
  private async respond (header: InitialHeader, now: number): Promise<{ state: SessionState, ops: CryptoStoreOp[] }> {
    const signed = await this.prekeys.signedPrekey(header.signedPrekeyId)
    const kem = await this.prekeys.kemPrekey(header.kemPrekeyId)
    if (signed === undefined || kem === undefined) throw new PrekeyError('ERR_UNKNOWN_PREKEY', 'the initial message names a prekey we do not hold')
    const ops: CryptoStoreOp[] = []
    let oneTime: X25519KeyPair | undefined
    if (header.oneTimePrekeyId !== undefined) {
      const k = await this.prekeys.oneTimePrekey(header.oneTimePrekeyId)
      // H5: used already (another sender read the same bundle, or a replay): refused, never decrypted twice.
      if (k === undefined) throw new PrekeyError('ERR_PREKEY_CONSUMED', 'the one-time prekey was already used')
      oneTime = k.keyPair
      ops.push(this.prekeys.consumeOneTimeOp(header.oneTimePrekeyId))
    }
    const { sharedKey } = pqxdhRespond(this.identity, header, { signedPrekey: signed.keyPair, kemPrekey: kem.keyPair, oneTimePrekey: oneTime }, this.contacts.get(header.identityKey).handle)
    // H6/H11: the replay tag hangs on SK, which a torsioned or high-bit copy of the base key cannot change.
    const tag = sha256(concatBytes(REPLAY_TAG_CONTEXT, sharedKey)).subarray(0, 16)
    if (await this.prekeys.hasReplayTag(tag)) throw new PrekeyError('ERR_INITIAL_REPLAYED', 'this initial message was already accepted')
    ops.push(this.prekeys.replayTagOp(tag, now))
    const ratchet = initBob(sharedKey, signed.keyPair)
    return {
      state: { localIdentity: this.identity.publicKey, remoteIdentity: header.identityKey, createdAt: now, initiator: false, baseKey: header.baseKey, pending: undefined, ratchet },
      ops
    }
  }
}

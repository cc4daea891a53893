/**
 * One account's sessions with its contacts, on top of a CryptoStore (storage.ts): encrypt a plaintext
 * for a contact into a sealed envelope (starting a session from their verified prekey
 * bundle when there is none), and decrypt an envelope, committing the new session state,
 * any consumed prekey and whatever the caller stores for the message in ONE atomic batch
 * (R9). If the batch fails nothing changed, and the envelope decrypts later exactly once.
 * The clock, the random source and the bundle lookup are passed in.
 *
 * Operations run one at a time (a queue), and a state reaches the in-memory cache only after
 * its batch landed, so the cache never runs ahead of the store. The cache holds at most
 * `maxCachedSessions` records, least recently used out first, and never an empty one, so
 * senders without a session cost it nothing (R13).
 *
 * Store tables: 'session' [peer] (session-record.ts), 'identity' [peer] (the contact's pinned
 * Ed25519 key: u8 version | key (32)), plus those of prekey-store.ts.
 */
import { inspect } from 'node:util'
import { concatBytes, equalBytes, toHex, wipe } from '../bytes.js'
import type { IdentityKeys } from '../identity/keys.js'
import { sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import type { ComponentLogger, Logger } from '../log.js'
import type { CryptoStore, CryptoStoreOp } from './storage.js'
import type { PrekeyBundle } from './bundle.js'
import { VerifiedBundleCache } from './bundle-cache.js'
import { MAX_CACHED_SESSION_RECORDS, MAX_UNACKNOWLEDGED_SESSION_AGE_MS, MESSAGE_ID_CONTEXT } from './constants.js'
import { BadKeyError, ClosedError, DecryptError, EnvelopeError, IdentityChangedError, NoSessionError } from './errors.js'
import { PrekeyStore } from './prekey-store.js'
import { sha256 } from './primitives/kdf.js'
import { X25519KeyPair } from './primitives/x25519.js'
import { randomInt, systemRandom, type RandomSource } from './random.js'
import { decodeContent, encodeContent, openEnvelope, sealEnvelope, type Content } from './sealed-sender.js'
import { SessionCipher } from './session-cipher.js'
import { capRecordSkipped, decodeSessionRecord, EMPTY_RECORD, encodeSessionRecord, type SessionRecord, type SessionState } from './session-record.js'

const PIN_VERSION = 1

export type BundleFetcher = (peer: SessionId, options?: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>

/** Bundles kept between prepare() and the encrypt that uses them. */
const MAX_PREFETCHED_BUNDLES = 64
/** A prefetched bundle older than this is fetched again (the contact may have rotated). */
const PREFETCHED_BUNDLE_TTL_MS = 60_000

export interface SessionManagerInit {
  identity: IdentityKeys
  store: CryptoStore
  /** @default Date.now */
  now?: () => number
  /** @default systemRandom */
  random?: RandomSource
  /** Finds a contact's published bundle (the network layer's DHT lookup). */
  fetchBundle?: BundleFetcher
  /** Same as fetchBundle (the name the daemon uses). */
  fetchRecord?: BundleFetcher
  /** Picks which of n one-time prekeys to use, or undefined for none. @default uniform random */
  chooseOneTimePrekey?: (n: number) => number | undefined
  /** Session records kept decoded in memory (R13). @default MAX_CACHED_SESSION_RECORDS */
  maxCachedSessions?: number
  /** Contacts' bundles remembered as verified (bundle-cache.ts). @default MAX_VERIFIED_BUNDLES */
  maxVerifiedBundles?: number
  logger?: Logger
}

export interface EncryptOptions {
  signal?: AbortSignal
  /** Writes to land in the same batch as the advanced session state (e.g. an outbox entry). */
  extraOps?: readonly CryptoStoreOp[]
  /**
   * Writes that need the envelope (the message row and its queued envelope): called once the
   * envelope is sealed, inside the manager's queue; its writes join the same batch. If it
   * throws, nothing is committed and the envelope is not returned.
   */
  alongside?: (envelope: Uint8Array) => Promise<readonly CryptoStoreOp[]>
  /** false: start a new session without a one-time prekey (X3DH §4.2). @default true */
  oneTimePrekey?: boolean
}

export type CommitHook = (from: SessionId, plaintext: Uint8Array, messageId: string) => Promise<readonly CryptoStoreOp[]> | readonly CryptoStoreOp[]

export interface DecryptOptions {
  /** Called after authentication, before the batch; its writes join the batch (R9). */
  commit?: CommitHook
  extraOps?: readonly CryptoStoreOp[]
}

export interface DecryptResult {
  readonly from: SessionId
  readonly plaintext: Uint8Array
  /** Stable id of this message (sender, ratchet key, counter); never a hash of signature bytes (K7). */
  readonly messageId: string
  /** True when this envelope started a new session (an initial message). */
  readonly newSession: boolean
  /** Earlier messages of this contact still missing (R12: the gap the UI can show). */
  readonly missing: number
}

function messageId (sender: Uint8Array, ratchetKey: Uint8Array, counter: number): string {
  const n = new Uint8Array(4)
  new DataView(n.buffer).setUint32(0, counter)
  return toHex(sha256(concatBytes(MESSAGE_ID_CONTEXT, sender, ratchetKey, n)).subarray(0, 16))
}

export class SessionManager {
  readonly prekeys: PrekeyStore
  private readonly identity: X25519KeyPair
  private readonly now: () => number
  private readonly random: RandomSource
  /** The session layer (PQXDH + ratchet over records); this class adds store, pins, queue and envelopes. */
  readonly cipher: SessionCipher
  /** Decoded records in least recently used order (a Map iterates in insertion order). */
  private readonly records = new Map<string, SessionRecord>()
  /**
   * Lookups done before entering the queue (prepare), for the next encrypt to that peer: the
   * bundle, or undefined when none was found (the encrypt then fails without looking again).
   */
  private readonly prefetched = new Map<string, { bytes: Uint8Array | undefined, at: number }>()
  private readonly maxCachedSessions: number
  /** Bundles already verified, so a contact's bundle is verified once per record version; time checks run every use. */
  private readonly bundles: VerifiedBundleCache
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false
  private readonly log: ComponentLogger | undefined

  constructor (private readonly init: SessionManagerInit) {
    this.now = init.now ?? Date.now
    this.random = init.random ?? systemRandom
    this.maxCachedSessions = init.maxCachedSessions ?? MAX_CACHED_SESSION_RECORDS
    this.bundles = new VerifiedBundleCache({ maxEntries: init.maxVerifiedBundles })
    if (!Number.isSafeInteger(this.maxCachedSessions) || this.maxCachedSessions < 1) throw new RangeError('maxCachedSessions must be a positive integer')
    this.identity = X25519KeyPair.fromPrivateKey(init.identity.dhPrivateKey)
    if (!equalBytes(this.identity.publicKey, init.identity.dhPublicKey)) throw new BadKeyError('identity keys do not match')
    this.prekeys = new PrekeyStore({ identity: init.identity, store: init.store, now: this.now, random: this.random })
    this.cipher = new SessionCipher(this.identity, this.prekeys, this.random)
    this.log = init.logger?.forComponent('sotto:crypto')
  }

  get sessionId (): SessionId { return this.init.identity.sessionId }

  /**
   * The account is closing: the contacts' static secrets (identity-cache.ts) are wiped now and
   * the in-memory caches dropped; every later call fails with ClosedError (ERR_CLOSED). An
   * operation already under way seals nothing after this (encrypt checks again just before
   * sealing, in the same synchronous step), and opens with what it had.
   */
  close (): void {
    this.closed = true
    this.cipher.contacts.clear()
    this.records.clear()
    this.prefetched.clear()
    this.bundles.clear()
  }

  private async run<T> (fn: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      if (this.closed) throw new ClosedError()
      return await fn()
    }
    const next = this.queue.then(guarded, guarded)
    this.queue = next.catch(() => undefined)
    return await next
  }

  // ---- Prekeys and bundles ------------------------------------------------------------

  /** Creates or rotates the account's prekeys (PQXDH §3.1); true when the bundle changed. */
  async createPrekeys (): Promise<boolean> {
    return await this.run(async () => await this.prekeys.maintain())
  }

  /** The account's freshly signed bundle, with the network layer's opaque routing bytes. */
  async buildBundle (routing: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    return await this.run(async () => await this.prekeys.buildBundle(routing))
  }

  /**
   * Parses and verifies a contact's bundle (bundle.ts parseBundle, with this manager's clock);
   * bytes already verified for this Session ID skip the signatures, never the time checks.
   */
  parseBundle (bytes: Uint8Array, expectedSessionId: SessionId, now = this.now()): PrekeyBundle {
    return this.bundles.parse(bytes, expectedSessionId, now)
  }

  // ---- Sessions ------------------------------------------------------------------------

  private async load (peer: SessionId): Promise<SessionRecord> {
    const cached = this.records.get(peer)
    if (cached !== undefined) {
      this.remember(peer, cached)
      return cached
    }
    const bytes = await this.init.store.get(['session', peer])
    // Nothing stored: not cached either, so a sender without a session takes no room.
    if (bytes === undefined) return EMPTY_RECORD
    const record = decodeSessionRecord(bytes)
    this.remember(peer, record)
    return record
  }

  /** Puts `record` last in the cache's order, evicting the least recently used beyond the bound. */
  private remember (peer: SessionId, record: SessionRecord): void {
    this.records.delete(peer)
    this.records.set(peer, record)
    while (this.records.size > this.maxCachedSessions) this.records.delete(this.records.keys().next().value as string)
  }

  private async commit (peer: SessionId, record: SessionRecord, ops: readonly CryptoStoreOp[]): Promise<void> {
    const capped = capRecordSkipped(record)
    await this.init.store.batch([{ type: 'put', key: ['session', peer], value: encodeSessionRecord(capped) }, ...ops])
    this.remember(peer, capped)
  }

  async hasSession (peer: SessionId): Promise<boolean> {
    return await this.run(async () => (await this.load(peer)).current !== undefined)
  }

  /** Forgets every session with a contact; the next message starts a new one from their bundle. */
  async resetSession (peer: SessionId): Promise<void> {
    await this.run(async () => {
      await this.init.store.del(['session', peer])
      this.records.delete(peer)
    })
  }

  /** The contact's pinned Ed25519 identity key, if any. */
  async pinnedIdentity (peer: SessionId): Promise<Uint8Array | undefined> {
    const v = await this.init.store.get(['identity', peer])
    return v === undefined || v[0] !== PIN_VERSION ? undefined : v.subarray(1)
  }

  /**
   * The user accepted a changed identity (after ERR_IDENTITY_CHANGED): pin `signingKey`, or
   * forget the pin when undefined. Never done implicitly (R3, H4).
   */
  async trustIdentity (peer: SessionId, signingKey?: Uint8Array): Promise<void> {
    await this.run(async () => {
      if (signingKey === undefined) await this.init.store.del(['identity', peer])
      else await this.init.store.put(['identity', peer], concatBytes(Uint8Array.of(PIN_VERSION), signingKey))
      await this.init.store.del(['session', peer])
      this.records.delete(peer)
    })
  }

  private async pinOps (peer: SessionId, signingKey: Uint8Array): Promise<CryptoStoreOp[]> {
    const pinned = await this.pinnedIdentity(peer)
    if (pinned === undefined) return [{ type: 'put', key: ['identity', peer], value: concatBytes(Uint8Array.of(PIN_VERSION), signingKey) }]
    if (!equalBytes(pinned, signingKey)) throw new IdentityChangedError(peer)
    return []
  }

  private usable (state: SessionState | undefined, now: number): state is SessionState {
    if (state?.ratchet.sendingChain === undefined) return false
    // H15: a session the peer never acknowledged is not used for ever.
    return state.pending === undefined || now - state.pending.since <= MAX_UNACKNOWLEDGED_SESSION_AGE_MS
  }

  /** Starts a session from bundle bytes (PQXDH §3.3); returns the new record, not yet stored. */
  private async initiate (peer: SessionId, record: SessionRecord, bundleBytes: Uint8Array, useOneTime: boolean, now: number): Promise<{ record: SessionRecord, ops: CryptoStoreOp[] }> {
    // PQXDH §3.3 / X3DH §3.3: Alice verifies the prekey signatures before anything is derived; a hit
    // means these exact bytes were verified for this peer, and the time checks run again.
    const bundle = this.bundles.parse(bundleBytes, peer, now)
    const ops = await this.pinOps(peer, bundle.identityKey)
    const n = bundle.oneTimePrekeys.length
    const pick = !useOneTime || n === 0 ? undefined : (this.init.chooseOneTimePrekey ?? ((k: number) => randomInt(this.random, k)))(n)
    return { record: this.cipher.start(record, bundle, sessionIdToX25519(peer), pick, now), ops }
  }

  /**
   * Starts a session with `peer` from its bundle now (without sending). encrypt() does this
   * by itself when no session exists; this is for callers holding a bundle (QR/invite, LAN).
   */
  async startSession (peer: SessionId, bundleBytes: Uint8Array, options: { oneTimePrekey?: boolean } = {}): Promise<void> {
    await this.run(async () => {
      const now = this.now()
      const { record, ops } = await this.initiate(peer, await this.load(peer), bundleBytes, options.oneTimePrekey !== false, now)
      await this.commit(peer, record, ops)
    })
  }

  /** Encrypts and seals a plaintext for `peer`; the advanced state is stored before the envelope is returned (R10). */
  /**
   * Fetches the contact's bundle when there is no usable session yet, outside the queue: a
   * DHT lookup can take seconds, and everything else this account encrypts or decrypts waits
   * behind the queue. The next encrypt to that peer uses the bundle fetched here.
   */
  async prepare (peer: SessionId, options: { signal?: AbortSignal } = {}): Promise<void> {
    const fetch = this.init.fetchBundle ?? this.init.fetchRecord
    if (fetch === undefined || this.usable((await this.load(peer)).current, this.now())) return
    const bytes = await fetch(peer, { signal: options.signal }).catch(() => undefined)
    this.prefetched.delete(peer)
    if (this.prefetched.size >= MAX_PREFETCHED_BUNDLES) this.prefetched.delete(this.prefetched.keys().next().value as string)
    this.prefetched.set(peer, { bytes, at: this.now() })
  }

  async encrypt (peer: SessionId, plaintext: Uint8Array, options: EncryptOptions = {}): Promise<Uint8Array> {
    return await this.run(async () => {
      const now = this.now()
      let record = await this.load(peer)
      const ops: CryptoStoreOp[] = []
      if (!this.usable(record.current, now)) {
        const fetch = this.init.fetchBundle ?? this.init.fetchRecord
        const early = this.prefetched.get(peer)
        this.prefetched.delete(peer)
        // A lookup prepare just made (found or not) is not made again inside the queue.
        const bytes = early !== undefined && now - early.at < PREFETCHED_BUNDLE_TTL_MS
          ? early.bytes
          : fetch === undefined ? undefined : await fetch(peer, { signal: options.signal })
        options.signal?.throwIfAborted()
        if (bytes === undefined) throw new NoSessionError('no session and no prekey bundle for this contact')
        const started = await this.initiate(peer, record, bytes, options.oneTimePrekey !== false, now)
        record = started.record
        ops.push(...started.ops)
      }
      const state = record.current as SessionState
      const out = this.cipher.encrypt(record, plaintext)
      const content = encodeContent({ kind: out.kind, message: out.message })
      // Closed while this call waited (a bundle lookup): the static secrets are gone, seal nothing.
      if (this.closed) throw new ClosedError()
      // PROTOCOL.md §7.1: X25519(s, R) from the contact's cache entry after the first envelope.
      const envelope = sealEnvelope(this.identity, state.remoteIdentity, content, this.random, this.cipher.staticPeer(state.remoteIdentity))
      const alongside = options.alongside === undefined ? [] : await options.alongside(envelope)
      await this.commit(peer, out.record, [...ops, ...(options.extraOps ?? []), ...alongside])
      return envelope
    })
  }

  /** The messaging port's name for encrypt. */
  async seal (peer: SessionId, plaintext: Uint8Array, options: EncryptOptions = {}): Promise<Uint8Array> {
    return await this.encrypt(peer, plaintext, options)
  }

  /**
   * Opens an envelope (its static layer proves the sender's identity key before any session
   * work, E2), decrypts it in that sender's session, and commits the new state plus the
   * caller's writes in one batch. Throws a typed CryptoError and stores nothing for anything
   * that does not decrypt exactly once.
   */
  async decrypt (envelope: Uint8Array, options: DecryptOptions = {}): Promise<DecryptResult> {
    try {
      return await this.decryptNow(envelope, options)
    } catch (err) {
      // Codes only: never a key, a plaintext or a sender (the log is not end-to-end encrypted).
      this.log?.debug('envelope refused', { code: (err as { code?: string }).code ?? 'ERR_INTERNAL', size: envelope.length })
      throw err
    }
  }

  private async decryptNow (envelope: Uint8Array, options: DecryptOptions): Promise<DecryptResult> {
    return await this.run(async () => {
      const now = this.now()
      // The static layer proves the sender before any session work (E2); a contact's cached
      // static secret (PROTOCOL.md §7.1) is looked up by the key the ephemeral layer gave and
      // replaces the DH, never the static layer's AEAD check.
      const opened = openEnvelope(this.identity, envelope, (key) => this.cipher.contacts.peek(key))
      const { sender } = opened
      let peer: SessionId
      let content: Content
      try {
        content = decodeContent(opened.content)
        // A static layer naming our own key needs our private key: we made it, so it is a reflection.
        if (equalBytes(sender, this.identity.publicKey)) throw new DecryptError('a message claiming to come from ourselves')
        try {
          // The full Session ID check (K3), now that the key is proven: a key no contact can have.
          peer = this.cipher.contacts.get(sender).sessionId
        } catch {
          throw new EnvelopeError('ERR_ENVELOPE')
        }
      } catch (err) {
        wipe(opened.staticShared)
        throw err
      }
      // Proven by the static layer and checked in full: kept for this contact's next envelope.
      if (opened.staticShared !== undefined) this.cipher.contacts.keepStaticShared(sender, opened.staticShared)
      const { kind, message } = content
      const r = await this.cipher.decrypt(await this.load(peer), sender, kind, message, now)
      const id = messageId(sender, r.header.ratchetKey, r.header.counter)
      const extra = options.commit === undefined ? [] : await options.commit(peer, r.plaintext, id)
      await this.commit(peer, r.record, [...r.ops, ...(options.extraOps ?? []), ...extra])
      if (r.consumedOneTime !== undefined) {
        this.prekeys.forgetOneTime(r.consumedOneTime)
        this.prekeys.markChanged()
      }
      return { from: peer, plaintext: r.plaintext, messageId: id, newSession: r.newSession, missing: (r.record.current as SessionState).ratchet.skipped.length }
    })
  }

  toJSON (): unknown {
    return { type: 'SessionManager', sessionId: this.sessionId, state: '[redacted]' }
  }

  [inspect.custom] (): string {
    return `SessionManager { sessionId: ${this.sessionId}, state: [redacted] }`
  }

  /** The messaging port's shape of decrypt. */
  async open (envelope: Uint8Array, commit: (from: SessionId, plaintext: Uint8Array) => Promise<CryptoStoreOp[]>): Promise<{ from: SessionId, plaintext: Uint8Array }> {
    const r = await this.decrypt(envelope, { commit })
    return { from: r.from, plaintext: r.plaintext }
  }
}

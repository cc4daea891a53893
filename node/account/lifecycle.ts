/**
 * The account on a running node: created, restored or unlocked with the passphrase, then
 * open (its messenger sending and receiving, its mail collected, its record published) until
 * the node stops.
 *
 * Two kinds of lock: with the account closed (a start without passphrase) the node cannot
 * decrypt, so it answers direct deliveries "locked" and senders fall back to mailboxes; with
 * the UI locked (idle time, or "lock" in the UI) the account stays open so messages keep
 * arriving, but nothing personal is served until the passphrase is given again (R14).
 */
import { createHash, randomBytes } from 'node:crypto'
import { wipe } from '../bytes.js'
import type { SottoError } from '../errors.js'
import { entropyToPhrase, phraseToEntropy } from '../identity/phrase.js'
import { sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import { putInMailboxes } from '../net/mailbox/placement.js'
import { BLOB_ENVELOPE_VERSION } from '../attachments/constants.js'
import type { ComponentLogger, Logger } from '../log.js'
import { Messenger } from '../messaging/messenger.js'
import { GROUP_MESSAGE_VERSION } from '../groups/constants.js'
import { GroupManager, type GroupEvent } from '../groups/group-manager.js'
import type { MessengerEvent } from '../messaging/ports.js'
import type { Message } from '../messaging/message-log.js'
import type { Network } from '../net/network.js'
import { MailCollector, type RememberedHolder } from '../net/mailbox/collector.js'
import { mailboxKeyFor, signOwnerProof } from '../net/mailbox/proof.js'
import { accountDir, accountExists, changePassphrase, createAccount, openAccount, type Account } from '../store/account.js'
import { withEpoch, type EpochStore } from '../store/epoch.js'
import { withRecordCache, type CachedStore } from '../store/record-cache.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { ScryptParams } from '../store/kdf.js'
import { readKeyFile, unwrapDataKey } from '../store/keyfile.js'
import { openAccountCrypto, type AccountCrypto } from './account-crypto.js'
import { defaultStateDir, RollbackGuard } from './rollback-guard.js'
import { AccountStateError } from './errors.js'
import { RecordPublisher } from './record-publisher.js'
import { UnlockThrottle } from './unlock-throttle.js'
import { AttachmentService, type AttachmentEvent } from '../attachments/service.js'
import { CallManager, type CallEvent } from '../calls/call-manager.js'

export const MIN_PASSPHRASE_LENGTH = 8
/** How often the idle lock is checked (at most; shorter when the idle time is shorter). */
export const IDLE_CHECK_MS = 15_000
/** A just-connected peer gets a moment to finish identify before the first record put. */
export const FIRST_PUBLISH_DELAY_MS = 300
/** Queued envelopes are retried on a new connection at most this often (else by their backoff). */
export const FORCED_RETRY_GAP_MS = 5_000
/** Mail is collected shortly after a peer connects: it may be one of our mailboxes. */
export const COLLECT_ON_CONNECT_DELAY_MS = 200
/** Where the mail collector remembers the peers closest to the account's mailbox. */
const MAILBOX_PEERS_KEY = ['mailbox-peers'] as const
/**
 * The records every message reads again (contacts, profiles, message rows and their indexes,
 * pinned identity keys): kept decrypted in memory while the account is open.
 */
const CACHED_TABLES = ['contact', 'profile', 'peer-profile', 'msg', 'msg-id', 'msg-seq', 'meta', 'identity']

/** The key that names this account's epoch file: derived from the identity, used for nothing else. */
function rollbackSecret (signingSeed: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('sotto/rollback-name-key/v1\0').update(signingSeed).digest())
}

export type AccountState = 'no-account' | 'locked' | 'unlocked'

export type AccountEvent =
  | MessengerEvent
  | GroupEvent
  | { type: 'locked' }
  | { type: 'changed' }
  | { type: 'attachment' } & AttachmentEvent
  | CallEvent

export interface AccountLifecycleInit {
  dataDir: string
  network: Network
  logger: Logger
  now: () => number
  /** Idle time after which the UI locks; read on every check, so settings apply at once. */
  idleLockMs: () => number
  onEvent: (event: AccountEvent) => void
  /** KDF cost for accounts created here (tests use the minimum). */
  kdf?: ScryptParams
  /** Delay before read receipts (E5); tests shorten it. */
  receiptDelayMs?: () => number
  /** Where the write count of each store is kept, outside the data folder (L7); default defaultStateDir(). */
  stateDir?: string
  /** How often group mailboxes are read for what gossip missed; default 5 min (tests shorten it). */
  groupCollectEveryMs?: number
}

/** What the node found when the data folder turned out to be an older copy (L7). */
export interface RollbackNotice { detectedAt: number, storeEpoch: number, keptEpoch: number }

interface OpenAccount {
  account: Account
  /** Hot records in memory over the account's store; emptied when the account closes. */
  cache: CachedStore
  guard: RollbackGuard
  crypto: AccountCrypto
  messenger: Messenger
  groups: GroupManager
  mail: MailCollector
  publisher: RecordPublisher
  attachments: AttachmentService
  calls: CallManager
}

export class AccountLifecycle {
  private open: OpenAccount | undefined
  private uiLocked = false
  private lastActivity: number
  private readonly throttle: UnlockThrottle
  private readonly log: ComponentLogger
  private readonly idleTimer: NodeJS.Timeout
  private readonly onPeerConnect = (): void => { this.peerConnected() }
  private lastForcedRetry = 0

  constructor (private readonly init: AccountLifecycleInit) {
    this.log = init.logger.forComponent('sotto:account')
    this.throttle = new UnlockThrottle(init.now)
    this.lastActivity = init.now()
    this.idleTimer = setInterval(() => { this.checkIdle() }, Math.min(IDLE_CHECK_MS, init.idleLockMs()))
    this.idleTimer.unref()
    init.network.libp2p.addEventListener('peer:connect', this.onPeerConnect)
  }

  async state (): Promise<AccountState> {
    if (this.open === undefined && !await accountExists(this.init.dataDir)) return 'no-account'
    return this.open === undefined || this.uiLocked ? 'locked' : 'unlocked'
  }

  /** The Session ID while the UI is unlocked. */
  get sessionId (): SessionId | undefined {
    return this.open !== undefined && !this.uiLocked ? this.open.account.identity.sessionId : undefined
  }

  /** Set when the open account's data folder was found to be an older copy. */
  get rollback (): RollbackNotice | undefined { return this.rollbackNotice }
  private rollbackNotice: RollbackNotice | undefined

  get recordPublishedAt (): number | undefined { return this.open?.publisher.publishedAt }
  get publishedRecord (): Uint8Array | undefined { return this.open?.publisher.record }

  /** The open account's messenger; AccountStateError ERR_LOCKED while closed or UI-locked. */
  messenger (): Messenger {
    return this.requireUnlocked().messenger
  }

  /** The open account's attachments; AccountStateError ERR_LOCKED while closed or UI-locked. */
  attachments (): AttachmentService {
    return this.requireUnlocked().attachments
  }

  /** The open account's calls; AccountStateError ERR_LOCKED while closed or UI-locked. */
  calls (): CallManager {
    return this.requireUnlocked().calls
  }

  /** The open account's groups; AccountStateError ERR_LOCKED while closed or UI-locked. */
  groups (): GroupManager {
    return this.requireUnlocked().groups
  }

  selfId (): SessionId {
    return this.requireUnlocked().account.identity.sessionId
  }

  async create (passphrase: string): Promise<{ sessionId: SessionId, phrase: string }> {
    const entropy = new Uint8Array(randomBytes(16))
    try {
      const account = await this.newAccount(entropy, passphrase)
      const phrase = entropyToPhrase(entropy)
      await this.openWith(account)
      return { sessionId: account.identity.sessionId, phrase }
    } finally {
      wipe(entropy)
    }
  }

  async restore (phrase: string, passphrase: string): Promise<{ sessionId: SessionId }> {
    const entropy = phraseToEntropy(phrase)
    try {
      const account = await this.newAccount(entropy, passphrase)
      await this.openWith(account)
      return { sessionId: account.identity.sessionId }
    } finally {
      wipe(entropy)
    }
  }

  /** Opens the account (or lifts the UI lock); repeated wrong passphrases are slowed down (A7). */
  async unlock (passphrase: string): Promise<{ sessionId: SessionId }> {
    // Counted before the key derivation runs, and one at a time (ERR_UNLOCK_BUSY otherwise).
    const attempt = this.throttle.begin()
    try {
      if (this.open !== undefined) {
        // The account is open (UI lock only): check the passphrase against the key file.
        wipe(await unwrapDataKey(await readKeyFile(accountDir(this.init.dataDir)), passphrase))
        this.uiLocked = false
        this.lastActivity = this.init.now()
      } else {
        await this.openWith(await openAccount(this.init.dataDir, passphrase))
      }
    } catch (err) {
      if ((err as SottoError).code === 'ERR_WRONG_PASSPHRASE') attempt.failed()
      else attempt.abandoned()
      throw err
    }
    attempt.succeeded()
    this.emit({ type: 'changed' })
    return { sessionId: (this.open as OpenAccount).account.identity.sessionId }
  }

  /**
   * Changes the passphrase of the open account: only keyfile.json is rewritten (as `sotto
   * passwd` does). The current one is checked under the unlock throttle, so this is no way
   * around it (A7).
   */
  async changePassphrase (current: string, next: string): Promise<void> {
    this.requireUnlocked()
    if (next.length < MIN_PASSPHRASE_LENGTH) throw new AccountStateError('ERR_PASSPHRASE_TOO_SHORT', `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`)
    if (next === current) throw new AccountStateError('ERR_SAME_PASSPHRASE', 'the new passphrase is the same as the current one')
    await this.passphraseAttempt(async () => { await changePassphrase(this.init.dataDir, current, next, this.init.kdf) })
  }

  /** The recovery phrase of the open account, shown again after the passphrase is checked (throttled like unlock). */
  async recoveryPhrase (passphrase: string): Promise<string> {
    const o = this.requireUnlocked()
    await this.passphraseAttempt(async () => { wipe(await unwrapDataKey(await readKeyFile(accountDir(this.init.dataDir)), passphrase)) })
    // The account may have closed (node stopping) while the key was derived.
    if (this.open !== o || this.uiLocked) throw new AccountStateError('ERR_LOCKED', 'the node is locked; unlock it with your passphrase')
    return entropyToPhrase(o.account.entropy)
  }

  /** Runs a check of the passphrase as one throttled attempt: a wrong one counts as a failed unlock. */
  private async passphraseAttempt (check: () => Promise<void>): Promise<void> {
    const attempt = this.throttle.begin()
    try {
      await check()
    } catch (err) {
      if ((err as SottoError).code === 'ERR_WRONG_PASSPHRASE') attempt.failed()
      else attempt.abandoned()
      throw err
    }
    attempt.succeeded()
  }

  lock (): void {
    if (this.open === undefined) return
    this.uiLocked = true
    this.emit({ type: 'locked' })
  }

  /** Closes the account (the node goes on as a DHT and mailbox peer) and stops the idle timer. */
  async close (): Promise<void> {
    clearInterval(this.idleTimer)
    this.init.network.libp2p.removeEventListener('peer:connect', this.onPeerConnect)
    const o = this.open
    this.open = undefined
    if (o === undefined) return
    this.init.network.onEnvelope(undefined)
    o.calls.stop()
    o.messenger.stop()
    o.groups.stop()
    o.mail.stop()
    await o.attachments.stop()
    await o.publisher.stop()
    await o.guard.flush()
    await o.account.close()
    o.cache.clear()
    // The contacts' static secrets of sealed envelopes are wiped; the manager refuses all after.
    o.crypto.manager.close()
  }

  /**
   * Settings are the user's too: refused while an account exists that is closed or UI-locked
   * (AccountStateError ERR_LOCKED); with no account yet there is nothing to protect.
   */
  async requireSettingsAccess (): Promise<void> {
    if (await this.state() === 'locked') throw new AccountStateError('ERR_LOCKED', 'the node is locked; unlock it with your passphrase')
    if (this.open !== undefined) this.lastActivity = this.init.now()
  }

  private requireUnlocked (): OpenAccount {
    if (this.open === undefined || this.uiLocked) throw new AccountStateError('ERR_LOCKED', 'the node is locked; unlock it with your passphrase')
    this.lastActivity = this.init.now()
    return this.open
  }

  private async newAccount (entropy: Uint8Array, passphrase: string): Promise<Account> {
    if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new AccountStateError('ERR_PASSPHRASE_TOO_SHORT', `the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`)
    if (this.open !== undefined || await accountExists(this.init.dataDir)) throw new AccountStateError('ERR_ACCOUNT_EXISTS', 'this node already has an account')
    return await createAccount(this.init.dataDir, passphrase, entropy, { kdf: this.init.kdf })
  }

  private async openWith (account: Account): Promise<void> {
    const { network, logger, now } = this.init
    const identity = account.identity
    // Every batch counts; the count is kept outside the data folder too, so an older copy shows.
    const epochs = await withEpoch(account.store)
    const guard = await RollbackGuard.open(this.init.stateDir ?? defaultStateDir(), rollbackSecret(identity.signingSeed), epochs.instanceId)
    const check = guard.check(epochs.epoch)
    epochs.onCommitted((n) => { guard.committed(n) })
    // Every component reads and writes through the cache, so none of them can leave it stale.
    const store = withRecordCache(epochs, { tables: CACHED_TABLES })
    const crypto = await openAccountCrypto({ identity, store, fetchRecord: async (peer, options) => await network.fetchRecord(peer, options), now })
    // The group layer needs the messenger (its lock, log and 1:1 sessions) and the messenger
    // hands it group control payloads: the one is made first and given the other's handler.
    let groups: GroupManager | undefined
    let calls: CallManager | undefined
    const attachments = new AttachmentService({
      store,
      libp2p: network.libp2p,
      sourceOf: async (peer) => await network.routing(peer as SessionId),
      logger: logger.forComponent('sotto:attachments'),
      now,
      onEvent: (e) => { this.emit({ type: 'attachment', ...e }) }
    })
    const messenger = new Messenger({
      self: identity.sessionId,
      store,
      crypto,
      transport: network.transport,
      logger: logger.forComponent('sotto:messenger'),
      now,
      onEvent: (e) => {
        this.emit(e)
        // Files a contact sent are fetched once their message is stored.
        if (e.type === 'message' && e.message.direction === 'in' && e.message.attachments !== undefined && e.message.group === undefined) {
          void attachments.incoming(e.message.peer, e.message.id, e.message.attachments).catch(() => {})
        }
        // Files we sent: the sender's progress events name their message.
        if (e.type === 'message' && e.message.direction === 'out' && e.message.attachments !== undefined && e.message.group === undefined) {
          void attachments.sent(e.message.peer, e.message.id, e.message.attachments.map((a) => a.manifestId)).catch(() => {})
        }
        // A deleted contact's call lines go with its conversation.
        if (e.type === 'contact-removed') void calls?.log.removePeer(e.sessionId).catch(() => {})
        // The recipient is offline (the text went to its mailboxes): small files follow it there.
        if (e.type === 'message-state' && e.state === 'stored') void this.mailAttachments(e.peer, e.id).catch(() => {})
      },
      receiptDelayMs: this.init.receiptDelayMs,
      // Disappearing messages: rows under short-lived keys outside the database, their files
      // deleted with them, and the database files rewritten after (docs/PROTOCOL.md §12).
      ephemeral: account.ephemeral,
      compact: async (tables) => { await account.compact(tables) },
      expireExtras: async (messages) => {
        const ids = messages.flatMap((m) => (m.attachments ?? []).map((a) => a.manifestId))
        if (ids.length === 0) return { ops: [], tables: [] }
        const done = await attachments.expireOps(ids)
        return { ops: done.ops, tables: ['att', 'blob', 'blob-early'], after: done.after }
      },
      groups: async (from, body) => groups === undefined ? { ops: [] } : await groups.applyControl(from, body),
      // A group's disappearing messages: its record kept in step with what expired.
      expireConversation: async (peer, rows) => await groups?.expiredOps(peer, rows),
      calls: (from, signal, via) => { void calls?.receive(from, signal, via).catch(() => {}) }
    })
    calls = new CallManager({
      send: async (peer, signal, options) => await messenger.sendCallSignal(peer, signal, options),
      contactState: async (peer) => (await messenger.contacts.get(peer))?.state,
      store,
      logger: logger.forComponent('sotto:calls'),
      now,
      onEvent: (e) => { this.emit(e) }
    })
    groups = new GroupManager({
      identity,
      // Group rows under a timer are sealed under short-lived keys: their file is written before each batch.
      store: messenger.storeWithKeys,
      messenger,
      net: network.groups,
      logger: logger.forComponent('sotto:groups'),
      now,
      onEvent: (e) => {
        this.emit(e)
        if (e.type === 'message' && e.message.attachments !== undefined) void this.groupFiles(e.message, attachments, groups).catch(() => {})
      },
      collectEveryMs: this.init.groupCollectEveryMs
    })
    const mail = new MailCollector({
      libp2p: network.libp2p,
      mailbox: mailboxKeyFor(identity.dhPublicKey),
      sign: (op, mailboxPeer, nonce) => signOwnerProof({
        op, signingSeed: identity.signingSeed, signingPublicKey: identity.signingPublicKey, dhPublicKey: identity.dhPublicKey, mailboxPeer, nonce, now: now()
      }),
      receive: async (envelope) => envelope[0] === BLOB_ENVELOPE_VERSION ? await attachments.receiveEnvelope(envelope) : await messenger.receive(envelope, 'mailbox'),
      // Which peers sit near our mailbox is kept sealed with the rest of the account.
      memory: {
        load: async () => (await getJson<RememberedHolder[]>(store, MAILBOX_PEERS_KEY)) ?? [],
        save: async (holders) => { await store.put(MAILBOX_PEERS_KEY, jsonValue(holders)) }
      },
      log: logger.forComponent('sotto:mail')
    })
    const publisher = new RecordPublisher({
      sessionId: identity.sessionId,
      currentRecord: async () => await crypto.currentRecord({ peerId: network.peerId, addresses: network.addresses() }),
      put: async (sessionId, record) => await network.publish(sessionId, record),
      log: this.log,
      now,
      onPublished: () => { this.emit({ type: 'changed' }) }
    })
    this.rollbackNotice = undefined
    if (check.rolledBack) await this.recoverFromRollback(epochs, guard, crypto, messenger)
    // What expired while the node was off goes before the API can serve any of it.
    await messenger.expireDue()
    await messenger.pruneGuards()
    this.open = { account, cache: store, guard, crypto, messenger, groups, mail, publisher, attachments, calls }
    const groupManager = groups
    network.onEnvelope(async (envelope) => {
      // A direct copy of a group message (its own version byte, docs/GROUPS.md §3).
      if (envelope[0] === GROUP_MESSAGE_VERSION) {
        const v = await groupManager.receive(envelope)
        return v === 'accepted' || v === 'pending' ? 'accepted' : v === 'duplicate' ? 'duplicate' : 'refused'
      }
      const verdict = await messenger.receive(envelope)
      // A consumed one-time prekey must disappear from the published record soon.
      if (verdict === 'accepted' && crypto.recordChanged()) publisher.schedule()
      // The delivery protocol has one answer for both: the sender learns only "not taken".
      return verdict === 'rejected' ? 'refused' : verdict
    })
    messenger.start()
    await attachments.start()
    await groups.start()
    mail.start()
    this.uiLocked = false
    this.lastActivity = now()
    // The first put runs in the background: a DHT walk can take seconds, and nothing else
    // (the API, the printed link, sending) needs to wait for it.
    void publisher.start()
    this.emit({ type: 'changed' })
  }

  /**
   * The data folder is older than what this machine saw of it (restored from a copy). Its
   * ratchet states may be behind: sending on them would reuse message keys, so every session
   * starts again from the contact's record; its one-time prekeys may already have been used,
   * so they are replaced. Messages received after the copy was taken cannot be told apart from
   * new ones and may arrive again; the user is told (status, web UI, `sotto status`).
   */
  private async recoverFromRollback (store: EpochStore, guard: RollbackGuard, crypto: AccountCrypto, messenger: Messenger): Promise<void> {
    const check = guard.check(store.epoch)
    this.log.warn('the data folder is an older copy than this machine saw; sessions restart', { storeEpoch: check.storeEpoch, keptEpoch: check.keptEpoch })
    for (const contact of await messenger.contacts.list()) await crypto.reset(contact.sessionId)
    await crypto.replaceOneTimePrekeys()
    await store.advanceTo(check.keptEpoch + 1)
    await guard.flush()
    this.rollbackNotice = { detectedAt: this.init.now(), storeEpoch: check.storeEpoch, keptEpoch: check.keptEpoch }
  }

  /**
   * What the account tells its listeners (the API's event stream). The messenger's events
   * carry messages, contacts and Session IDs: unless the account is open and the UI unlocked
   * they are dropped, as the API refuses to answer then (R14); "locked" and "changed" (status
   * only) always pass. Nothing is lost: the messages are stored, and the UI and
   * `sotto inbox --follow` fetch them after the unlock.
   */
  private emit (event: AccountEvent): void {
    const personal = event.type !== 'locked' && event.type !== 'changed'
    if (personal && (this.open === undefined || this.uiLocked)) return
    this.init.onEvent(event)
  }

  /**
   * Files in a group message. Received: fetched from the author's node (`from`), while the
   * record and its events keep the group as their conversation; group mailboxes carry no
   * chunks, so a member offline at the time gets them once both are online. Sent: the other
   * members are its recipients (docs/GROUPS.md §5).
   */
  private async groupFiles (m: Message, attachments: AttachmentService, groups: GroupManager | undefined): Promise<void> {
    if (m.group === undefined || m.attachments === undefined) return
    if (m.direction === 'in') {
      if (m.from !== undefined) await attachments.incoming(m.peer, m.id, m.attachments, { source: m.from })
      return
    }
    const members = groups === undefined ? 2 : (await groups.get(m.group)).members.length
    await attachments.sent(m.peer, m.id, m.attachments.map((a) => a.manifestId), members - 1)
  }

  /** Puts the files of an outgoing message in its recipient's mailboxes (node/attachments). */
  private async mailAttachments (peer: SessionId, id: string): Promise<void> {
    const o = this.open
    const message = await o?.messenger.log.find(peer, id)
    if (o === undefined || message?.direction !== 'out' || message.attachments === undefined) return
    const mailbox = mailboxKeyFor(sessionIdToX25519(peer))
    // Files of an after-send message are kept no longer than the message (docs/PROTOCOL.md §12.4).
    const ttlMs = message.timer?.mode === 'after-send' && message.expiresAt !== undefined ? message.expiresAt - this.init.now() : undefined
    if (ttlMs !== undefined && ttlMs < 1000) return
    for (const a of message.attachments) {
      await o.attachments.mailTo(peer, a.manifestId, async (envelope) => (await putInMailboxes(this.init.network.libp2p, mailbox, envelope, undefined, ttlMs)).count)
    }
  }

  private peerConnected (): void {
    const o = this.open
    if (o === undefined) return
    o.attachments.kick()
    if (o.publisher.publishedAt === undefined) setTimeout(() => { if (this.open === o) o.publisher.schedule() }, FIRST_PUBLISH_DELAY_MS).unref()
    // A new connection may make a contact reachable: retry queued envelopes now, but at most
    // once per gap, since a DHT participant connects to peers all the time.
    if (this.init.now() - this.lastForcedRetry >= FORCED_RETRY_GAP_MS) {
      this.lastForcedRetry = this.init.now()
      void o.messenger.outbox.retryDue(true)
      void o.groups.retryDue()
      // Group mail too: a member back online reads what gossip could not bring it.
      setTimeout(() => { if (this.open === o) void o.groups.collect() }, COLLECT_ON_CONNECT_DELAY_MS).unref()
    }
    setTimeout(() => { if (this.open === o) o.mail.collectSoon() }, COLLECT_ON_CONNECT_DELAY_MS).unref()
  }

  private checkIdle (): void {
    if (this.open !== undefined && !this.uiLocked && this.init.now() - this.lastActivity > this.init.idleLockMs()) {
      this.uiLocked = true
      this.log.info('locked after idle time')
      this.emit({ type: 'locked' })
    }
  }
}

/**
 * A running Sotto node: the libp2p network (always on: DHT server, relay, mailbox for
 * others), the local API and web UI, and — once unlocked — the user's account with its
 * sessions, contacts and messages. `sotto start`, the tests and the benchmarks all build
 * nodes through this one function.
 *
 * Two kinds of lock: with the account closed (after a start without passphrase) the node
 * cannot decrypt, so it refuses direct delivery and senders fall back to mailboxes; with the
 * UI locked (idle timeout, or "lock" in the UI) the account stays open so messages keep
 * arriving, but the API serves nothing personal until the passphrase is given again (R14).
 */
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { entropyToPhrase, phraseToEntropy } from '../identity/phrase.js'
import type { SessionId } from '../identity/session-id.js'
import { accountDir, accountExists, createAccount, openAccount, type Account } from '../store/account.js'
import { ensurePrivateDir } from '../store/data-dir.js'
import { readKeyFile, unwrapDataKey } from '../store/keyfile.js'
import { wipe } from '../bytes.js'
import { SottoError } from '../errors.js'
import { ApiError } from '../api/errors.js'
import { newToken } from '../api/auth.js'
import { apiRoutes, type NodeController, type NodeStatus, type Settings } from '../api/routes.js'
import { startApiServer, type ApiServer } from '../api/server.js'
import { Messenger } from '../messaging/messenger.js'
import type { MessengerEvent } from '../messaging/ports.js'
import { removeApiFile, writeApiFile } from './api-file.js'
import { loadOrCreatePeerKey } from './peer-key.js'
import { readSettings, writeSettings } from './settings.js'
import { UnlockThrottle } from './unlock-throttle.js'
import { startNetwork, type Network } from './network.js'
import { MailCollector } from './mailboxes.js'
import { openSessionCrypto, type AccountCrypto } from './session-crypto.js'
import type { SottoNode, SottoNodeInit } from './types.js'

/** How often the prekey record is published again even when nothing changed. */
export const REPUBLISH_INTERVAL_MS = 10 * 60 * 1000
const IDLE_CHECK_MS = 15_000

interface Unlocked {
  account: Account
  crypto: AccountCrypto
  messenger: Messenger
  mail: MailCollector
  recordPublishedAt?: number
  record?: Uint8Array
}

export async function startSottoNode (init: SottoNodeInit): Promise<SottoNode> {
  const now = init.now ?? Date.now
  const log = init.logger.forComponent('sotto:node')
  await ensurePrivateDir(init.dataDir)
  let settings = await readSettings(init.dataDir)
  const peerKey = await loadOrCreatePeerKey(init.dataDir)
  const net: Network = await startNetwork({
    dataDir: init.dataDir,
    mailbox: init.mailbox,
    mailboxQuotaBytes: init.mailboxQuotaBytes,
    privateKey: peerKey,
    listen: init.listen,
    bootstrap: [...(init.bootstrap ?? []), ...settings.bootstrap],
    mdns: init.mdns ?? true,
    relay: init.relay ?? false,
    logger: init.logger,
    now
  })

  let unlocked: Unlocked | undefined
  let uiLocked = false
  let lastActivity = now()
  let api: ApiServer | undefined
  let republishTimer: NodeJS.Timeout | undefined
  let publishing: Promise<void> | undefined
  const throttle = new UnlockThrottle(now)

  const publish = (event: string, data: unknown) => api?.publish(event, data)
  const onMessengerEvent = (e: MessengerEvent) => {
    if (e.type === 'message') publish('message', e.message)
    else if (e.type === 'message-state') publish('message-state', { id: e.id, peer: e.peer, state: e.state })
    else publish('contact', e.contact)
  }

  net.onEnvelope(async (envelope) => {
    if (unlocked === undefined) return 'locked'
    const verdict = await unlocked.messenger.receive(envelope)
    // A consumed one-time prekey must disappear from the published record soon.
    if (verdict === 'accepted' && unlocked.crypto.recordChanged()) schedulePublish()
    return verdict
  })

  net.libp2p.addEventListener('peer:connect', () => {
    if (unlocked !== undefined && unlocked.recordPublishedAt === undefined) setTimeout(schedulePublish, 300).unref()
    void unlocked?.messenger.outbox.retryDue(true)
    if (unlocked !== undefined) setTimeout(() => { void unlocked?.mail.collect() }, 200).unref()
  })

  function schedulePublish (): void {
    if (publishing !== undefined) return
    publishing = publishRecord().finally(() => { publishing = undefined })
  }

  async function publishRecord (): Promise<void> {
    const u = unlocked
    if (u === undefined) return
    try {
      const record = await u.crypto.currentRecord({ peerId: net.peerId, addresses: net.addresses() })
      const { peers } = await net.publish(u.account.identity.sessionId, record)
      // A put that reached no peer is not "published": retried when a peer connects.
      if (peers > 0) {
        u.recordPublishedAt = now()
        u.record = record
        log.info('prekey record published', { peers })
      }
      publish('status', await status())
    } catch (err) {
      log.warn('could not publish the prekey record', { code: (err as SottoError).code ?? 'ERR_INTERNAL' })
    }
  }

  async function openUnlocked (account: Account): Promise<void> {
    const crypto = await openSessionCrypto({ account, network: net, logger: init.logger, now })
    const messenger = new Messenger({
      self: account.identity.sessionId,
      store: account.store,
      crypto,
      transport: net.transportFor(crypto),
      logger: init.logger.forComponent('sotto:messenger'),
      now,
      onEvent: onMessengerEvent,
      receiptDelayMs: init.receiptDelayMs
    })
    const mail = new MailCollector({
      libp2p: net.libp2p,
      identity: account.identity,
      receive: async (envelope) => await messenger.receive(envelope, 'mailbox'),
      log: init.logger.forComponent('sotto:mail'),
      now
    })
    unlocked = { account, crypto, messenger, mail }
    messenger.start()
    mail.start()
    uiLocked = false
    lastActivity = now()
    await publishRecord()
    republishTimer = setInterval(() => { schedulePublish() }, REPUBLISH_INTERVAL_MS)
    republishTimer.unref()
  }

  async function closeUnlocked (): Promise<void> {
    const u = unlocked
    unlocked = undefined
    if (republishTimer !== undefined) clearInterval(republishTimer)
    if (u === undefined) return
    u.messenger.stop()
    u.mail.stop()
    await publishing
    await u.account.close()
  }

  async function status (): Promise<NodeStatus> {
    const exists = unlocked !== undefined || await accountExists(init.dataDir)
    const stats = net.stats()
    const state: NodeStatus['state'] = !exists ? 'no-account' : unlocked === undefined || uiLocked ? 'locked' : 'unlocked'
    return {
      state,
      sessionId: state === 'unlocked' ? unlocked?.account.identity.sessionId : undefined,
      peerId: net.peerId,
      addresses: net.addresses(),
      peers: stats.peers,
      dht: { routingTable: stats.routingTable, recordPublished: unlocked?.recordPublishedAt !== undefined, publishedAt: unlocked?.recordPublishedAt },
      mailbox: stats.mailbox
    }
  }

  function requireUnlocked (): Unlocked {
    if (unlocked === undefined || uiLocked) throw new ApiError(423, 'ERR_LOCKED', 'the node is locked; unlock it with your passphrase')
    lastActivity = now()
    return unlocked
  }

  async function newAccount (entropy: Uint8Array, passphrase: string): Promise<Account> {
    if (passphrase.length < 8) throw new ApiError(400, 'ERR_PASSPHRASE_TOO_SHORT', 'the passphrase must have at least 8 characters')
    if (unlocked !== undefined || await accountExists(init.dataDir)) throw new ApiError(409, 'ERR_ACCOUNT_EXISTS', 'this node already has an account')
    return await createAccount(init.dataDir, passphrase, entropy, { kdf: init.kdf })
  }

  const controller: NodeController = {
    status,
    async createAccount (passphrase) {
      const entropy = new Uint8Array(randomBytes(16))
      const account = await newAccount(entropy, passphrase)
      const phrase = entropyToPhrase(entropy)
      wipe(entropy)
      await openUnlocked(account)
      publish('status', await status())
      return { sessionId: account.identity.sessionId, phrase }
    },
    async restoreAccount (phrase, passphrase) {
      let entropy: Uint8Array
      try {
        entropy = phraseToEntropy(phrase)
      } catch (err) {
        throw new ApiError(400, (err as SottoError).code, (err as Error).message)
      }
      const account = await newAccount(entropy, passphrase)
      wipe(entropy)
      await openUnlocked(account)
      publish('status', await status())
      return { sessionId: account.identity.sessionId }
    },
    async unlock (passphrase) {
      throttle.check()
      try {
        if (unlocked !== undefined) {
          // The account is open (UI lock only): check the passphrase against the key file.
          wipe(await unwrapDataKey(await readKeyFile(accountDir(init.dataDir)), passphrase))
          uiLocked = false
        } else {
          await openUnlocked(await openAccount(init.dataDir, passphrase))
        }
      } catch (err) {
        if ((err as SottoError).code === 'ERR_WRONG_PASSPHRASE') throw (throttle.failed(), err)
        throw err
      }
      throttle.succeeded()
      lastActivity = now()
      publish('status', await status())
      return { sessionId: (unlocked as Unlocked).account.identity.sessionId }
    },
    async lock () {
      if (unlocked === undefined) return
      uiLocked = true
      publish('locked', {})
    },
    messenger: () => requireUnlocked().messenger,
    selfId: (): SessionId => requireUnlocked().account.identity.sessionId,
    settings: async () => settings,
    async updateSettings (change: Partial<Settings>) {
      settings = { ...settings, ...change }
      await writeSettings(init.dataDir, settings)
      if (change.bootstrap !== undefined) await net.dial(change.bootstrap)
      return settings
    }
  }

  if (init.passphrase !== undefined && await accountExists(init.dataDir)) {
    try {
      await openUnlocked(await openAccount(init.dataDir, init.passphrase))
    } catch (err) {
      await net.stop()
      throw err
    }
  }

  const token = newToken()
  try {
    api = await startApiServer({
      token,
      routes: apiRoutes(controller),
      logger: init.logger.forComponent('sotto:api'),
      host: init.apiHost,
      port: init.apiPort ?? 0,
      allowNonLoopback: init.apiAllowRemote,
      staticDir: init.webUiDir ?? fileURLToPath(new URL('../../web-ui/', import.meta.url))
    })
  } catch (err) {
    // A node that cannot serve its API (port taken, say) leaves nothing running behind it.
    await closeUnlocked()
    await net.stop()
    throw err
  }
  await writeApiFile(init.dataDir, { port: api.port, token, pid: process.pid })

  const idleLockMs = () => init.idleLockMs ?? settings.idleLockMinutes * 60_000
  const idleTimer = setInterval(() => {
    if (unlocked !== undefined && !uiLocked && now() - lastActivity > idleLockMs()) {
      uiLocked = true
      log.info('locked after idle time')
      publish('locked', {})
    }
  }, Math.min(IDLE_CHECK_MS, idleLockMs()))
  idleTimer.unref()

  const host = init.apiHost !== undefined && init.apiHost !== '::1' ? init.apiHost : '127.0.0.1'
  let stopped = false
  return {
    url: `http://${host}:${api.port}/?token=${token}`,
    apiPort: api.port,
    token,
    peerId: net.peerId,
    controller,
    addresses: () => net.addresses(),
    publishedRecord: () => unlocked?.record,
    rebalanceMailboxes: async () => await net.rebalanceMailboxes(),
    async stop () {
      if (stopped) return
      stopped = true
      clearInterval(idleTimer)
      await api?.close()
      await removeApiFile(init.dataDir)
      await closeUnlocked()
      await net.stop()
    }
  }
}

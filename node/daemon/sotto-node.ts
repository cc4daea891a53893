/**
 * The composition root: builds a running Sotto node from its parts and wires them together.
 * `sotto start`, the tests and the benchmarks all build nodes through this one function.
 * Nothing here decides anything; each part's policy lives in its own module:
 * the network (node/net/network.ts), the account lifecycle (node/account/lifecycle.ts),
 * the local API (node/api/).
 */
import { fileURLToPath } from 'node:url'
import { newToken } from '../api/auth.js'
import { apiRoutes, attachmentRefs, messageViewOf, type NodeController, type NodeStatus, type Settings } from '../api/routes.js'
import { accountRoutes, type AccountController } from '../api/account-routes.js'
import { groupRoutes } from '../api/group-routes.js'
import { attachmentRoutes } from '../api/attachment-routes.js'
import { timerRoutes } from '../api/timer-routes.js'
import { callRoutes } from '../api/call-routes.js'
import { iceServersOf } from '../calls/settings.js'
import { startStunServer, type StunServer } from '../calls/stun-server.js'
import { stunPlace } from '../calls/stun-address.js'
import { DEFAULT_LISTEN } from '../net/libp2p.js'
import { startApiServer, type ApiServer } from '../api/server.js'
import { AccountLifecycle, type AccountEvent } from '../account/lifecycle.js'
import { bundleSequence, compareBundles, parseBundle } from '../crypto/bundle.js'
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import { Network, type RecordRules } from '../net/network.js'
import { ensurePrivateDir } from '../store/data-dir.js'
import { removeApiFile, writeApiFile } from './api-file.js'
import { loadOrCreatePeerKey } from './peer-key.js'
import { readSessions, sessionsFile } from './sessions-file.js'
import { readSettings, writeSettings } from './settings.js'
import type { SottoNode, SottoNodeInit } from './types.js'

/** Said in GET /api/status for the web UI: files in groups (an older node refused them). */
const NODE_FEATURES = ['group-attachments']
/** The web UI as `npm run build` lays it out: dist/web-ui beside dist/node. */
const BUNDLED_WEB_UI = fileURLToPath(new URL('../../web-ui/', import.meta.url))

export function recordRules (now: () => number): RecordRules {
  return {
    check: (sessionId, value) => { parseBundle(value, parseSessionId(sessionId), now()) },
    compare: compareBundles,
    sequence: bundleSequence,
    routingField: (sessionId, value) => parseBundle(value, sessionId, now()).routing
  }
}

export async function startSottoNode (init: SottoNodeInit): Promise<SottoNode> {
  const now = init.now ?? Date.now
  await ensurePrivateDir(init.dataDir)
  let settings = await readSettings(init.dataDir)
  const network = await Network.start({
    dataDir: init.dataDir,
    mailbox: init.mailbox,
    mailboxQuotaBytes: init.mailboxQuotaBytes,
    privateKey: await loadOrCreatePeerKey(init.dataDir),
    listen: init.listen,
    bootstrap: [...(init.bootstrap ?? []), ...settings.bootstrap],
    mdns: init.mdns ?? true,
    relay: init.relay ?? false,
    connectionGater: init.connectionGater,
    records: recordRules(now),
    logger: init.logger,
    now
  })

  // The STUN responder (off by default): on the TCP listener's host and port number, UDP.
  let stun: StunServer | undefined
  let stunAnnounce: { host: string, port: number } | undefined
  if (init.stun === true) {
    const place = stunPlace(init.listen ?? DEFAULT_LISTEN, network.addresses())
    if (place === undefined) {
      init.logger.forComponent('sotto:calls').warn('--stun needs an IPv4 TCP listen address; STUN stays off')
    } else {
      try {
        stun = await startStunServer({ host: place.bindHost, port: place.port, logger: init.logger.forComponent('sotto:stun') })
        stunAnnounce = { host: place.announceHost, port: stun.port }
      } catch (err) {
        init.logger.forComponent('sotto:calls').warn('could not start the STUN responder; STUN stays off', { code: (err as NodeJS.ErrnoException).code ?? 'ERR_STUN' })
      }
    }
  }

  let api: ApiServer | undefined
  const push = (event: string, data: unknown): void => { api?.publish(event, data) }
  const onAccountEvent = (e: AccountEvent): void => {
    // The same view the routes give: a file's key never leaves the node, not even to its own UI.
    if (e.type === 'message') push('message', messageViewOf(controller, e.message))
    else if (e.type === 'message-state') { const { type: _t, ...change } = e; push('message-state', change) }
    else if (e.type === 'message-deleted') push('message-deleted', { peer: e.peer, id: e.id })
    else if (e.type === 'messages-expired') push('messages-expired', { peer: e.peer, ids: e.ids })
    else if (e.type === 'contact') push('contact', e.contact)
    else if (e.type === 'contact-removed') push('contact-removed', { sessionId: e.sessionId })
    else if (e.type === 'group') push('group', e.group)
    else if (e.type === 'locked') push('locked', {})
    else if (e.type === 'call') push('call', { ...e.call, ...(e.sdp === undefined ? {} : { sdp: e.sdp }) })
    else if (e.type === 'call-candidates') push('call-candidates', { id: e.id, peer: e.peer, candidates: e.candidates })
    else if (e.type === 'attachment') { const { type: _t, ...progress } = e; push('attachment', progress) }
    else void status().then((s) => { push('status', s) })
  }
  const account = new AccountLifecycle({
    dataDir: init.dataDir,
    network,
    logger: init.logger,
    now,
    idleLockMs: () => init.idleLockMs ?? settings.idleLockMinutes * 60_000,
    onEvent: onAccountEvent,
    kdf: init.kdf,
    receiptDelayMs: init.receiptDelayMs,
    stateDir: init.stateDir,
    groupCollectEveryMs: init.groupCollectEveryMs
  })

  async function status (): Promise<NodeStatus> {
    const stats = network.stats()
    const publishedAt = account.recordPublishedAt
    return {
      state: await account.state(),
      sessionId: account.sessionId,
      peerId: network.peerId,
      addresses: network.addresses(),
      peers: stats.peers,
      dht: { routingTable: stats.routingTable, recordPublished: publishedAt !== undefined, publishedAt },
      mailbox: stats.mailbox,
      rollback: account.rollback !== undefined && account.sessionId !== undefined ? { detectedAt: account.rollback.detectedAt } : undefined,
      features: NODE_FEATURES
    }
  }

  const controller: NodeController = {
    status,
    createAccount: async (passphrase) => await account.create(passphrase),
    restoreAccount: async (phrase, passphrase) => await account.restore(phrase, passphrase),
    unlock: async (passphrase) => await account.unlock(passphrase),
    lock: async () => { account.lock() },
    messenger: () => account.messenger(),
    attachments: () => account.attachments(),
    selfId: (): SessionId => account.selfId(),
    settings: async () => { await account.requireSettingsAccess(); return settings },
    async updateSettings (change: Partial<Settings>) {
      await account.requireSettingsAccess()
      // The API checked each field it passes on (theme and notifications included).
      settings = { ...settings, ...change }
      await writeSettings(init.dataDir, settings)
      if (change.bootstrap !== undefined) await network.dial(change.bootstrap)
      return settings
    }
  }

  const accountControl: AccountController = {
    changePassphrase: async (current, next) => { await account.changePassphrase(current, next) },
    recoveryPhrase: async (passphrase) => await account.recoveryPhrase(passphrase)
  }

  async function stopParts (): Promise<void> {
    await account.close()
    await stun?.close()
    await network.stop()
  }

  try {
    if (init.passphrase !== undefined && await account.state() !== 'no-account') await account.unlock(init.passphrase)
  } catch (err) {
    await stopParts()
    throw err
  }

  const token = newToken()
  try {
    api = await startApiServer({
      token,
      routes: [...apiRoutes(controller), ...accountRoutes(accountControl), ...groupRoutes({ groups: () => account.groups(), messageView: (m) => messageViewOf(controller, m), attachmentRefs: async (raw) => await attachmentRefs(controller, raw) }), ...attachmentRoutes({ attachments: () => account.attachments() }), ...timerRoutes({ messenger: () => account.messenger() }), ...callRoutes({ calls: () => account.calls(), iceServers: async () => iceServersOf(stunAnnounce, settings) })],
      logger: init.logger.forComponent('sotto:api'),
      host: init.apiHost,
      port: init.apiPort ?? 0,
      allowNonLoopback: init.apiAllowRemote,
      staticDir: init.webUiDir ?? BUNDLED_WEB_UI,
      // Browsers stay signed in across restarts; the account stays locked until the passphrase.
      sessions: { initial: await readSessions(init.dataDir), persistence: sessionsFile(init.dataDir) },
      now: init.now
    })
  } catch (err) {
    // A node that cannot serve its API (port taken, say) leaves nothing running behind it.
    await stopParts()
    throw err
  }
  await writeApiFile(init.dataDir, { port: api.port, token, pid: process.pid })

  let stopped = false
  return {
    url: api.newLink(),
    apiPort: api.port,
    token,
    peerId: network.peerId,
    controller,
    addresses: () => network.addresses(),
    publishedRecord: () => account.publishedRecord,
    lookupRecord: async (sessionId, options) => await network.fetchRecord(sessionId, options),
    groups: () => account.groups(),
    rebalanceMailboxes: async () => await network.rebalanceMailboxes(),
    async stop () {
      if (stopped) return
      stopped = true
      await api?.close()
      await removeApiFile(init.dataDir)
      await stopParts()
    }
  }
}

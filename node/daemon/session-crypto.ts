/**
 * Adapter from node/crypto's SessionManager to what the messenger and the daemon need:
 * sealing and opening envelopes, and the account's prekey record for the DHT (with the
 * routing field filled from the network).
 */
import type { Account } from '../store/account.js'
import type { Logger } from '../log.js'
import type { SessionCrypto } from '../messaging/ports.js'
import { SessionManager } from '../crypto/session-manager.js'
import type { Network } from './network.js'
import { encodeRouting } from './routing.js'

export interface AccountCrypto extends SessionCrypto {
  /** A freshly signed record naming where this device can be reached. */
  currentRecord: (where: { peerId: string, addresses: string[] }) => Promise<Uint8Array>
  /** True once after the prekeys changed (a one-time prekey used, a rotation). */
  recordChanged: () => boolean
  manager: SessionManager
}

export async function openSessionCrypto (init: { account: Account, network: Network, logger: Logger, now: () => number }): Promise<AccountCrypto> {
  const manager = new SessionManager({
    identity: init.account.identity,
    store: init.account.store,
    now: init.now,
    fetchRecord: async (peer, options) => await init.network.fetchRecord(peer, options)
  })
  await manager.createPrekeys()
  return {
    manager,
    seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
    reset: async (peer) => { await manager.resetSession(peer) },
    open: async (envelope, commit) => await manager.open(envelope, commit),
    currentRecord: async ({ peerId, addresses }) => await manager.prekeys.buildRecord(encodeRouting(peerId, addresses)),
    recordChanged: () => manager.prekeys.takeChanged()
  }
}

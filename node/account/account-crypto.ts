/**
 * node/crypto's SessionManager as the messenger and the record publisher need it: sealing
 * and opening envelopes, and the account's prekey record for the DHT with the routing field
 * (where this device can be reached) filled in.
 */
import type { IdentityKeys } from '../identity/keys.js'
import type { SessionId } from '../identity/session-id.js'
import type { CryptoStore } from '../crypto/storage.js'
import type { SessionCrypto } from '../messaging/ports.js'
import { SessionManager } from '../crypto/session-manager.js'
import { encodeRouting } from '../net/routing.js'

export interface AccountCrypto extends SessionCrypto {
  /** A freshly signed record naming where this device can be reached. */
  currentRecord: (where: { peerId: string, addresses: string[] }) => Promise<Uint8Array>
  /** True once after the prekeys changed (a one-time prekey used, a rotation). */
  recordChanged: () => boolean
  /** Deletes every unused one-time prekey and makes new ones (after a rollback, old ones may have been used). */
  replaceOneTimePrekeys: () => Promise<void>
  manager: SessionManager
}

export interface AccountCryptoInit {
  identity: IdentityKeys
  store: CryptoStore
  /** A contact's current prekey record from the DHT. */
  fetchRecord: (peer: SessionId, options?: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>
  now: () => number
}

export async function openAccountCrypto (init: AccountCryptoInit): Promise<AccountCrypto> {
  const manager = new SessionManager({
    identity: init.identity,
    store: init.store,
    now: init.now,
    fetchRecord: init.fetchRecord
  })
  await manager.createPrekeys()
  return {
    manager,
    prepare: async (peer, options) => { await manager.prepare(peer, options) },
    seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
    hasSession: async (peer) => await manager.hasSession(peer),
    reset: async (peer) => { await manager.resetSession(peer) },
    open: async (envelope, commit) => await manager.open(envelope, commit),
    currentRecord: async ({ peerId, addresses }) => await manager.prekeys.buildRecord(encodeRouting(peerId, addresses)),
    recordChanged: () => manager.prekeys.takeChanged(),
    async replaceOneTimePrekeys () {
      const ids = await manager.prekeys.oneTimePrekeyIds()
      await init.store.batch(ids.map((id) => manager.prekeys.consumeOneTimeOp(id)))
      for (const id of ids) manager.prekeys.forgetOneTime(id)
      await manager.prekeys.maintain()
      manager.prekeys.markChanged()
    }
  }
}

/**
 * H5 through the messaging layer: two senders read the same published record and pick the
 * same one-time prekey. The recipient accepts the first and refuses the second; the second
 * sender's outbox then seals the message again without a one-time prekey (X3DH §4.2), and it
 * arrives exactly once. Real SessionManagers and sealed stores; the transport between the
 * messengers is an in-process hand-off (the network is not what this test is about).
 */
import { describe, expect, it } from 'vitest'
import { SessionManager } from '../../node/crypto/index.js'
import { deriveIdentity, type IdentityKeys } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { silentLogger } from '../../node/log.js'
import { Messenger } from '../../node/messaging/messenger.js'
import type { EnvelopeTransport, SessionCrypto } from '../../node/messaging/ports.js'
import { createMemoryStore } from '../../node/store/memory.js'

function party (identity: IdentityKeys, records: Map<string, Uint8Array>, transport: EnvelopeTransport): { messenger: Messenger, manager: SessionManager } {
  const store = createMemoryStore()
  const manager = new SessionManager({ identity, store, now: Date.now, fetchRecord: async (p) => records.get(p), chooseOneTimePrekey: () => 0 })
  const crypto: SessionCrypto = {
    seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
    open: async (envelope, commit) => await manager.open(envelope, commit),
    reset: async (peer) => { await manager.resetSession(peer) }
  }
  const messenger = new Messenger({ self: identity.sessionId, store, crypto, transport, logger: silentLogger.forComponent('t'), receiptDelayMs: () => 60_000 })
  return { messenger, manager }
}

describe('two senders, one one-time prekey', () => {
  it('H5: the second sender is refused, seals again without a one-time prekey, and the message arrives exactly once', async () => {
    const records = new Map<string, Uint8Array>()
    let bob: ReturnType<typeof party> | undefined
    const toBob: EnvelopeTransport = {
      async deliver (_peer, envelope) {
        const verdict = await (bob as ReturnType<typeof party>).messenger.receive(envelope)
        return verdict === 'refused' ? { ok: false, error: 'REFUSED' } : { ok: true, via: 'direct' }
      }
    }
    const nowhere: EnvelopeTransport = { deliver: async () => ({ ok: false, error: 'UNREACHABLE' }) }
    const bobId = deriveIdentity(new Uint8Array(16).fill(51))
    bob = party(bobId, records, nowhere)
    await bob.manager.prekeys.maintain()
    records.set(bobId.sessionId, await bob.manager.prekeys.buildRecord(new Uint8Array(4)))
    const alice = party(deriveIdentity(new Uint8Array(16).fill(52)), records, toBob)
    const carol = party(deriveIdentity(new Uint8Array(16).fill(53)), records, toBob)

    const first = await alice.messenger.send(bobId.sessionId as SessionId, 'from Alice')
    expect(first.state).toBe('delivered')
    const second = await carol.messenger.send(bobId.sessionId as SessionId, 'from Carol')
    expect(second.state).toBe('delivered')
    const inbox = await bob.messenger.log.inbox(0)
    expect(inbox.map((m) => m.text).sort()).toEqual(['from Alice', 'from Carol'])
    expect(inbox.filter((m) => m.text === 'from Carol')).toHaveLength(1)
    alice.messenger.stop(); bob.messenger.stop(); carol.messenger.stop()
  })
})

/**
 * Two or more messengers in this process with what disappearing messages need under test
 * control: each party's clock is its own (moved by hand, so expiry is decided without
 * waiting), short-lived keys in memory, and a network where a party is online (envelopes
 * opened at once) or offline (envelopes held in its mailbox, with the TTL the sender asked
 * for, until it collects them). Real SessionManagers on real sealed stores, as in
 * test/messaging/parties.ts.
 */
import { randomBytes } from 'node:crypto'
import { SessionManager } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { silentLogger } from '../../node/log.js'
import { Messenger, type ReceiveVerdict } from '../../node/messaging/messenger.js'
import type { EnvelopeTransport, MessengerEvent, SessionCrypto } from '../../node/messaging/ports.js'
import { EphemeralKeys, memoryKeyStore } from '../../node/store/ephemeral-keys.js'
import { createMemoryStore } from '../../node/store/memory.js'
import type { SecureStore } from '../../node/store/types.js'

export interface Clock { t: number }

/** An envelope a mailbox holds: when it was put, and the TTL its sender asked for. */
export interface Held { envelope: Uint8Array, putAt: number, ttlMs: number | undefined }

export interface Party {
  id: SessionId
  messenger: Messenger
  manager: SessionManager
  store: SecureStore
  keys: EphemeralKeys
  clock: Clock
  events: MessengerEvent[]
  online: boolean
}

export class Net {
  readonly records = new Map<string, Uint8Array>()
  readonly parties = new Map<string, Party>()
  readonly mailbox = new Map<string, Held[]>()

  /** The network as seen from `from`: nothing leaves an offline party. */
  private transportFor (from: () => Party): EnvelopeTransport {
    return {
      deliver: async (peer, envelope, options) => {
        if (!from().online) return { ok: false, error: 'UNREACHABLE' }
        const to = this.parties.get(peer)
        if (to === undefined) return { ok: false, error: 'UNREACHABLE' }
        if (to.online) {
          const verdict = await to.messenger.receive(envelope, 'direct')
          return verdict === 'refused' || verdict === 'rejected' ? { ok: false, error: 'REFUSED' } : { ok: true, via: 'direct' }
        }
        const putAt = from().clock.t
        this.mailbox.set(peer, [...(this.mailbox.get(peer) ?? []), { envelope, putAt, ttlMs: options?.ttlMs }])
        return { ok: true, via: 'mailbox', mailboxes: 1, expiresAt: putAt + (options?.ttlMs ?? 14 * 24 * 3600_000) }
      }
    }
  }

  async party (seedByte: number, startAt = 1_700_000_000_000): Promise<Party> {
    const identity = deriveIdentity(new Uint8Array(16).fill(seedByte))
    const store = createMemoryStore()
    const manager = new SessionManager({ identity, store, now: Date.now, fetchRecord: async (p) => this.records.get(p) })
    const crypto: SessionCrypto = {
      seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
      open: async (envelope, commit) => await manager.open(envelope, commit),
      hasSession: async (peer) => await manager.hasSession(peer),
      reset: async (peer) => { await manager.resetSession(peer) }
    }
    const clock: Clock = { t: startAt }
    const keys = await EphemeralKeys.open(memoryKeyStore(), new Uint8Array(randomBytes(32)))
    const events: MessengerEvent[] = []
    let self: Party | undefined
    const messenger = new Messenger({
      self: identity.sessionId,
      store,
      crypto,
      transport: this.transportFor(() => self as Party),
      logger: silentLogger.forComponent('t'),
      now: () => clock.t,
      receiptDelayMs: () => 0,
      ephemeral: keys,
      onEvent: (e) => { events.push(e) }
    })
    await manager.prekeys.maintain()
    this.records.set(identity.sessionId, await manager.prekeys.buildRecord(new Uint8Array(4)))
    self = { id: identity.sessionId as SessionId, messenger, manager, store, keys, clock, events, online: true }
    this.parties.set(self.id, self)
    return self
  }

  /** The party reads its mailbox (envelopes whose TTL is over are gone, as a mailbox drops them). */
  async collect (p: Party, now = p.clock.t): Promise<ReceiveVerdict[]> {
    const held = this.mailbox.get(p.id) ?? []
    this.mailbox.delete(p.id)
    const verdicts: ReceiveVerdict[] = []
    for (const h of held) {
      if (h.ttlMs !== undefined && h.putAt + h.ttlMs <= now) continue
      verdicts.push(await p.messenger.receive(h.envelope, 'mailbox'))
    }
    return verdicts
  }

  stop (): void {
    for (const p of this.parties.values()) p.messenger.stop()
  }
}

/** A bounded poll for what a party's messenger does in the background (receipts). */
export async function eventually<T> (what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

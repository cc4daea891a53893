/**
 * What a message costs in writes: the sender commits the message, its queued envelope and the
 * session state that sealed it in one batch, and the delivery in one more; the recipient
 * commits the message with its session state in one. Real SessionManagers on real sealed
 * stores (in memory); each store counts the batches that land and can fail the next one.
 */
import { describe, expect, it } from 'vitest'
import { SessionManager } from '../../node/crypto/index.js'
import { deriveIdentity } from '../../node/identity/keys.js'
import type { SessionId } from '../../node/identity/session-id.js'
import { silentLogger } from '../../node/log.js'
import { Messenger } from '../../node/messaging/messenger.js'
import type { EnvelopeTransport, SessionCrypto } from '../../node/messaging/ports.js'
import { createMemoryStore } from '../../node/store/memory.js'
import type { SecureStore, StoreOp } from '../../node/store/types.js'

interface Counted { store: SecureStore, batches: string[][], failNext: (when: (ops: readonly StoreOp[]) => boolean) => void }

function counted (): Counted {
  const inner = createMemoryStore()
  const batches: string[][] = []
  let fail: ((ops: readonly StoreOp[]) => boolean) | undefined
  const store: SecureStore = {
    get: async (k) => await inner.get(k),
    put: async (k, v) => { await store.batch([{ type: 'put', key: k, value: v }]) },
    del: async (k) => { await store.batch([{ type: 'del', key: k }]) },
    batch: async (ops) => {
      if (fail?.(ops) === true) { fail = undefined; throw Object.assign(new Error('disk full'), { code: 'ERR_DISK' }) }
      await inner.batch(ops)
      batches.push([...new Set(ops.map((op) => `${op.type} ${op.key[0]}`))].sort())
    },
    list: (p, o) => inner.list(p, o),
    close: async () => { await inner.close() }
  }
  return { store, batches, failNext: (when) => { fail = when } }
}

async function pair (): Promise<{ alice: Messenger, bob: Messenger, aliceId: SessionId, bobId: SessionId, a: Counted, b: Counted }> {
  const records = new Map<string, Uint8Array>()
  const messengers = new Map<string, Messenger>()
  const transport: EnvelopeTransport = {
    deliver: async (peer, envelope) => {
      const verdict = await messengers.get(peer)?.receive(envelope)
      return verdict === 'accepted' || verdict === 'duplicate' ? { ok: true, via: 'direct' } : { ok: false, error: 'REFUSED' }
    }
  }
  const make = async (seed: number, c: Counted): Promise<{ m: Messenger, id: SessionId }> => {
    const identity = deriveIdentity(new Uint8Array(16).fill(seed))
    const manager = new SessionManager({ identity, store: c.store, now: Date.now, fetchRecord: async (p) => records.get(p) })
    await manager.prekeys.maintain()
    records.set(identity.sessionId, await manager.prekeys.buildRecord(new Uint8Array(4)))
    const crypto: SessionCrypto = {
      seal: async (peer, plaintext, options) => await manager.seal(peer, plaintext, options),
      open: async (envelope, commit) => await manager.open(envelope, commit),
      hasSession: async (peer) => await manager.hasSession(peer),
      reset: async (peer) => { await manager.resetSession(peer) }
    }
    const m = new Messenger({ self: identity.sessionId, store: c.store, crypto, transport, logger: silentLogger.forComponent('t'), receiptDelayMs: () => 60_000 })
    messengers.set(identity.sessionId, m)
    return { m, id: identity.sessionId as SessionId }
  }
  const a = counted()
  const b = counted()
  const alice = await make(1, a)
  const bob = await make(2, b)
  await alice.m.addContact(bob.id, 'Bob')
  await bob.m.addContact(alice.id, 'Alice')
  return { alice: alice.m, bob: bob.m, aliceId: alice.id, bobId: bob.id, a, b }
}

describe('writes per message', () => {
  it('a text in a running session: two batches at the sender (queued with its session state; delivered), one at the recipient', async () => {
    const { alice, bob, bobId, a, b } = await pair()
    await alice.send(bobId, 'first')
    a.batches.length = 0
    b.batches.length = 0
    const sent = await alice.send(bobId, 'second')
    expect(sent.state).toBe('delivered')
    expect(a.batches).toHaveLength(2)
    expect(a.batches[0]).toEqual(expect.arrayContaining(['put session', 'put msg', 'put msg-id', 'put outbox']))
    expect(a.batches[1]).toEqual(expect.arrayContaining(['del outbox', 'put msg']))
    expect(b.batches).toHaveLength(1)
    expect(b.batches[0]).toEqual(expect.arrayContaining(['put session', 'put msg', 'put inbox']))
    alice.stop()
    bob.stop()
  })

  it('R10: when the batch of a sent message fails, the session does not advance, nothing is sent, and the next text opens at the recipient', async () => {
    const { alice, bob, aliceId, bobId, a } = await pair()
    await alice.send(bobId, 'first')
    const session = await a.store.get(['session', bobId])
    // The batch that would store the message fails: the session state must not be stored apart from it.
    a.failNext((ops) => ops.some((op) => op.key[0] === 'msg'))
    const failed = await alice.send(bobId, 'lost to a full disk')
    expect(failed.state).toBe('failed')
    expect(failed.lastError).toBe('ERR_DISK')
    expect(await a.store.get(['session', bobId])).toEqual(session)
    expect(await alice.outbox.entries()).toEqual([])
    const next = await alice.send(bobId, 'after the disk was freed')
    expect(next.state).toBe('delivered')
    const texts = (await bob.log.conversation(aliceId)).map((m) => m.text)
    expect(texts).toEqual(['first', 'after the disk was freed'])
    alice.stop()
    bob.stop()
  })
})

/** The SessionManager over createMemoryStore (node/store/memory.ts), the store the daemon's tests and benchmarks open. */
import { describe, it, expect } from 'vitest'
import { createMemoryStore } from '../../node/store/memory.js'
import { SessionManager } from '../../node/crypto/session-manager.js'
import { seededRandom } from '../../node/crypto/random.js'
import { identity, str, text, T0 } from './helpers.js'

describe('over the sealed store', () => {
  it('R9/R14: sessions, prekeys and replay refusal are read back from createMemoryStore by a new manager (nothing cached)', async () => {
    const bundles = new Map<string, Uint8Array>()
    const make = (name: string, store = createMemoryStore(new Uint8Array(32).fill(name.length))) => ({
      store,
      id: identity(name),
      manager: new SessionManager({ identity: identity(name), store, now: () => T0, random: seededRandom(name), fetchBundle: async (p) => bundles.get(p) })
    })
    const alice = make('alice-store')
    const bob = make('bob-store')
    bundles.set(bob.id.sessionId, await bob.manager.buildBundle(new Uint8Array([9])))
    const first = await alice.manager.encrypt(bob.id.sessionId, text('over the sealed store'))
    const r = await bob.manager.decrypt(first, { commit: (_from, _pt, id) => [{ type: 'put', key: ['msg-in', id], value: text('kept') }] })
    expect(str(r.plaintext)).toBe('over the sealed store')
    expect(await bob.store.get(['msg-in', r.messageId])).toEqual(text('kept'))
    expect((await bob.manager.prekeys.oneTimePrekeyIds()).length).toBe(99)
    await alice.manager.decrypt(await bob.manager.encrypt(alice.id.sessionId, text('reply')))
    const restarted = new SessionManager({ identity: bob.id, store: bob.store, now: () => T0 })
    await expect(restarted.decrypt(first)).rejects.toMatchObject({ code: 'ERR_DUPLICATE_MESSAGE' })
    expect(str((await restarted.decrypt(await alice.manager.encrypt(bob.id.sessionId, text('after restart')))).plaintext)).toBe('after restart')
  })
})

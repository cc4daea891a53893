/**
 * A first message to a contact needs its prekey record from the DHT, which can take seconds.
 * The lookup runs in `prepare`, outside the account's queue, so envelopes arriving meanwhile
 * are opened at once instead of waiting behind it; the encrypt that follows uses the record
 * fetched there and does not look it up again.
 */
import { describe, expect, it } from 'vitest'
import { party, text, world } from './helpers.js'

describe('prekey record lookups outside the queue', () => {
  it('an envelope arriving during a slow first lookup opens before the lookup ends; the encrypt after it uses the prefetched record', async () => {
    const w = world()
    let release: () => void = () => {}
    const slow = new Promise<void>((resolve) => { release = resolve })
    let lookups = 0
    const carolName = 'carol-prepare'
    const alice = await party(w, 'alice-prepare', {
      fetchBundle: async (peer) => {
        if (w.parties.get(peer)?.name === carolName) { lookups++; await slow }
        return w.bundles.get(peer)
      }
    })
    const bob = await party(w, 'bob-prepare')
    const carol = await party(w, carolName)

    // As the messenger does: prepare (the lookup), then encrypt.
    let lookupDone = false
    const toCarol = alice.manager.prepare(carol.sessionId).then(async () => {
      lookupDone = true
      return await alice.manager.encrypt(carol.sessionId, text('hello Carol'))
    })
    const fromBob = await bob.manager.encrypt(alice.sessionId, text('hello Alice'))
    const opened = await alice.manager.decrypt(fromBob)
    expect(new TextDecoder().decode(opened.plaintext)).toBe('hello Alice')
    expect(lookupDone).toBe(false)

    release()
    const envelope = await toCarol
    expect(lookups).toBe(1)
    expect(new TextDecoder().decode((await carol.manager.decrypt(envelope)).plaintext)).toBe('hello Carol')
  })

  it('a lookup that found nothing is not made again inside the queue: the encrypt after it fails at once', async () => {
    const w = world()
    let lookups = 0
    const alice = await party(w, 'alice-miss', { fetchBundle: async () => { lookups++; return undefined } })
    const ghost = await party(w, 'ghost-miss')
    await alice.manager.prepare(ghost.sessionId)
    expect(lookups).toBe(1)
    await expect(alice.manager.encrypt(ghost.sessionId, text('anyone?'))).rejects.toMatchObject({ code: 'ERR_NO_SESSION' })
    expect(lookups).toBe(1)
  })
})

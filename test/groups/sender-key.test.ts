/** Sender keys and the group message format, alone (no network). */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { distributionOf, fromDistribution, newSenderKey, nextSendingKey, receivingKey } from '../../node/groups/sender-key.js'
import { decryptGroupMessage, encodeGroupMessage, openFromMailbox, peekGroupMessage, sealForMailbox, verifyGroupMessage } from '../../node/groups/wire.js'
import { hmacSha256 } from '../../node/crypto/primitives/kdf.js'

const group = new Uint8Array(randomBytes(32))
const text = new TextEncoder().encode('hello group')

function send (key = newSenderKey(0)) {
  const step = nextSendingKey(key)
  return { key: step.next, bytes: encodeGroupMessage(group, key, step.iteration, step.seed, text) }
}

describe('sender keys', () => {
  it('follows Signal\'s chain: message key seed HMAC(CK, 0x01), next chain key HMAC(CK, 0x02)', () => {
    const k = newSenderKey(0)
    const s = nextSendingKey(k)
    expect(s.seed).toEqual(hmacSha256(k.chainKey, Uint8Array.of(1)))
    expect(s.next.chainKey).toEqual(hmacSha256(k.chainKey, Uint8Array.of(2)))
    expect(s.next.iteration).toBe(1)
  })

  it('a member opens messages in any order, each once', () => {
    const own = newSenderKey(0)
    let theirs = fromDistribution(distributionOf(own), 0)
    let k = own
    const sent: Uint8Array[] = []
    for (let i = 0; i < 5; i++) { const r = send(k); k = r.key; sent.push(r.bytes) }
    for (const i of [3, 0, 4, 1, 2]) {
      const h = peekGroupMessage(sent[i])
      expect(verifyGroupMessage(group, theirs.signingPublic, sent[i])).toBe(true)
      const step = receivingKey(theirs, h.iteration)
      expect(decryptGroupMessage(group, step.seed, sent[i])).toEqual(text)
      theirs = step.next
    }
  })

  it('G4: a replayed group message is refused (its key is gone once used)', () => {
    const own = newSenderKey(0)
    const theirs = fromDistribution(distributionOf(own), 0)
    const { bytes } = send(own)
    const first = receivingKey(theirs, peekGroupMessage(bytes).iteration)
    expect(() => receivingKey(first.next, peekGroupMessage(bytes).iteration)).toThrow(expect.objectContaining({ code: 'ERR_GROUP_DUPLICATE' }))
  })

  it('G3: a message made with another member\'s chain key but signed by someone else fails that member\'s signature', () => {
    const alice = newSenderKey(0)
    const mallory = newSenderKey(0)
    // Mallory knows Alice's chain (every member does) and encrypts under it, signing with her own key.
    const forgedKey = { ...alice, signingSeed: mallory.signingSeed }
    const step = nextSendingKey(forgedKey)
    const forged = encodeGroupMessage(group, forgedKey, step.iteration, step.seed, text)
    expect(verifyGroupMessage(group, alice.signingPublic, forged)).toBe(false)
    // The same message in another group (another id bound in) fails too.
    const { bytes } = send(alice)
    expect(verifyGroupMessage(new Uint8Array(32), alice.signingPublic, bytes)).toBe(false)
  })

  it('G7: a mailbox copy has the layout and size of a 1:1 sealed envelope and opens only with its day key', () => {
    const { bytes } = send()
    const dayKey = new Uint8Array(randomBytes(32))
    const copy = sealForMailbox(dayKey, bytes)
    expect(copy[0]).toBe(0x02)
    expect(copy[1]).toBe(0x05)
    expect(copy.length).toBe(99 + 2048)
    expect(openFromMailbox(dayKey, copy)).toEqual(bytes)
    expect(() => openFromMailbox(new Uint8Array(32), copy)).toThrow(expect.objectContaining({ code: 'ERR_GROUP_DECRYPT' }))
  })
})

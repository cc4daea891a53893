/** The signed group state: signatures, authority, and convergence of concurrent changes. */
import { describe, expect, it } from 'vitest'
import { deriveIdentity } from '../../node/identity/keys.js'
import { authorised, decodeState, encodeState, nextState, signState, stateHash, wins } from '../../node/groups/group-state.js'

const [alice, bob, carol, dave] = [1, 2, 3, 4].map((n) => deriveIdentity(new Uint8Array(16).fill(n)))
const id = 'ab'.repeat(32)
const first = signState({ id, name: 'G', members: [alice, bob, carol, dave].map((k) => k.sessionId), admins: [alice.sessionId, bob.sessionId], version: 1, parent: '', createdAt: 1 }, alice)

describe('group state', () => {
  it('round-trips and verifies; a flipped byte is ERR_BAD_SIGNATURE', () => {
    const bytes = encodeState(first)
    expect(stateHash(decodeState(bytes))).toBe(stateHash(first))
    const bad = Uint8Array.from(bytes)
    bad[40] ^= 1
    expect(() => decodeState(bad)).toThrow(expect.objectContaining({ code: expect.stringMatching(/ERR_BAD_SIGNATURE|ERR_GROUP_NAME|ERR_GROUP_STATE/) }))
  })

  it('G2: a change signed by a member who is not an admin is not authorised; a leave is', () => {
    const byCarol = signState(nextState(first, { members: [carol.sessionId], admins: [carol.sessionId] }, 2), carol)
    expect(authorised(byCarol, first)).toBe(false)
    const leave = signState(nextState(first, { members: first.members.filter((m) => m !== carol.sessionId) }, 2), carol)
    expect(authorised(leave, first)).toBe(true)
  })

  it('G5: two admins removing at once converge on every node, whatever the order they arrive in', () => {
    const byAlice = signState(nextState(first, { members: first.members.filter((m) => m !== carol.sessionId) }, 2), alice)
    const byBob = signState(nextState(first, { members: first.members.filter((m) => m !== dave.sessionId) }, 2), bob)
    const apply = (order: typeof byAlice[]) => order.reduce((cur, s) => authorised(s, first) && wins(s, cur) ? s : cur, first)
    const one = apply([byAlice, byBob])
    const two = apply([byBob, byAlice])
    expect(stateHash(one)).toBe(stateHash(two))
    expect([stateHash(byAlice), stateHash(byBob)]).toContain(stateHash(one))
  })
})

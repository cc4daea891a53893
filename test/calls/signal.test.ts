/**
 * The call signal's parser (node/calls/signal.ts) and its place in the payload: every field
 * checked and bounded, unknown fields refused, each kind with only its own fields.
 */
import { describe, expect, it } from 'vitest'
import { parseCallSignal } from '../../node/calls/signal.js'
import { MAX_CANDIDATES_PER_SIGNAL, MAX_SDP_CHARS } from '../../node/calls/constants.js'
import { decodePayload, encodePayload } from '../../node/messaging/payload.js'
import { fakeSdp } from './call-world.js'

const ID = 'ab'.repeat(16)
const CANDIDATE = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 }

describe('call signals', () => {
  it.each([
    ['offer', { kind: 'offer', id: ID, sdp: fakeSdp(), video: false, sentAt: 1 }],
    ['answer', { kind: 'answer', id: ID, sdp: fakeSdp() }],
    ['ice', { kind: 'ice', id: ID, candidates: [CANDIDATE, { candidate: '' }] }],
    ['hangup', { kind: 'hangup', id: ID }],
    ['decline', { kind: 'decline', id: ID }],
    ['busy', { kind: 'busy', id: ID }]
  ])('a well-formed %s survives the payload round trip unchanged', (_kind, signal) => {
    const payload = decodePayload(encodePayload({ v: 1, t: 'call', call: signal as never }))
    expect(payload).toEqual({ v: 1, t: 'call', call: signal })
  })

  it.each([
    ['no id', { kind: 'hangup' }],
    ['a short id', { kind: 'hangup', id: 'ab' }],
    ['an unknown kind', { kind: 'ring', id: ID }],
    ['an unknown field', { kind: 'hangup', id: ID, extra: 1 }],
    ['an offer with an unknown field', { kind: 'offer', id: ID, sdp: fakeSdp(), video: true, sentAt: 1, from: 'someone else' }],
    ['an offer without video', { kind: 'offer', id: ID, sdp: fakeSdp(), sentAt: 1 }],
    ['an offer with a negative time', { kind: 'offer', id: ID, sdp: fakeSdp(), video: true, sentAt: -1 }],
    ['an SDP that is not one', { kind: 'answer', id: ID, sdp: 'hello there, world' }],
    ['an SDP too long', { kind: 'answer', id: ID, sdp: fakeSdp() + 'a=x\r\n'.repeat(MAX_SDP_CHARS / 5) }],
    ['an SDP with a control character', { kind: 'answer', id: ID, sdp: fakeSdp() + 'a=\u0000\r\n' }],
    ['no candidates', { kind: 'ice', id: ID, candidates: [] }],
    ['too many candidates', { kind: 'ice', id: ID, candidates: Array(MAX_CANDIDATES_PER_SIGNAL + 1).fill(CANDIDATE) }],
    ['a candidate with an unknown field', { kind: 'ice', id: ID, candidates: [{ ...CANDIDATE, usernameFragment: 'x' }] }],
    ['a candidate index out of range', { kind: 'ice', id: ID, candidates: [{ ...CANDIDATE, sdpMLineIndex: 64 }] }],
    ['not an object', 'offer']
  ])('%s is refused as ERR_PAYLOAD', (_what, signal) => {
    expect(() => parseCallSignal(signal)).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD' }))
    expect(() => decodePayload(encodePayload({ v: 1, t: 'call', call: signal as never }))).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD' }))
  })
})

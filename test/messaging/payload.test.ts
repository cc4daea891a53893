import { describe, expect, it } from 'vitest'
import { decodePayload, encodePayload, MAX_TEXT_LENGTH } from '../../node/messaging/payload.js'

const id = 'a'.repeat(32)

describe('message payloads', () => {
  it('round-trips texts and receipts', () => {
    for (const p of [
      { v: 1, t: 'text', id, sentAt: 5, text: 'hi <b>there</b>' },
      { v: 1, t: 'receipt', kind: 'read', ids: [id, 'b'.repeat(32)] }
    ] as const) expect(decodePayload(encodePayload(p as never))).toEqual(p)
  })

  it.each([
    ['not json', new TextEncoder().encode('{oops')],
    ['bad utf-8', Uint8Array.of(0x7b, 0xff, 0x7d)],
    ['wrong version', new TextEncoder().encode(JSON.stringify({ v: 2, t: 'text', id, sentAt: 1, text: 'x' }))],
    ['unknown type', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'call', id }))],
    ['bad id', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'text', id: 'xyz', sentAt: 1, text: 'x' }))],
    ['text too long', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'text', id, sentAt: 1, text: 'x'.repeat(MAX_TEXT_LENGTH + 1) }))],
    ['negative time', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'text', id, sentAt: -1, text: 'x' }))],
    ['empty receipt', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'receipt', kind: 'read', ids: [] }))],
    ['huge receipt', new TextEncoder().encode(JSON.stringify({ v: 1, t: 'receipt', kind: 'read', ids: Array(101).fill(id) }))]
  ])('refuses %s with a typed error', (_name, bytes) => {
    expect(() => decodePayload(bytes)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_PAYLOAD/) }))
  })
})

import { describe, expect, it } from 'vitest'
import { decodePayload, encodePayload, MAX_QUOTE_LENGTH, MAX_TEXT_LENGTH } from '../../node/messaging/payload.js'

const id = 'a'.repeat(32)
const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

describe('message payloads', () => {
  it('round-trips texts, replies, receipts, profiles and deletions', () => {
    for (const p of [
      { v: 1, t: 'text', id, sentAt: 5, text: 'hi <b>there</b>' },
      { v: 1, t: 'text', id, sentAt: 5, text: 'yes', replyTo: { id: 'b'.repeat(32), text: 'x'.repeat(MAX_QUOTE_LENGTH) } },
      { v: 1, t: 'receipt', kind: 'read', ids: [id, 'b'.repeat(32)] },
      { v: 1, t: 'profile', name: 'Bob', version: 3 },
      { v: 1, t: 'profile', name: null, version: 4 },
      { v: 1, t: 'delete', ids: [id] }
    ] as const) expect(decodePayload(encodePayload(p as never))).toEqual(p)
  })

  it('cleans a profile name as names are cleaned here: control characters out, spaces trimmed', () => {
    expect(decodePayload(bytes({ v: 1, t: 'profile', name: '  Bo\u0007b\u001b[0m ', version: 1 }))).toEqual({ v: 1, t: 'profile', name: 'Bob[0m', version: 1 })
  })

  it('strips the invisible characters that reorder or hide text from a profile name (a U+202E name could read as another)', () => {
    expect(decodePayload(bytes({ v: 1, t: 'profile', name: '\u202eecilA\u202c \u200bBob\u2066\ufeff', version: 1 }))).toEqual({ v: 1, t: 'profile', name: 'ecilA Bob', version: 1 })
  })

  it('keeps only the fields it knows of a reply', () => {
    const p = decodePayload(bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: { id, text: 'q', fromMe: true } }))
    expect(p).toEqual({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: { id, text: 'q' } })
  })

  it.each([
    ['not json', new TextEncoder().encode('{oops')],
    ['bad utf-8', Uint8Array.of(0x7b, 0xff, 0x7d)],
    ['wrong version', bytes({ v: 2, t: 'text', id, sentAt: 1, text: 'x' })],
    ['unknown type', bytes({ v: 1, t: 'call', id })],
    ['bad id', bytes({ v: 1, t: 'text', id: 'xyz', sentAt: 1, text: 'x' })],
    ['text too long', bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x'.repeat(MAX_TEXT_LENGTH + 1) })],
    ['negative time', bytes({ v: 1, t: 'text', id, sentAt: -1, text: 'x' })],
    ['empty receipt', bytes({ v: 1, t: 'receipt', kind: 'read', ids: [] })],
    ['huge receipt', bytes({ v: 1, t: 'receipt', kind: 'read', ids: Array(101).fill(id) })],
    ['reply that is not an object', bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: 'hello' })],
    ['reply that is a list', bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: [id, 'q'] })],
    ['reply with a bad id', bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: { id: 'nope', text: 'q' } })],
    ['reply with a long quote', bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: { id, text: 'q'.repeat(MAX_QUOTE_LENGTH + 1) } })],
    ['reply without text', bytes({ v: 1, t: 'text', id, sentAt: 1, text: 'x', replyTo: { id } })],
    ['profile without a name field', bytes({ v: 1, t: 'profile', version: 1 })],
    ['profile name that is a number', bytes({ v: 1, t: 'profile', name: 7, version: 1 })],
    ['profile name of 65 characters', bytes({ v: 1, t: 'profile', name: 'n'.repeat(65), version: 1 })],
    ['profile name that cleans to nothing', bytes({ v: 1, t: 'profile', name: ' \u0000\u001b ', version: 1 })],
    ['profile name far too long before cleaning', bytes({ v: 1, t: 'profile', name: '\u0007'.repeat(300) + 'Bob', version: 1 })],
    ['profile version 0', bytes({ v: 1, t: 'profile', name: 'Bob', version: 0 })],
    ['profile version not an integer', bytes({ v: 1, t: 'profile', name: 'Bob', version: 1.5 })],
    ['profile version as text', bytes({ v: 1, t: 'profile', name: 'Bob', version: '2' })],
    ['empty delete', bytes({ v: 1, t: 'delete', ids: [] })],
    ['delete with a bad id', bytes({ v: 1, t: 'delete', ids: [id, 'x'] })],
    ['delete of too many', bytes({ v: 1, t: 'delete', ids: Array(101).fill(id) })],
    ['delete without ids', bytes({ v: 1, t: 'delete' })]
  ])('refuses %s with a typed error', (_name, raw) => {
    expect(() => decodePayload(raw)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_PAYLOAD/) }))
  })
})

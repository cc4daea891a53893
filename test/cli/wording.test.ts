import { describe, expect, it } from 'vitest'
import { count, size } from '../../cli/wording.js'

describe('counts and sizes in CLI output', () => {
  it.each([
    [0, 'peer', undefined, '0 peers'], [1, 'peer', undefined, '1 peer'], [2, 'peer', undefined, '2 peers'],
    [1, 'mailbox', 'mailboxes', '1 mailbox'], [5, 'mailbox', 'mailboxes', '5 mailboxes']
  ])('count(%i, %s) is %j', (n, one, many, expected) => {
    expect(count(n, one, many)).toBe(expected)
  })

  it.each([[0, '0 bytes'], [1, '1 byte'], [999, '999 bytes'], [1500, '1.5 kB'], [52_000, '52 kB'], [3_400_000, '3.4 MB']])('size(%i) is %j', (bytes, expected) => {
    expect(size(bytes)).toBe(expected)
  })
})

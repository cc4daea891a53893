import { describe, expect, it } from 'vitest'
import { pickSpread } from '../../node/net/mailbox/placement.js'

describe('spreading extra mailbox copies over address ranges', () => {
  const c = (name: string, range?: string) => ({ name, range })

  it('takes one peer per range before any range repeats, closest first', () => {
    const picked = pickSpread([c('a', '4:10.0'), c('b', '4:10.0'), c('c', '4:192.168'), c('d'), c('e', '4:10.0')], 3)
    expect(picked.map((p) => p.name)).toEqual(['a', 'c', 'd'])
  })

  it('fills up from repeated ranges when there are not enough distinct ones', () => {
    const picked = pickSpread([c('a', '4:10.0'), c('b', '4:10.0'), c('c', '4:10.0')], 2)
    expect(picked.map((p) => p.name)).toEqual(['a', 'b'])
  })

  it('never returns more than asked, or more than there are', () => {
    expect(pickSpread([c('a', '6:fe80:0')], 3).map((p) => p.name)).toEqual(['a'])
    expect(pickSpread([c('a'), c('b')], 0)).toEqual([])
  })
})

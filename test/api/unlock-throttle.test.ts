/**
 * Unlock attempts (L2, A7): the throttle's waits, and on a real node over HTTP that guesses
 * fired all at once get one key derivation between them, not one each.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import { UnlockThrottle } from '../../node/account/unlock-throttle.js'
import { apiCall, startTestNode, TEST_PASSPHRASE, type TestNode } from '../helpers/nodes.js'

/** Counts the real scrypt runs of this process: how many in all, and the most at once. */
const kdf = vi.hoisted(() => ({ running: 0, most: 0, total: 0 }))
vi.mock('../../node/store/kdf.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../node/store/kdf.js')>()
  return {
    ...real,
    deriveKek: async (...args: Parameters<typeof real.deriveKek>) => {
      kdf.total++
      kdf.most = Math.max(kdf.most, ++kdf.running)
      try { return await real.deriveKek(...args) } finally { kdf.running-- }
    }
  }
})

describe('unlock throttle', () => {
  it('L2/A7: repeated wrong passphrases wait longer and longer, up to a cap; a success resets', () => {
    let t = 0
    const throttle = new UnlockThrottle(() => t)
    const waits: number[] = []
    for (let i = 0; i < 8; i++) {
      throttle.begin().failed()
      try { throttle.begin().abandoned(); waits.push(0) } catch (e) { waits.push((e as { retryAfterMs: number }).retryAfterMs) }
      t += waits[i]
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
    throttle.begin().failed()
    expect(() => throttle.begin()).toThrow(expect.objectContaining({ code: 'ERR_UNLOCK_THROTTLED' }))
    t += 60_000
    throttle.begin().succeeded()
    throttle.begin().failed()
    expect(() => throttle.begin()).toThrow(expect.objectContaining({ retryAfterMs: 1000 }))
  })

  it('A7: an attempt counts before it is evaluated; a second one meanwhile is refused as busy', () => {
    let t = 0
    const throttle = new UnlockThrottle(() => t)
    const first = throttle.begin()
    // Still running: refused, and told how long the running attempt's failure would make it wait.
    expect(() => throttle.begin()).toThrow(expect.objectContaining({ code: 'ERR_UNLOCK_BUSY', retryAfterMs: 1000 }))
    t += 300
    first.failed()
    expect(() => throttle.begin()).toThrow(expect.objectContaining({ code: 'ERR_UNLOCK_THROTTLED', retryAfterMs: 1000 }))
    t += 1000
    // An attempt that ends for another reason than a wrong passphrase leaves the count as it was.
    throttle.begin().abandoned()
    const next = throttle.begin()
    next.failed()
    expect(() => throttle.begin()).toThrow(expect.objectContaining({ code: 'ERR_UNLOCK_THROTTLED', retryAfterMs: 2000 }))
  })
})

describe('unlock guesses at a real node', () => {
  let n: TestNode
  afterAll(async () => { await n?.node.stop() })

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> => await apiCall(n, method, path, body)

  /** Fires 12 wrong passphrases at once; then the right one after the wait the node names. */
  async function guessBurst (): Promise<void> {
    kdf.running = 0
    kdf.most = 0
    kdf.total = 0
    const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => await call('POST', '/api/unlock', { passphrase: `wrong guess ${i}` })))
    expect(kdf.most, 'key derivations running at once').toBe(1)
    expect(kdf.total, 'key derivations in all').toBe(1)
    expect(answers.filter((a) => a.status === 401).map((a) => a.json.error.code)).toEqual(['ERR_WRONG_PASSPHRASE'])
    const refused = answers.filter((a) => a.status !== 401)
    expect(refused).toHaveLength(11)
    for (const r of refused) {
      expect(r.status).toBe(429)
      expect(['ERR_UNLOCK_BUSY', 'ERR_UNLOCK_THROTTLED']).toContain(r.json.error.code)
      expect(r.json.error.retryAfterMs).toBeGreaterThan(0)
    }
    // Right away, even the right passphrase waits; after the wait named, it unlocks.
    const early = await call('POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })
    expect(early.status).toBe(429)
    expect(early.json.error.code).toBe('ERR_UNLOCK_THROTTLED')
    expect(kdf.total).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, early.json.error.retryAfterMs + 20))
    const unlocked = await call('POST', '/api/unlock', { passphrase: TEST_PASSPHRASE })
    expect(unlocked.status, JSON.stringify(unlocked.json)).toBe(200)
    expect((await call('GET', '/api/status')).json.state).toBe('unlocked')
  }

  it('A7: 12 concurrent wrong unlocks of a UI-locked node run one key derivation; the rest are refused; the right passphrase then unlocks', async () => {
    n = await startTestNode()
    expect((await call('POST', '/api/account/create', { passphrase: TEST_PASSPHRASE })).status).toBe(200)
    expect((await call('POST', '/api/lock')).status).toBe(200)
    await guessBurst()
  })

  it('A7: the same holds for a node started with its account closed', async () => {
    await n.restart({ passphrase: undefined })
    expect((await call('GET', '/api/status')).json.state).toBe('locked')
    await guessBurst()
  })
})

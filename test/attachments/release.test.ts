/** release(): frees only a buffer that is exactly the view's, never one shared with other bytes. */
import { describe, expect, it } from 'vitest'
import { release } from '../../node/attachments/release.js'

describe('release', () => {
  it('detaches a buffer that is exactly the view, at once', () => {
    const bytes = new Uint8Array(64 * 1024).fill(7)
    const buffer = bytes.buffer
    release(bytes)
    expect(buffer.byteLength).toBe(0)
    expect(bytes.byteLength).toBe(0)
  })

  it('leaves a view into a larger buffer, a view at an offset, and a Buffer from the pool alone', () => {
    const whole = new Uint8Array(1024).fill(1)
    const head = whole.subarray(0, 512)
    release(head)
    const tail = whole.subarray(512)
    release(tail)
    expect(whole.byteLength).toBe(1024)
    expect(whole[1023]).toBe(1)
    const pooled = Buffer.from('small, from the pool')
    release(pooled)
    expect(pooled.toString()).toBe('small, from the pool')
  })
})

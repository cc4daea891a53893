/** Chunk sealing: age-style nonces (counter ‖ last flag), padding of the count, and AES-GCM checked against @noble/ciphers. */
import { randomBytes } from 'node:crypto'
import { gcm } from '@noble/ciphers/aes.js'
import { describe, expect, it } from 'vitest'
import { ChunkSealer, chunkNonce, newFileKey, openChunk, paddedChunkCount, realChunkCount, sealChunk, subkey } from '../../node/attachments/chunker.js'
import { CHUNK_SIZE, MAX_FILE_BYTES, SEALED_CHUNK_BYTES } from '../../node/attachments/constants.js'

function sealAll (key: Uint8Array, data: Uint8Array, pieces: number[]): Uint8Array[] {
  const sealer = new ChunkSealer(subkey(key, 'chunk'))
  const out: Uint8Array[] = []
  let offset = 0
  for (const n of pieces) { out.push(...sealer.push(data.subarray(offset, offset + n))); offset += n }
  out.push(...sealer.push(data.subarray(offset)))
  out.push(...sealer.finish())
  return out
}

function openAll (key: Uint8Array, chunks: Uint8Array[], size: number): Buffer {
  const k = subkey(key, 'chunk')
  return Buffer.concat(chunks.map((c, i) => openChunk(k, i, i === chunks.length - 1, c))).subarray(0, size)
}

describe('chunk sealing', () => {
  it('AES-256-GCM from node:crypto equals @noble/ciphers for the same key and nonce', () => {
    const key = randomBytes(32)
    const plain = randomBytes(CHUNK_SIZE)
    for (const [counter, last] of [[0, false], [7, true], [2 ** 40, false]] as const) {
      const ours = sealChunk(key, counter, last, plain)
      const nonce = chunkNonce(counter, last)
      expect(nonce.length).toBe(12)
      expect(nonce[11]).toBe(last ? 1 : 0)
      expect(Buffer.from(gcm(key, nonce).encrypt(plain))).toEqual(Buffer.from(ours))
      expect(Buffer.from(gcm(key, nonce).decrypt(ours))).toEqual(plain)
    }
  })

  it('round-trips files of awkward sizes, fed in awkward pieces, every chunk the same length', () => {
    const key = newFileKey()
    for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 5 * CHUNK_SIZE + 17]) {
      const data = randomBytes(size)
      const chunks = sealAll(key, data, [1, CHUNK_SIZE, 3])
      expect(chunks.length).toBe(paddedChunkCount(realChunkCount(size)))
      expect(chunks.every((c) => c.length === SEALED_CHUNK_BYTES)).toBe(true)
      expect(openAll(key, chunks, size)).toEqual(data)
    }
  })

  it('F1: a file cut short, reordered, or a flipped bit fails authentication (ERR_CHUNK_AUTH)', () => {
    const key = newFileKey()
    const chunks = sealAll(key, randomBytes(4 * CHUNK_SIZE), [])
    const k = subkey(key, 'chunk')
    // Truncated: the new last chunk was sealed without the last-chunk flag.
    expect(() => openChunk(k, 2, true, chunks[2])).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_AUTH' }))
    // Reordered: chunk 1 where chunk 0 should be.
    expect(() => openChunk(k, 0, false, chunks[1])).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_AUTH' }))
    const flipped = Buffer.from(chunks[0])
    flipped[100] ^= 1
    expect(() => openChunk(k, 0, false, flipped)).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_AUTH' }))
    // Another file's key.
    expect(() => openChunk(subkey(newFileKey(), 'chunk'), 0, false, chunks[0])).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_AUTH' }))
  })

  it('a fresh random key per file: the same bytes seal to different chunks', () => {
    const data = Buffer.alloc(CHUNK_SIZE, 7)
    expect(Buffer.from(sealAll(newFileKey(), data, [])[0])).not.toEqual(Buffer.from(sealAll(newFileKey(), data, [])[0]))
  })

  it('pads the chunk count (Padmé): at most 12.5 % more, and many sizes share a count', () => {
    const max = realChunkCount(MAX_FILE_BYTES)
    for (let n = 1; n <= max; n++) {
      const p = paddedChunkCount(n)
      expect(p).toBeGreaterThanOrEqual(n)
      expect(p).toBeLessThanOrEqual(Math.max(n + 1, Math.ceil(n * 1.125)))
    }
    expect(new Set(Array.from({ length: 1000 }, (_, i) => paddedChunkCount(1000 + i))).size).toBeLessThan(40)
  })
})

/**
 * STREAM-style sealing of a file (as age): the file is cut into CHUNK_SIZE chunks, each
 * sealed with AES-256-GCM under the file's chunk key with nonce = 11-byte big-endian chunk
 * counter ‖ last-chunk flag. A reordered chunk fails (wrong counter), and a file cut short
 * fails (its new last chunk was sealed without the flag). The number of chunks is padded
 * (Padmé) so the size shows only coarsely; padding chunks are zeros, sealed like the rest.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import { CHUNK_SIZE, SEALED_CHUNK_BYTES, TAG_BYTES } from './constants.js'
import { AttachmentError } from './errors.js'
import { release } from './release.js'

export const KEY_BYTES = 32
const NONCE_BYTES = 12

/** A fresh random key per file: never derived from the content (no confirmation-of-file attacks). */
export function newFileKey (): Uint8Array {
  return randomBytes(KEY_BYTES)
}

/** Separate subkeys for chunks and the manifest, so no (key, nonce) pair is ever used twice. */
export function subkey (fileKey: Uint8Array, purpose: 'chunk' | 'manifest'): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, new Uint8Array(0), `sotto/attachment/${purpose}/v1`, KEY_BYTES))
}

export function chunkNonce (counter: number, last: boolean): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new AttachmentError('ERR_CHUNK_COUNTER', 'bad chunk counter')
  const nonce = Buffer.alloc(NONCE_BYTES)
  nonce.writeUIntBE(counter, 5, 6) // 11 bytes big-endian; counters stay far below 2^48
  nonce[11] = last ? 1 : 0
  return nonce
}

export function sealChunk (chunkKey: Uint8Array | KeyObject, counter: number, last: boolean, plaintext: Uint8Array): Uint8Array {
  if (plaintext.length !== CHUNK_SIZE) throw new AttachmentError('ERR_CHUNK_SIZE', 'every chunk is sealed at full size')
  const cipher = createCipheriv('aes-256-gcm', chunkKey, chunkNonce(counter, last))
  const out = Buffer.allocUnsafe(SEALED_CHUNK_BYTES)
  const body = cipher.update(plaintext)
  body.copy(out, 0)
  release(body)
  cipher.final()
  cipher.getAuthTag().copy(out, CHUNK_SIZE)
  return out
}

export function openChunk (chunkKey: Uint8Array | KeyObject, counter: number, last: boolean, sealed: Uint8Array): Uint8Array {
  if (sealed.length !== SEALED_CHUNK_BYTES) throw new AttachmentError('ERR_CHUNK_SIZE', 'a sealed chunk has the wrong length')
  try {
    const decipher = createDecipheriv('aes-256-gcm', chunkKey, chunkNonce(counter, last))
    decipher.setAuthTag(sealed.subarray(CHUNK_SIZE))
    const out = decipher.update(sealed.subarray(0, CHUNK_SIZE))
    decipher.final()
    return out
  } catch {
    throw new AttachmentError('ERR_CHUNK_AUTH', 'a chunk failed authentication')
  }
}

/** Chunks holding `size` bytes (an empty file still has one). */
export function realChunkCount (size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_SIZE))
}

/**
 * Padmé (Nikitin et al., PETS 2019) on the chunk count: at most about 12 % more chunks, and
 * a count of O(log log n) bits of information instead of log n.
 */
export function paddedChunkCount (real: number): number {
  if (real <= 2) return real
  const e = Math.floor(Math.log2(real))
  const s = Math.floor(Math.log2(e)) + 1
  const mask = 2 ** (e - s) - 1
  return Math.ceil(real / (mask + 1)) * (mask + 1)
}

/**
 * Cuts a stream of bytes into sealed chunks. push() returns the chunks completed by that
 * piece; finish() seals the rest (the last real chunk zero-padded, then padding chunks, the
 * final one flagged). Holds at most one chunk of plaintext.
 */
export class ChunkSealer {
  private readonly buffer = Buffer.alloc(CHUNK_SIZE)
  private filled = 0
  private counter = 0
  private readonly chunkKey: KeyObject
  size = 0

  constructor (chunkKey: Uint8Array) {
    this.chunkKey = createSecretKey(chunkKey)
  }

  push (bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    let offset = 0
    this.size += bytes.length
    while (offset < bytes.length) {
      // A full chunk is sealed only once more bytes follow, so the last one can carry the flag.
      if (this.filled === CHUNK_SIZE) out.push(this.sealFull())
      const n = Math.min(CHUNK_SIZE - this.filled, bytes.length - offset)
      this.buffer.set(bytes.subarray(offset, offset + n), this.filled)
      this.filled += n
      offset += n
    }
    return out
  }

  /** Seals a full buffer as a middle chunk; called lazily so the final chunk is known. */
  private sealFull (): Uint8Array {
    const sealed = sealChunk(this.chunkKey, this.counter++, false, this.buffer)
    this.filled = 0
    return sealed
  }

  /** Seals what remains; the chunk buffer is wiped after. */
  * finish (): Generator<Uint8Array> {
    const total = paddedChunkCount(realChunkCount(this.size))
    this.buffer.fill(0, this.filled)
    while (this.counter < total) {
      const last = this.counter === total - 1
      yield sealChunk(this.chunkKey, this.counter++, last, this.buffer)
      this.buffer.fill(0)
    }
    this.filled = 0
  }
}

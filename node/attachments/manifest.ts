/**
 * The manifest of one file: its size and the ids of its sealed chunks (id = SHA-256 of the
 * chunk's ciphertext), sealed with the file's manifest key. Its own id is the SHA-256 of the
 * sealed manifest, which the message carries. Parsing comes from a peer, so every length is
 * checked before anything is allocated from it.
 *   plaintext: version u8 (1) | size u64 BE | chunk count u32 BE | ids (32 bytes each)
 *   sealed:    AES-256-GCM(manifestKey, nonce 0) — the manifest key seals only this one text
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto'
import { MAX_FILE_BYTES, TAG_BYTES } from './constants.js'
import { paddedChunkCount, realChunkCount, subkey } from './chunker.js'
import { AttachmentError } from './errors.js'

const VERSION = 1
const HEADER = 13
const ID_BYTES = 32
/** Most chunks any manifest may list: a 100 MiB file after padding. */
export const MAX_CHUNKS = paddedChunkCount(realChunkCount(MAX_FILE_BYTES))
/** Largest sealed manifest accepted; checked before it is opened. */
export const MAX_SEALED_MANIFEST = HEADER + ID_BYTES * MAX_CHUNKS + TAG_BYTES

export interface Manifest { size: number, chunks: Uint8Array[] }

export function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

export function sealManifest (fileKey: Uint8Array, manifest: Manifest): { id: Uint8Array, sealed: Uint8Array } {
  const plain = Buffer.alloc(HEADER + ID_BYTES * manifest.chunks.length)
  plain[0] = VERSION
  plain.writeBigUInt64BE(BigInt(manifest.size), 1)
  plain.writeUInt32BE(manifest.chunks.length, 9)
  manifest.chunks.forEach((id, i) => { plain.set(id, HEADER + i * ID_BYTES) })
  const cipher = createCipheriv('aes-256-gcm', subkey(fileKey, 'manifest'), Buffer.alloc(12))
  const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  return { id: sha256(sealed), sealed }
}

/** Checks the sealed length first, then the id, the tag, and the count against the size. */
export function openManifest (fileKey: Uint8Array, id: Uint8Array, sealed: Uint8Array): Manifest {
  if (sealed.length > MAX_SEALED_MANIFEST) throw new AttachmentError('ERR_MANIFEST_TOO_LARGE', 'a manifest is larger than any file allows')
  if (sealed.length < HEADER + ID_BYTES + TAG_BYTES) throw new AttachmentError('ERR_MANIFEST', 'a manifest is too short')
  if (!Buffer.from(sha256(sealed)).equals(Buffer.from(id))) throw new AttachmentError('ERR_CHUNK_HASH', 'a manifest does not match its id')
  let plain: Buffer
  try {
    const decipher = createDecipheriv('aes-256-gcm', subkey(fileKey, 'manifest'), Buffer.alloc(12))
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()])
  } catch {
    throw new AttachmentError('ERR_MANIFEST', 'a manifest failed authentication')
  }
  return parseManifest(plain)
}

/** Strict parse of an opened manifest: limits before allocation. */
export function parseManifest (plain: Uint8Array): Manifest {
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
  if (buf.length < HEADER || buf[0] !== VERSION) throw new AttachmentError('ERR_MANIFEST', 'unknown manifest version')
  const size = buf.readBigUInt64BE(1)
  if (size > BigInt(MAX_FILE_BYTES)) throw new AttachmentError('ERR_ATTACHMENT_TOO_LARGE', 'a manifest names a file over the size limit')
  const count = buf.readUInt32BE(9)
  if (count > MAX_CHUNKS) throw new AttachmentError('ERR_MANIFEST_TOO_LARGE', `a manifest names ${count} chunks`)
  if (count !== paddedChunkCount(realChunkCount(Number(size)))) throw new AttachmentError('ERR_MANIFEST', 'the chunk count does not match the size')
  if (buf.length !== HEADER + ID_BYTES * count) throw new AttachmentError('ERR_MANIFEST', 'a manifest has the wrong length')
  const chunks: Uint8Array[] = []
  for (let i = 0; i < count; i++) chunks.push(buf.subarray(HEADER + i * ID_BYTES, HEADER + (i + 1) * ID_BYTES))
  return { size: Number(size), chunks }
}

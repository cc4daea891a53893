/** Manifests and file references from a peer: strict, bounded before anything is allocated. */
import { createCipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { newFileKey, paddedChunkCount, realChunkCount, subkey } from '../../node/attachments/chunker.js'
import { MAX_CHUNKS, MAX_SEALED_MANIFEST, openManifest, parseManifest, sealManifest, sha256 } from '../../node/attachments/manifest.js'
import { parseAttachmentRefs } from '../../node/attachments/refs.js'

function sealedPlain (key: Uint8Array, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', subkey(key, 'manifest'), Buffer.alloc(12))
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
}

describe('manifest', () => {
  it('round-trips, and its id is the SHA-256 of the sealed bytes', () => {
    const key = newFileKey()
    const chunks = Array.from({ length: paddedChunkCount(realChunkCount(300_000)) }, () => randomBytes(32))
    const { id, sealed } = sealManifest(key, { size: 300_000, chunks })
    expect(Buffer.from(id)).toEqual(Buffer.from(sha256(sealed)))
    const m = openManifest(key, id, sealed)
    expect(m.size).toBe(300_000)
    expect(m.chunks.map((c) => Buffer.from(c).toString('hex'))).toEqual(chunks.map((c) => c.toString('hex')))
  })

  it('F2: a header naming 10^6 chunks is refused from the header, before any chunk list is allocated', () => {
    const plain = Buffer.alloc(13)
    plain[0] = 1
    plain.writeBigUInt64BE(BigInt(1_000_000 * 65536 - 1), 1)
    plain.writeUInt32BE(1_000_000, 9)
    const alloc = vi.spyOn(Buffer, 'alloc')
    // A size of 64 GB names too big a file; with a small size the count is refused.
    expect(() => parseManifest(plain)).toThrow(expect.objectContaining({ code: 'ERR_ATTACHMENT_TOO_LARGE' }))
    plain.writeBigUInt64BE(1000n, 1)
    expect(() => parseManifest(plain)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_TOO_LARGE' }))
    expect(alloc).not.toHaveBeenCalled()
    alloc.mockRestore()
    // And sealed, the same header is refused after authentication, still before allocation.
    const key = newFileKey()
    const sealed = sealedPlain(key, Buffer.concat([plain, randomBytes(32)]))
    expect(() => openManifest(key, sha256(sealed), sealed)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_TOO_LARGE' }))
  })

  it('a sealed manifest over the largest possible one is refused before it is hashed or opened', () => {
    const big = Buffer.alloc(MAX_SEALED_MANIFEST + 1)
    expect(() => openManifest(newFileKey(), Buffer.alloc(32), big)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST_TOO_LARGE' }))
    expect(MAX_CHUNKS).toBe(paddedChunkCount(1600))
  })

  it('a count that does not match the size, a wrong length, a wrong id or key: refused', () => {
    const key = newFileKey()
    const { id, sealed } = sealManifest(key, { size: 10, chunks: [randomBytes(32)] })
    expect(() => openManifest(key, randomBytes(32), sealed)).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_HASH' }))
    expect(() => openManifest(newFileKey(), id, sealed)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST' }))
    const plain = Buffer.alloc(13 + 64)
    plain[0] = 1
    plain.writeBigUInt64BE(10n, 1)
    plain.writeUInt32BE(2, 9)
    expect(() => parseManifest(plain)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST' }))
    plain.writeUInt32BE(1, 9)
    expect(() => parseManifest(plain)).toThrow(expect.objectContaining({ code: 'ERR_MANIFEST' }))
  })
})

describe('file references in a message', () => {
  const good = { manifestId: 'ab'.repeat(32), key: Buffer.alloc(32, 1).toString('base64'), name: 'photo.jpg', size: 1234, mime: 'image/jpeg' }

  it('parses a good one and cleans names and types', () => {
    expect(parseAttachmentRefs([good])).toEqual([good])
    const [r] = parseAttachmentRefs([{ ...good, name: '../../etc/passwd\u0000', mime: 'TEXT/HTML; charset=x' }])
    expect(r.name).toBe('.._.._etc_passwd_')
    expect(r.mime).toBe('text/html')
  })

  it('refuses bad ids, keys, sizes, thumbnails (SVG, over 1 KiB) and too many files', () => {
    const bad = [
      { ...good, manifestId: 'zz' }, { ...good, key: 'short' }, { ...good, size: -1 }, { ...good, size: 200 * 1024 * 1024 },
      { ...good, thumbnail: 'data:image/svg+xml;base64,PHN2Zz4=' }, { ...good, thumbnail: 'data:image/png;base64,' + Buffer.alloc(1025).toString('base64') }
    ]
    for (const b of bad) expect(() => parseAttachmentRefs([b])).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD' }))
    expect(() => parseAttachmentRefs(Array(11).fill(good))).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD' }))
    expect(() => parseAttachmentRefs([])).toThrow(expect.objectContaining({ code: 'ERR_PAYLOAD' }))
    expect(parseAttachmentRefs([{ ...good, thumbnail: 'data:image/png;base64,' + Buffer.alloc(1024).toString('base64') }])[0].thumbnail).toBeDefined()
  })
})

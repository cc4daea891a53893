/**
 * The part every node:crypto AEAD call shares once its cipher is set up (key, nonce, AAD):
 * ciphertext || tag out of a Cipher, and plaintext out of a Decipher whose tag is set. A
 * failed tag makes `final()` throw; callers turn that into their own typed error.
 */
import type { CipherGCM, CipherChaCha20Poly1305, DecipherGCM, DecipherChaCha20Poly1305 } from 'node:crypto'

/** A Buffer view (no copy): node:crypto takes Buffers on a faster path than other Uint8Arrays. */
export function view (b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

/** Runs `plaintext` through a set-up cipher: ciphertext || tag. */
export function sealWith (c: CipherGCM | CipherChaCha20Poly1305, plaintext: Uint8Array, tagBytes: number): Uint8Array {
  const out = new Uint8Array(plaintext.length + tagBytes)
  const body = c.update(view(plaintext))
  out.set(body, 0)
  const fin = c.final()
  out.set(fin, body.length)
  out.set(c.getAuthTag(), body.length + fin.length)
  return out
}

/** Runs `ciphertext` (without its tag, already set) through a decipher; throws on a bad tag. */
export function openWith (d: DecipherGCM | DecipherChaCha20Poly1305, ciphertext: Uint8Array): Uint8Array {
  const body = d.update(view(ciphertext))
  const fin = d.final()
  if (fin.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  const out = new Uint8Array(body.length + fin.length)
  out.set(body, 0)
  out.set(fin, body.length)
  return out
}

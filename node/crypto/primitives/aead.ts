/**
 * AES-256-GCM (NIST SP 800-38D) on node:crypto, 96-bit nonces and 128-bit tags. Every key
 * Sotto passes here is used for exactly one message (a ratchet message key, or an envelope's
 * fresh ephemeral key), with the nonce derived together with the key, so no (key, nonce)
 * pair ever repeats (R10). @noble/ciphers' gcm is the reference in the tests.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { DecryptError } from '../errors.js'
import { openWith, sealWith, view } from './aead-stream.js'

export const AEAD_KEY_BYTES = 32
export const AEAD_NONCE_BYTES = 12
export const AEAD_TAG_BYTES = 16

/**
 * A secret-key handle: node:crypto's cipher setup is about 3x faster from a KeyObject than
 * from raw bytes (it skips its per-call key-type probing; measured in bench/crypto.ts).
 */
function handle (key: Uint8Array): KeyObject {
  if (key.length !== AEAD_KEY_BYTES) throw new RangeError('AES-256-GCM keys have 32 bytes')
  return createSecretKey(Buffer.from(key.buffer, key.byteOffset, key.byteLength))
}

/** Returns ciphertext || tag. */
export function aeadEncrypt (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', handle(key), view(nonce), { authTagLength: AEAD_TAG_BYTES })
  c.setAAD(view(ad))
  return sealWith(c, plaintext, AEAD_TAG_BYTES)
}

/** Opens ciphertext || tag, or throws DecryptError (never returns unauthenticated bytes). */
export function aeadDecrypt (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array, error: () => Error = () => new DecryptError()): Uint8Array {
  if (sealed.length < AEAD_TAG_BYTES) throw error()
  const tagAt = sealed.length - AEAD_TAG_BYTES
  try {
    const d = createDecipheriv('aes-256-gcm', handle(key), view(nonce), { authTagLength: AEAD_TAG_BYTES })
    d.setAAD(view(ad))
    d.setAuthTag(view(sealed.subarray(tagAt)))
    return openWith(d, sealed.subarray(0, tagAt))
  } catch {
    throw error()
  }
}

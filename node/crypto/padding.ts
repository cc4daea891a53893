/**
 * Padding to size buckets, so an envelope's size says little (R8, E4, E7). Buckets
 * (constants.PADDING_BUCKETS): 2 KiB, then doubling to 64 KiB. Every text, receipt, typing
 * notice and initial message of ordinary size lands in the 2 KiB bucket: an initial message
 * carries a 1568-byte KEM ciphertext, so a smaller first bucket would set initial messages
 * apart. Scheme: content || 0x80 || 0x00* (ISO/IEC 7816-4), applied inside the envelope's
 * AEAD; bad padding is reported with the same error as a bad tag (E6).
 */
import { PADDING_BUCKETS } from './constants.js'
import { CryptoError, EnvelopeError } from './errors.js'

export { PADDING_BUCKETS }
export const MAX_PADDED_CONTENT = PADDING_BUCKETS[PADDING_BUCKETS.length - 1] - 1

export function bucketFor (length: number): number {
  for (const b of PADDING_BUCKETS) if (length + 1 <= b) return b
  throw new CryptoError('ERR_TOO_LARGE', 'the message is too large to send')
}

export function pad (content: Uint8Array): Uint8Array {
  const out = new Uint8Array(bucketFor(content.length))
  out.set(content)
  out[content.length] = 0x80
  return out
}

export function unpad (padded: Uint8Array): Uint8Array {
  let i = padded.length - 1
  while (i >= 0 && padded[i] === 0) i--
  if (i < 0 || padded[i] !== 0x80 || !(PADDING_BUCKETS as readonly number[]).includes(padded.length)) throw new EnvelopeError()
  return padded.subarray(0, i)
}

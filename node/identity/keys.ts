/**
 * Entropy -> account keys, as Session derives them (and as docs/ARCHITECTURE.md records):
 * 16 bytes of entropy (12 words) are the Ed25519 seed's first half, the rest zero; 32 bytes
 * (24 words) are the seed. The X25519 key is the same key in Montgomery form (RFC 7748 §4.1
 * birational map; the secret is the clamped SHA-512 half of the Ed25519 seed, as libsodium's
 * crypto_sign_ed25519_sk_to_curve25519). The Session ID is `05` + hex(X25519 public).
 *
 * The two forms are used for one purpose each (K4): Ed25519 only signs, with a context prefix
 * per use; X25519 only does Diffie-Hellman. Session made the same reuse; see THREAT-MODEL.md.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { SottoError } from '../errors.js'
import { type SessionId, x25519ToSessionId } from './session-id.js'

export interface IdentityKeys {
  readonly sessionId: SessionId
  /** Ed25519 public key (32 bytes): verifies the account's signatures. */
  readonly signingPublicKey: Uint8Array
  /** X25519 public key (32 bytes): the key the Session ID names. */
  readonly dhPublicKey: Uint8Array
  /** Ed25519 seed (32 bytes). Secret. */
  readonly signingSeed: Uint8Array
  /** X25519 private scalar (32 bytes). Secret. */
  readonly dhPrivateKey: Uint8Array
}

export function entropyToSeed (entropy: Uint8Array): Uint8Array {
  if (entropy.length === 16) {
    const seed = new Uint8Array(32)
    seed.set(entropy)
    return seed
  }
  if (entropy.length === 32) return Uint8Array.from(entropy)
  throw new SottoError('ERR_ENTROPY_LENGTH', 'account entropy must be 16 or 32 bytes')
}

export function deriveIdentity (entropy: Uint8Array): IdentityKeys {
  const signingSeed = entropyToSeed(entropy)
  const signingPublicKey = ed25519.getPublicKey(signingSeed)
  const dhPrivateKey = ed25519.utils.toMontgomerySecret(signingSeed)
  const dhPublicKey = ed25519.utils.toMontgomery(signingPublicKey)
  // Cross-check the two conversions: the secret's public key must be the converted public key.
  const check = x25519.getPublicKey(dhPrivateKey)
  if (!check.every((b, i) => b === dhPublicKey[i])) {
    throw new SottoError('ERR_KEY_CONVERSION', 'Ed25519 to X25519 conversion disagreed')
  }
  const identity: IdentityKeys = {
    sessionId: x25519ToSessionId(dhPublicKey),
    signingPublicKey,
    dhPublicKey,
    signingSeed,
    dhPrivateKey
  }
  return redacted(identity)
}

/** Keeps secrets out of console.log / JSON.stringify / util.inspect by accident. */
function redacted (keys: IdentityKeys): IdentityKeys {
  const show = () => ({ sessionId: keys.sessionId, secret: '[redacted]' })
  Object.defineProperty(keys, 'toJSON', { value: show, enumerable: false })
  Object.defineProperty(keys, Symbol.for('nodejs.util.inspect.custom'), { value: show, enumerable: false })
  return Object.freeze(keys)
}

/**
 * Verified prekey bundles, remembered so a contact's bundle is verified once per contact and
 * record version (issue 19), not on every session started from it. One instance per
 * SessionManager; nothing here is process-wide.
 *
 * The key is SHA-256 of the exact bundle bytes together with the Session ID the bundle was
 * expected under, so a hit means "these very bytes passed parseBundle for this contact": every
 * check of parseBundle that depends only on bytes and Session ID (structure, type bytes, the
 * identity key being the Session ID's key, the record signature and both prekey signatures
 * (PQXDH §3.3 / X3DH §3.3, H1, H2), the X25519 keys (H3), the ML-KEM key) holds again. The
 * checks that depend on the clock (expiry, claimed lifetime, prekey age: H16) are
 * run again on every lookup, hit or miss (checkBundleTimes). Only bundles that passed every
 * check are stored; a refusal is never remembered, so a bundle that failed is checked afresh.
 * Which one-time prekey a session uses is the caller's choice, as before: a hit returns the
 * same fields a fresh parse would.
 *
 * This module knows nothing of sessions, stores or pins; it holds public keys only.
 */
import { hash } from 'node:crypto'
import type { SessionId } from '../identity/session-id.js'
import { checkBundleTimes, parseBundle, type PrekeyBundle } from './bundle.js'
import { MAX_VERIFIED_BUNDLES } from './constants.js'

export interface VerifiedBundleCacheInit {
  /** Bundles remembered, least recently used out first. @default MAX_VERIFIED_BUNDLES */
  maxEntries?: number
}

/** SHA-256 of the bundle bytes (FIPS 180-4), on node:crypto: about 2x noble's for these sizes. */
export function bundleDigest (bytes: Uint8Array): string {
  return hash('sha256', bytes, 'base64')
}

export class VerifiedBundleCache {
  /** Verified bundles in least recently used order (a Map iterates in insertion order). */
  private readonly entries = new Map<string, PrekeyBundle>()
  private readonly maxEntries: number

  constructor (init: VerifiedBundleCacheInit = {}) {
    this.maxEntries = init.maxEntries ?? MAX_VERIFIED_BUNDLES
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer')
  }

  get size (): number { return this.entries.size }

  /**
   * parseBundle(bytes, expectedSessionId, now), verifying signatures only for bytes not seen
   * before under this Session ID. Throws the same typed errors as parseBundle.
   */
  parse (bytes: Uint8Array, expectedSessionId: SessionId, now: number): PrekeyBundle {
    const key = `${expectedSessionId}\0${bundleDigest(bytes)}`
    const known = this.entries.get(key)
    if (known !== undefined) {
      // The clock moved since it was verified: expiry and prekey age are checked again.
      checkBundleTimes(known, now)
      this.entries.delete(key)
      this.entries.set(key, known)
      return known
    }
    const bundle = parseBundle(bytes, expectedSessionId, now)
    this.entries.set(key, bundle)
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
    return bundle
  }

  clear (): void {
    this.entries.clear()
  }
}

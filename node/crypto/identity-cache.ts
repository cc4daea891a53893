/**
 * What a SessionManager keeps per contact identity key, so the work that depends on the key
 * alone runs once per contact, not once per message:
 *
 * - the checked Session ID (the full K3 check is a 255-bit exponentiation),
 * - the OpenSSL handle of the key (importing it costs as much as a DH),
 * - the sealed-sender static secret X25519(own identity, contact identity) (docs/PROTOCOL.md
 *   §7.1; libsignal sealed sender v1 `StaticKeys::calculate` takes it as its DH input). It is
 *   the same value whichever way the envelope goes (the sender computes X25519(s, R), the
 *   recipient X25519(r, S)), so one slot serves sealing to and opening from that contact.
 *
 * The secret is keyed by the contact's identity key, which names it completely: a cached value
 * is exactly what a fresh DH would give, so an envelope sealed with it is byte for byte the one
 * sealed without it. On the opening side it is stored only after the static layer's AEAD check
 * proved the key and the key passed K3 (SessionManager.decrypt); looking it up never replaces
 * that check (sealed-sender.ts openEnvelope runs it on every envelope).
 *
 * Bounded (oldest entry out first); a secret leaving the cache, and every secret on clear(),
 * is overwritten with zeros. One instance per SessionCipher: nothing here is process-wide.
 */
import type { KeyObject } from 'node:crypto'
import { inspect } from 'node:util'
import { toHex, wipe } from '../bytes.js'
import { x25519ToSessionId, type SessionId } from '../identity/session-id.js'
import { BadKeyError } from './errors.js'
import { importX25519PublicKey } from './primitives/x25519.js'

/** Contacts' identity keys kept (checked Session IDs, handles, static secrets). */
export const MAX_CACHED_IDENTITIES = 4096

export interface ContactKeys {
  readonly sessionId: SessionId
  readonly handle: KeyObject
  /** X25519(own identity, this key), once computed (the static layer of §7.1). Secret. */
  staticShared: Uint8Array | undefined
}

export interface IdentityCacheInit {
  /** @default MAX_CACHED_IDENTITIES */
  maxEntries?: number
}

export class IdentityCache {
  private readonly map = new Map<string, ContactKeys>()
  private readonly maxEntries: number

  constructor (init: IdentityCacheInit = {}) {
    this.maxEntries = init.maxEntries ?? MAX_CACHED_IDENTITIES
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer')
  }

  get size (): number { return this.map.size }

  toJSON (): unknown { return { type: 'IdentityCache', size: this.map.size, secrets: '[redacted]' } }
  [inspect.custom] (): string { return `IdentityCache { size: ${this.map.size}, secrets: [redacted] }` }

  /** The cached entry, without checking or caching a new key. */
  peek (key: Uint8Array): ContactKeys | undefined {
    return this.map.get(toHex(key))
  }

  /** The entry for `key`, checking it in full (K3) and importing it the first time: BadKeyError if it is no Session ID key. */
  get (key: Uint8Array): ContactKeys {
    const hex = toHex(key)
    let c = this.map.get(hex)
    if (c === undefined) {
      let sessionId: SessionId
      try {
        sessionId = x25519ToSessionId(key)
      } catch {
        throw new BadKeyError('not a valid Session ID key')
      }
      c = { sessionId, handle: importX25519PublicKey(key), staticShared: undefined }
      while (this.map.size >= this.maxEntries) this.evictOldest()
      this.map.set(hex, c)
    }
    return c
  }

  /**
   * Keeps `secret` = X25519(own identity, `key`) for a key already in the cache (the caller
   * proved it). Takes ownership: a secret that is not kept (the key is not cached, or already
   * has one) is wiped here.
   */
  keepStaticShared (key: Uint8Array, secret: Uint8Array): void {
    const c = this.map.get(toHex(key))
    if (c === undefined || c.staticShared !== undefined) {
      wipe(secret)
      return
    }
    c.staticShared = secret
  }

  /** Wipes every static secret and forgets every entry (the manager is closed). */
  clear (): void {
    for (const c of this.map.values()) wipe(c.staticShared)
    this.map.clear()
  }

  private evictOldest (): void {
    const [hex, c] = this.map.entries().next().value as [string, ContactKeys]
    wipe(c.staticShared)
    this.map.delete(hex)
  }
}

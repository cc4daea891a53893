/**
 * The Double Ratchet (Signal's Double Ratchet spec, §3), without header encryption: the
 * sealed-sender layer already hides headers from carriers, and header encryption (§4) would
 * cost a trial decryption per skipped-key chain. Functions are pure: they take a state and
 * return a new one, so a failed decryption leaves the stored state exactly as it was (R3).
 *
 * This module knows nothing of identities, prekeys or storage.
 */
import { concatBytes, equalBytes, toHex } from '../../bytes.js'
import { Reader, Writer } from '../codec.js'
import { CryptoError } from '../errors.js'
import { aeadDecrypt, aeadEncrypt, dh, generateDhKeyPair, type DhKeyPair } from '../primitives.js'
import { MAX_SKIP, MAX_SKIPPED_KEYS, SKIPPED_KEY_MAX_AGE_MS } from '../constants.js'
import { kdfCk, kdfRk, messageCipherKeys } from './keys.js'

/** Receiving chains remembered after a DH step, to tell a replay from garbage (libsignal keeps 5). */
export const MAX_OLD_CHAINS = 5

export interface SkippedKey { dh: string, n: number, key: Uint8Array, at: number }

export interface RatchetState {
  rootKey: Uint8Array
  dhs: DhKeyPair
  dhr?: Uint8Array
  cks?: Uint8Array
  ckr?: Uint8Array
  ns: number
  nr: number
  pn: number
  skipped: SkippedKey[]
  /** Receiving chains we stepped past: their DH key and how far we had read. */
  oldChains: Array<{ dh: string, nr: number }>
}

export interface Header { dh: Uint8Array, pn: number, n: number }
export const HEADER_LENGTH = 40

export function encodeHeader (h: Header): Uint8Array {
  return new Writer().bytes(h.dh).u32(h.pn).u32(h.n).finish()
}

export function decodeHeader (bytes: Uint8Array): Header {
  const r = new Reader(bytes, 'ratchet header')
  const h = { dh: r.bytes(32), pn: r.u32(), n: r.u32() }
  r.end()
  return h
}

/** §3.3 RatchetInitAlice: Alice knows Bob's signed prekey and starts the sending chain. */
export function initAlice (sk: Uint8Array, bobPublic: Uint8Array): RatchetState {
  const dhs = generateDhKeyPair()
  const { rootKey, chainKey } = kdfRk(sk, dh(dhs.privateKey, bobPublic))
  return { rootKey, dhs, dhr: bobPublic, cks: chainKey, ns: 0, nr: 0, pn: 0, skipped: [], oldChains: [] }
}

/** §3.3 RatchetInitBob: Bob's first ratchet key pair is his signed prekey. */
export function initBob (sk: Uint8Array, bobKeyPair: DhKeyPair): RatchetState {
  return { rootKey: Uint8Array.from(sk), dhs: bobKeyPair, ns: 0, nr: 0, pn: 0, skipped: [], oldChains: [] }
}

function clone (s: RatchetState): RatchetState {
  return { ...s, skipped: s.skipped.map((k) => ({ ...k })), oldChains: s.oldChains.map((c) => ({ ...c })) }
}

/** §3.4 RatchetEncrypt. Returns the new state and the message (header || ciphertext). */
export function ratchetEncrypt (state: RatchetState, plaintext: Uint8Array, ad: Uint8Array): { state: RatchetState, message: Uint8Array } {
  if (state.cks === undefined) throw new CryptoError('ERR_NO_SENDING_CHAIN', 'this session cannot send yet')
  const s = clone(state)
  const { chainKey, messageKey } = kdfCk(s.cks as Uint8Array)
  s.cks = chainKey
  const header = encodeHeader({ dh: s.dhs.publicKey, pn: s.pn, n: s.ns })
  s.ns += 1
  const { key, nonce } = messageCipherKeys(messageKey)
  messageKey.fill(0)
  return { state: s, message: concatBytes(header, aeadEncrypt(key, nonce, plaintext, concatBytes(ad, header))) }
}

/** §3.5 RatchetDecrypt, on a copy: the caller commits the returned state only on success. */
export function ratchetDecrypt (state: RatchetState, message: Uint8Array, ad: Uint8Array, now: number): { state: RatchetState, plaintext: Uint8Array } {
  if (message.length < HEADER_LENGTH + 16) throw new CryptoError('ERR_TRUNCATED', 'a ratchet message is truncated')
  const headerBytes = message.subarray(0, HEADER_LENGTH)
  const header = decodeHeader(headerBytes)
  const ciphertext = message.subarray(HEADER_LENGTH)
  const s = clone(state)
  // Skipped keys also expire by age (R7).
  s.skipped = s.skipped.filter((k) => now - k.at <= SKIPPED_KEY_MAX_AGE_MS)
  const dhHex = toHex(header.dh)

  const skippedIndex = s.skipped.findIndex((k) => k.dh === dhHex && k.n === header.n)
  if (skippedIndex !== -1) {
    const { key, nonce } = messageCipherKeys(s.skipped[skippedIndex].key)
    const plaintext = aeadDecrypt(key, nonce, ciphertext, concatBytes(ad, headerBytes))
    s.skipped.splice(skippedIndex, 1)
    return { state: s, plaintext }
  }
  const current = s.dhr !== undefined && equalBytes(header.dh, s.dhr)
  // A message from the current chain we already read, or from a chain we stepped past, is a replay.
  if ((current && header.n < s.nr) || s.oldChains.some((c) => c.dh === dhHex && header.n < c.nr)) {
    throw new CryptoError('ERR_DUPLICATE_MESSAGE', 'this message was already received')
  }
  if (!current) {
    if (s.oldChains.some((c) => c.dh === dhHex)) throw new CryptoError('ERR_DUPLICATE_MESSAGE', 'a message from a finished chain')
    skipMessageKeys(s, header.pn, now)
    dhRatchet(s, header)
  }
  skipMessageKeys(s, header.n, now)
  const { chainKey, messageKey } = kdfCk(s.ckr as Uint8Array)
  s.ckr = chainKey
  s.nr += 1
  const { key, nonce } = messageCipherKeys(messageKey)
  messageKey.fill(0)
  return { state: s, plaintext: aeadDecrypt(key, nonce, ciphertext, concatBytes(ad, headerBytes)) }
}

function skipMessageKeys (s: RatchetState, until: number, now: number): void {
  if (s.nr + MAX_SKIP < until) throw new CryptoError('ERR_TOO_FAR_AHEAD', 'a message from too far ahead in the chain')
  if (s.ckr === undefined) return
  const dhHex = toHex(s.dhr as Uint8Array)
  while (s.nr < until) {
    const { chainKey, messageKey } = kdfCk(s.ckr)
    s.ckr = chainKey
    s.skipped.push({ dh: dhHex, n: s.nr, key: messageKey, at: now })
    s.nr += 1
  }
  // Global cap: the oldest skipped keys go first (R2, R13).
  if (s.skipped.length > MAX_SKIPPED_KEYS) s.skipped.splice(0, s.skipped.length - MAX_SKIPPED_KEYS)
}

/** §3.5 DHRatchet. */
function dhRatchet (s: RatchetState, header: Header): void {
  if (s.dhr !== undefined) {
    s.oldChains.push({ dh: toHex(s.dhr), nr: s.nr })
    if (s.oldChains.length > MAX_OLD_CHAINS) s.oldChains.shift()
  }
  s.pn = s.ns
  s.ns = 0
  s.nr = 0
  s.dhr = header.dh
  let step = kdfRk(s.rootKey, dh(s.dhs.privateKey, s.dhr))
  s.rootKey = step.rootKey
  s.ckr = step.chainKey
  s.dhs = generateDhKeyPair()
  step = kdfRk(s.rootKey, dh(s.dhs.privateKey, s.dhr))
  s.rootKey = step.rootKey
  s.cks = step.chainKey
}

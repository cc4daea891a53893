/**
 * The Double Ratchet state of one session (DR §3.2 "State variables") and its versioned
 * binary form. Values are treated as immutable: every step builds a new state object, so a
 * failed decryption leaves the previous state untouched (R3) and the caller commits the new
 * one only when the store batch succeeds (R9).
 *
 * Serialised (inside a session state, docs/PROTOCOL.md §7):
 *   RK (32) | DHs public (32) | DHs private (32) | u8 has-CKs [| CKs (32) | u32 Ns] | u32 PN
 *   | u8 has-DHr [| DHr (32)] | u8 n (<= MAX_RECEIVER_CHAINS) | n x (ratchet key (32) | CKr (32) | u32 Nr)
 *   | u32 m (<= MAX_SKIPPED_KEYS) | m x (ratchet key (32) | u32 N | MK (32) | u64 stored-at ms)
 */
import { MAX_RECEIVER_CHAINS, MAX_SKIPPED_KEYS } from '../constants.js'
import type { Reader, Writer } from '../encoding.js'
import { X25519KeyPair } from '../primitives/x25519.js'

export interface SendingChain {
  readonly chainKey: Uint8Array
  /** Ns: the number of the next message sent in this chain. */
  readonly index: number
}

export interface ReceiverChain {
  readonly ratchetKey: Uint8Array
  readonly chainKey: Uint8Array
  /** Nr: the number of the next message expected in this chain. */
  readonly index: number
}

export interface SkippedKey {
  readonly ratchetKey: Uint8Array
  readonly index: number
  readonly messageKey: Uint8Array
  readonly storedAt: number
}

export interface RatchetState {
  readonly rootKey: Uint8Array
  readonly sendingKey: X25519KeyPair
  readonly sendingChain: SendingChain | undefined
  readonly previousCounter: number
  readonly remoteRatchetKey: Uint8Array | undefined
  /** Newest first; the first one belongs to remoteRatchetKey. */
  readonly receiverChains: readonly ReceiverChain[]
  /** Oldest first, so eviction takes from the front. */
  readonly skipped: readonly SkippedKey[]
}

export function writeRatchetState (w: Writer, s: RatchetState): void {
  w.bytes(s.rootKey).bytes(s.sendingKey.publicKey).bytes(s.sendingKey.privateKeyBytes())
  if (s.sendingChain === undefined) w.u8(0)
  else w.u8(1).bytes(s.sendingChain.chainKey).u32(s.sendingChain.index)
  w.u32(s.previousCounter)
  if (s.remoteRatchetKey === undefined) w.u8(0)
  else w.u8(1).bytes(s.remoteRatchetKey)
  w.u8(s.receiverChains.length)
  for (const c of s.receiverChains) w.bytes(c.ratchetKey).bytes(c.chainKey).u32(c.index)
  w.u32(s.skipped.length)
  for (const k of s.skipped) w.bytes(k.ratchetKey).u32(k.index).bytes(k.messageKey).u64(k.storedAt)
}

export function readRatchetState (r: Reader): RatchetState {
  const rootKey = r.copy(32)
  const pub = r.copy(32)
  const priv = r.copy(32)
  const hasSending = r.u8()
  if (hasSending > 1) r.fail('bad flag')
  const sendingChain = hasSending === 1 ? { chainKey: r.copy(32), index: r.u32() } : undefined
  const previousCounter = r.u32()
  const hasRemote = r.u8()
  if (hasRemote > 1) r.fail('bad flag')
  const remoteRatchetKey = hasRemote === 1 ? r.copy(32) : undefined
  const n = r.u8()
  if (n > MAX_RECEIVER_CHAINS) r.fail('too many receiver chains')
  const receiverChains: ReceiverChain[] = []
  for (let i = 0; i < n; i++) receiverChains.push({ ratchetKey: r.copy(32), chainKey: r.copy(32), index: r.u32() })
  const m = r.u32()
  if (m > MAX_SKIPPED_KEYS) r.fail('too many skipped keys')
  const skipped: SkippedKey[] = []
  for (let i = 0; i < m; i++) skipped.push({ ratchetKey: r.copy(32), index: r.u32(), messageKey: r.copy(32), storedAt: r.u64() })
  return { rootKey, sendingKey: X25519KeyPair.fromStored(pub, priv), sendingChain, previousCounter, remoteRatchetKey, receiverChains, skipped }
}

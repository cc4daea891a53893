/**
 * The Double Ratchet (Signal's Double Ratchet spec, revision 1, §3.3-3.5): initialisation
 * from PQXDH's SK, RatchetEncrypt, RatchetDecrypt with skipped message keys, and the DH
 * ratchet step. Pure functions over immutable states: nothing here stores, logs or knows
 * identities beyond the associated data it is given.
 *
 * Limits (constants.ts): MAX_SKIP per chain and per PN gap (R2), MAX_SKIPPED_KEYS per state
 * with the oldest evicted first, skipped keys older than SKIPPED_KEY_MAX_AGE_MS dropped
 * (R7), MAX_RECEIVER_CHAINS kept (R13). A used message key is removed from the state (R7);
 * a message whose key is gone is a duplicate (R4).
 *
 * Work before the AEAD check is bounded per message (R2): the chain steps a message asks for
 * are taken from a budget its caller shares over every state it tries, and only what leads to
 * this message's key runs before the check (the chain keys up to N, the receiving half of the
 * DH ratchet step). Skipped message keys, finishing the previous receiving chain up to PN, the
 * new sending key pair and its DH run after it. DR §3.5 discards every state change when
 * authentication fails, so the resulting state is the same as in the specification's order.
 */
import type { KeyObject } from 'node:crypto'
import { concatBytes, equalBytes, wipe } from '../../bytes.js'
import { MAX_RECEIVER_CHAINS, MAX_SKIP, MAX_SKIPPED_KEYS, SKIPPED_KEY_MAX_AGE_MS } from '../constants.js'
import { DecryptError, DuplicateMessageError, NoSessionError, TooFarAheadError } from '../errors.js'
import { aeadDecrypt, aeadEncrypt } from '../primitives/aead.js'
import { importX25519PublicKey, X25519KeyPair } from '../primitives/x25519.js'
import type { RandomSource } from '../random.js'
import { kdfCk, kdfRk, messageKeyMaterial, messageKeyOf, nextChainKey } from './keys.js'
import { decodeRatchetMessage, encodeHeader, type Header } from './message.js'
import type { RatchetState, ReceiverChain, SkippedKey } from './state.js'

/** DR §3.3 RatchetInitAlice: SK from PQXDH, Bob's signed prekey as the first DHr. */
export function initAlice (sharedKey: Uint8Array, bobSignedPrekey: Uint8Array, random: RandomSource, handle?: KeyObject): RatchetState {
  const sendingKey = X25519KeyPair.generate(random)
  const dh = sendingKey.agree(handle ?? bobSignedPrekey)
  const { rootKey, chainKey } = kdfRk(sharedKey, dh)
  wipe(dh)
  return { rootKey, sendingKey, sendingChain: { chainKey, index: 0 }, previousCounter: 0, remoteRatchetKey: bobSignedPrekey, receiverChains: [], skipped: [] }
}

/** DR §3.3 RatchetInitBob: the signed prekey pair is Bob's first DHs. */
export function initBob (sharedKey: Uint8Array, signedPrekey: X25519KeyPair): RatchetState {
  // The pair is shared with the prekey store (never mutated or wiped while in use), so its
  // OpenSSL handle is reused.
  return { rootKey: sharedKey, sendingKey: signedPrekey, sendingChain: undefined, previousCounter: 0, remoteRatchetKey: undefined, receiverChains: [], skipped: [] }
}

/** DR §3.4 RatchetEncrypt. `ad` is the directional AD (sender identity first) plus any extra bound bytes. */
export function ratchetEncrypt (state: RatchetState, plaintext: Uint8Array, ad: Uint8Array): { state: RatchetState, message: Uint8Array, header: Header } {
  const chain = state.sendingChain
  if (chain === undefined) throw new NoSessionError('this session cannot send before it has received')
  const { chainKey, messageKey } = kdfCk(chain.chainKey)
  const headerBytes = encodeHeader(state.sendingKey.publicKey, state.previousCounter, chain.index)
  const { key, nonce } = messageKeyMaterial(messageKey)
  const sealed = aeadEncrypt(key, nonce, plaintext, concatBytes(ad, headerBytes))
  wipe(messageKey, key)
  const message = new Uint8Array(headerBytes.length + sealed.length)
  message.set(headerBytes, 0)
  message.set(sealed, headerBytes.length)
  return {
    state: { ...state, sendingChain: { chainKey, index: chain.index + 1 } },
    message,
    header: { ratchetKey: state.sendingKey.publicKey, previousCounter: state.previousCounter, counter: chain.index }
  }
}

interface Advance { chainKey: Uint8Array, index: number, skipped: SkippedKey[] }

interface Walk { ratchetKey: Uint8Array, index: number, chainKeys: Uint8Array[] }

/**
 * The first half of DR §3.5 SkipMessageKeys: the chain keys from `index` up to `until` (the
 * last one is the chain key of message `until`). Only chain keys, one HMAC each: the message
 * keys of the skipped messages are derived by skippedKeys once the message has authenticated.
 */
function walk (ratchetKey: Uint8Array, chainKey: Uint8Array, index: number, until: number): Walk {
  if (until - index > MAX_SKIP) throw new TooFarAheadError()
  const chainKeys = [chainKey]
  for (let i = index; i < until; i++) chainKeys.push(nextChainKey(chainKeys[chainKeys.length - 1]))
  return { ratchetKey, index, chainKeys }
}

/** The second half: the message keys of the messages a walk skipped, to keep (DR §3.5 MKSKIPPED). */
function skippedKeys (w: Walk, now: number): SkippedKey[] {
  const out: SkippedKey[] = []
  for (let i = 0; i < w.chainKeys.length - 1; i++) out.push({ ratchetKey: w.ratchetKey, index: w.index + i, messageKey: messageKeyOf(w.chainKeys[i]), storedAt: now })
  return out
}

/** Chain-key derivations still allowed before an AEAD check succeeds; shared by the states one message is tried in. */
export interface WorkBudget { chainSteps: number }

/** Takes the derivations of a skip up to `until` from the budget, or refuses the skip before any is made. */
function spend (budget: WorkBudget, index: number, until: number): void {
  const steps = Math.max(0, until - index)
  if (steps > MAX_SKIP) throw new TooFarAheadError()
  if (steps > budget.chainSteps) throw new TooFarAheadError()
  budget.chainSteps -= steps
}

/** DR §3.5 SkipMessageKeys: derive and keep the keys of messages not yet received, up to `until`. */
function skipTo (ratchetKey: Uint8Array, chainKey: Uint8Array, index: number, until: number, now: number): Advance {
  if (until - index > MAX_SKIP) throw new TooFarAheadError()
  const skipped: SkippedKey[] = []
  let ck = chainKey
  for (let i = index; i < until; i++) {
    const next = kdfCk(ck)
    skipped.push({ ratchetKey, index: i, messageKey: next.messageKey, storedAt: now })
    ck = next.chainKey
  }
  return { chainKey: ck, index: Math.max(index, until), skipped }
}

export interface Decryption {
  readonly state: RatchetState
  readonly plaintext: Uint8Array
  readonly header: Header
  /** Message keys of earlier messages that have not arrived yet (R12: a visible gap). */
  readonly newlySkipped: number
}

function open (messageKey: Uint8Array, body: Uint8Array, ad: Uint8Array, headerBytes: Uint8Array): Uint8Array {
  const { key, nonce } = messageKeyMaterial(messageKey)
  try {
    return aeadDecrypt(key, nonce, body, concatBytes(ad, headerBytes))
  } finally {
    wipe(key)
  }
}

function capSkipped (keys: SkippedKey[], now: number): SkippedKey[] {
  // R7: drop keys older than the age limit; R2/R13: keep at most MAX_SKIPPED_KEYS, oldest out first.
  let out = keys.filter((k) => now - k.storedAt <= SKIPPED_KEY_MAX_AGE_MS)
  if (out.length > MAX_SKIPPED_KEYS) out = out.slice(out.length - MAX_SKIPPED_KEYS)
  return out
}

/**
 * DR §3.5 RatchetDecrypt. `ad` is the directional AD (sender identity first). Returns the
 * new state, or throws (DecryptError, DuplicateMessageError, TooFarAheadError, DecodeError,
 * BadKeyError) leaving `state` as it was. `budget` bounds the chain-key derivations made
 * before the AEAD check (a message whose skip exceeds it is TooFarAheadError in this state).
 */
export function ratchetDecrypt (state: RatchetState, message: Uint8Array, ad: Uint8Array, now: number, random: RandomSource, budget: WorkBudget = { chainSteps: MAX_SKIP }): Decryption {
  const { header, headerBytes, body } = decodeRatchetMessage(message)
  const rk = header.ratchetKey
  // R11: our own message sent back to us.
  if (equalBytes(rk, state.sendingKey.publicKey)) throw new DecryptError('a message reflected back to its sender')

  // 1. A skipped message key (DR §3.5 TrySkippedMessageKeys).
  const at = state.skipped.findIndex((k) => k.index === header.counter && equalBytes(k.ratchetKey, rk))
  if (at >= 0) {
    const plaintext = open(state.skipped[at].messageKey, body, ad, headerBytes)
    const skipped = state.skipped.filter((_, i) => i !== at)
    return { state: { ...state, skipped: capSkipped(skipped, now) }, plaintext, header, newlySkipped: 0 }
  }

  // 2. A chain we already have.
  const chainAt = state.receiverChains.findIndex((c) => equalBytes(c.ratchetKey, rk))
  if (chainAt >= 0) {
    const chain = state.receiverChains[chainAt]
    if (header.counter < chain.index) throw new DuplicateMessageError()
    spend(budget, chain.index, header.counter)
    const w = walk(rk, chain.chainKey, chain.index, header.counter)
    const { chainKey, messageKey } = kdfCk(w.chainKeys[w.chainKeys.length - 1])
    const plaintext = open(messageKey, body, ad, headerBytes)
    wipe(messageKey)
    const newlySkipped = skippedKeys(w, now)
    const receiverChains = state.receiverChains.slice()
    receiverChains[chainAt] = { ratchetKey: rk, chainKey, index: header.counter + 1 }
    return {
      state: { ...state, receiverChains, skipped: capSkipped([...state.skipped, ...newlySkipped], now) },
      plaintext,
      header,
      newlySkipped: newlySkipped.length
    }
  }

  // 3. A new ratchet key: finish the current receiving chain up to PN, then DHRatchet (DR §3.5).
  const current = state.receiverChains[0]
  const finishing = current !== undefined && state.remoteRatchetKey !== undefined && equalBytes(current.ratchetKey, state.remoteRatchetKey) ? current : undefined
  // Both limits are checked before any work (DR §3.5 SkipMessageKeys raises on them too).
  if (finishing !== undefined && header.previousCounter - finishing.index > MAX_SKIP) throw new TooFarAheadError()
  spend(budget, 0, header.counter)
  // The receiving half of DHRatchet: all this message's key depends on.
  const remote = importX25519PublicKey(rk)
  const dhIn = state.sendingKey.agree(remote)
  const step1 = kdfRk(state.rootKey, dhIn)
  wipe(dhIn)
  const w = walk(rk, step1.chainKey, 0, header.counter)
  const { chainKey, messageKey } = kdfCk(w.chainKeys[w.chainKeys.length - 1])
  const plaintext = open(messageKey, body, ad, headerBytes)
  wipe(messageKey)
  // Authenticated: the rest of RatchetDecrypt. This chain's skipped keys, the old chain's up to PN ...
  const newChainSkipped = skippedKeys(w, now)
  let skipped: SkippedKey[] = []
  let kept = state.receiverChains
  if (finishing !== undefined) {
    const finished = skipTo(finishing.ratchetKey, finishing.chainKey, finishing.index, header.previousCounter, now)
    skipped = finished.skipped
    // The finished chain keeps its place: a late message of it may still come.
    if (skipped.length > 0) kept = [{ ratchetKey: finishing.ratchetKey, chainKey: finished.chainKey, index: finished.index }, ...state.receiverChains.slice(1)]
  }
  // ... and the sending half of DHRatchet: a new DHs, and the root key after it.
  const sendingKey = X25519KeyPair.generate(random)
  const dhOut = sendingKey.agree(remote)
  const step2 = kdfRk(step1.rootKey, dhOut)
  wipe(dhOut)
  const newChain: ReceiverChain = { ratchetKey: rk, chainKey, index: header.counter + 1 }
  const receiverChains = [newChain, ...kept].slice(0, MAX_RECEIVER_CHAINS)
  return {
    state: {
      rootKey: step2.rootKey,
      sendingKey,
      sendingChain: { chainKey: step2.chainKey, index: 0 },
      previousCounter: state.sendingChain?.index ?? 0,
      remoteRatchetKey: rk,
      receiverChains,
      skipped: capSkipped([...state.skipped, ...skipped, ...newChainSkipped], now)
    },
    plaintext,
    header,
    newlySkipped: skipped.length + newChainSkipped.length
  }
}

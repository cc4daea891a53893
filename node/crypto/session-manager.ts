/**
 * One account's sessions with its contacts: seal a plaintext for a contact (starting a
 * session from their verified prekey record when there is none), open an envelope and
 * commit the new session state together with whatever the caller stores for the message, in
 * one atomic batch (R9). Clock, randomness of one-time prekey choice and record lookup are
 * passed in.
 *
 * Session message (inside the sealed envelope), docs/PROTOCOL.md §3:
 *   prekey:  0x01 | 0x01 | 0x05 E(32) | spk id u32 | kem id u32 | opk flag u8 [| opk id u32] | 0x08 CT(1568) | ratchet message
 *   normal:  0x01 | 0x02 | ratchet message
 * Tables: 'session' [peer] (Session, serialised), 'pin' [peer] (the contact's Ed25519 key),
 *         'basekey' [peer] (base keys already used, against replayed initial messages).
 */
import type { IdentityKeys } from '../identity/keys.js'
import { x25519ToSessionId, sessionIdToX25519, type SessionId } from '../identity/session-id.js'
import { equalBytes, toHex } from '../bytes.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { parseRecord } from './bundle.js'
import { KEY_TYPE, Reader, Writer } from './codec.js'
import { CryptoError, IdentityChangedError } from './errors.js'
import { initiate, respond } from './pqxdh.js'
import { ed25519ToX25519, KEM_CIPHERTEXT_LENGTH } from './primitives.js'
import { initAlice, initBob, ratchetDecrypt, ratchetEncrypt } from './ratchet/double-ratchet.js'
import { openEnvelope, sealEnvelope } from './sealed-sender.js'
import { deserializeSession, serializeSession, type Session } from './session-state.js'
import { PrekeyStore } from './prekey-store.js'
import { UNACKNOWLEDGED_SESSION_MAX_AGE_MS } from './constants.js'

export const MESSAGE_VERSION = 0x01
const TYPE_PREKEY = 0x01
const TYPE_NORMAL = 0x02
/** Base keys remembered per contact to refuse a replayed initial message (H6). */
const MAX_BASE_KEYS = 64

export interface SessionManagerInit {
  identity: IdentityKeys
  store: SecureStore
  now: () => number
  /** The contact's published prekey record, or undefined when none is found. */
  fetchRecord: (peer: SessionId, options?: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>
  /** Picks which one-time prekey to use out of n (undefined: use none). Default: a random one. */
  chooseOneTimePrekey?: (n: number) => number | undefined
}

export class SessionManager {
  readonly prekeys: PrekeyStore
  private readonly ours: { dhPrivate: Uint8Array, dhPublic: Uint8Array }

  constructor (private readonly init: SessionManagerInit) {
    this.prekeys = new PrekeyStore(init.store, init.identity, init.now)
    this.ours = { dhPrivate: init.identity.dhPrivateKey, dhPublic: init.identity.dhPublicKey }
  }

  async loadSession (peer: SessionId): Promise<Session | undefined> {
    const bytes = await this.init.store.get(['session', peer])
    return bytes === undefined ? undefined : deserializeSession(bytes)
  }

  /** Forgets the session with a contact; the next message starts a new one from their record. */
  async resetSession (peer: SessionId): Promise<void> {
    await this.init.store.del(['session', peer])
  }

  private async checkPin (peer: SessionId, signingKey: Uint8Array): Promise<StoreOp[]> {
    const pinned = await getJson<{ key: string }>(this.init.store, ['pin', peer])
    if (pinned === undefined) return [{ type: 'put', key: ['pin', peer], value: jsonValue({ key: toHex(signingKey) }) }]
    if (pinned.key !== toHex(signingKey)) throw new IdentityChangedError()
    return []
  }

  async seal (peer: SessionId, plaintext: Uint8Array, options: { signal?: AbortSignal, oneTimePrekey?: boolean } = {}): Promise<Uint8Array> {
    const now = this.init.now()
    let session = await this.loadSession(peer)
    const ops: StoreOp[] = []
    // A session the peer never answered is not used for ever (H15): start again from the record.
    if (session?.pending !== undefined && now - session.createdAt > UNACKNOWLEDGED_SESSION_MAX_AGE_MS) session = undefined
    if (session === undefined) {
      const bytes = await this.init.fetchRecord(peer, options)
      if (bytes === undefined) throw new CryptoError('ERR_NO_RECORD', 'no prekey record found for this contact; they may never have been online')
      const record = parseRecord(bytes, peer, now)
      ops.push(...await this.checkPin(peer, record.signingKey))
      const n = record.oneTimePrekeys.length
      const pick = options.oneTimePrekey === false || n === 0 ? undefined : (this.init.chooseOneTimePrekey ?? ((k) => Math.floor(Math.random() * k)))(n)
      const theirDh = sessionIdToX25519(peer)
      const start = initiate(this.ours, theirDh, record, pick)
      session = {
        peerSigningKey: record.signingKey,
        ad: start.ad,
        ratchet: initAlice(start.sk, start.signedPrekey),
        pending: { ephemeralPublic: start.ephemeralPublic, kemCiphertext: start.kemCiphertext, signedPrekeyId: start.signedPrekeyId, kemPrekeyId: start.kemPrekeyId, oneTimePrekeyId: start.oneTimePrekeyId },
        createdAt: now
      }
      start.sk.fill(0)
    }
    const { state, message } = ratchetEncrypt(session.ratchet, plaintext, session.ad)
    const next: Session = { ...session, ratchet: state }
    const w = new Writer().u8(MESSAGE_VERSION)
    if (next.pending !== undefined) {
      const p = next.pending
      w.u8(TYPE_PREKEY).u8(KEY_TYPE.x25519).bytes(p.ephemeralPublic).u32(p.signedPrekeyId).u32(p.kemPrekeyId)
      if (p.oneTimePrekeyId === undefined) w.u8(0)
      else w.u8(1).u32(p.oneTimePrekeyId)
      w.u8(KEY_TYPE.mlkem1024).bytes(p.kemCiphertext)
    } else {
      w.u8(TYPE_NORMAL)
    }
    const envelope = sealEnvelope(sessionIdToX25519(peer), this.init.identity.signingPublicKey, w.bytes(message).finish())
    await this.init.store.batch([...ops, { type: 'put', key: ['session', peer], value: serializeSession(next) }])
    return envelope
  }

  /**
   * Opens an envelope. `commit` sees the authenticated sender and plaintext and returns the
   * writes to make in the same batch as the new session state. Throws a CryptoError (nothing
   * stored) for anything that does not decrypt exactly once.
   */
  async open (envelope: Uint8Array, commit: (from: SessionId, plaintext: Uint8Array) => Promise<StoreOp[]>): Promise<{ from: SessionId, plaintext: Uint8Array }> {
    const now = this.init.now()
    const { senderSigningKey, sessionMessage } = openEnvelope(this.ours.dhPrivate, this.ours.dhPublic, envelope)
    let theirDh: Uint8Array
    let peer: SessionId
    try {
      theirDh = ed25519ToX25519(senderSigningKey)
      peer = x25519ToSessionId(theirDh)
    } catch {
      throw new CryptoError('ERR_BAD_KEY', 'the sender key is not a valid identity')
    }
    if (peer === this.init.identity.sessionId) throw new CryptoError('ERR_REFLECTED', 'a message claiming to come from ourselves')
    const r = new Reader(sessionMessage, 'session message')
    const version = r.u8()
    if (version !== MESSAGE_VERSION) throw new CryptoError('ERR_UNKNOWN_VERSION', `session message version ${version} is not supported`)
    const type = r.u8()
    const ops: StoreOp[] = [...await this.checkPin(peer, senderSigningKey)]
    let session: Session | undefined = await this.loadSession(peer)
    let ratchetMessage: Uint8Array

    if (type === TYPE_PREKEY) {
      if (r.u8() !== KEY_TYPE.x25519) throw new CryptoError('ERR_KEY_TYPE', 'the base key has the wrong type')
      const ephemeralPublic = r.bytes(32)
      const signedPrekeyId = r.u32()
      const kemPrekeyId = r.u32()
      const flag = r.u8()
      if (flag > 1) throw new CryptoError('ERR_MALFORMED', 'bad one-time prekey flag')
      const oneTimePrekeyId = flag === 1 ? r.u32() : undefined
      if (r.u8() !== KEY_TYPE.mlkem1024) throw new CryptoError('ERR_KEY_TYPE', 'the KEM ciphertext has the wrong type')
      const kemCiphertext = r.bytes(KEM_CIPHERTEXT_LENGTH)
      ratchetMessage = sessionMessage.subarray(r.position)
      if (session?.baseKey !== undefined && equalBytes(session.baseKey, ephemeralPublic)) {
        // More messages of the session we already have (the peer has not seen our reply yet).
      } else {
        const used = (await getJson<{ keys: string[] }>(this.init.store, ['basekey', peer]))?.keys ?? []
        if (used.includes(toHex(ephemeralPublic))) throw new CryptoError('ERR_DUPLICATE_MESSAGE', 'a replayed initial message')
        const spk = await this.prekeys.signedPrekey(signedPrekeyId)
        const kemSeed = await this.prekeys.kemSeed(kemPrekeyId)
        if (spk === undefined || kemSeed === undefined) throw new CryptoError('ERR_UNKNOWN_PREKEY', 'the initial message names a prekey we do not have')
        let oneTimePrekeyPrivate: Uint8Array | undefined
        if (oneTimePrekeyId !== undefined) {
          oneTimePrekeyPrivate = await this.prekeys.oneTimePrivate(oneTimePrekeyId)
          // Used already (two senders read the same record): refuse; never decrypt twice under one key (H5).
          if (oneTimePrekeyPrivate === undefined) throw new CryptoError('ERR_ONE_TIME_PREKEY_USED', 'the one-time prekey was already used')
          ops.push(this.prekeys.consumeOp(oneTimePrekeyId))
        }
        const { sk, ad } = respond(this.ours, theirDh, { ephemeralPublic, kemCiphertext }, { signedPrekeyPrivate: spk.privateKey, kemSeed, oneTimePrekeyPrivate })
        session = { peerSigningKey: senderSigningKey, ad, ratchet: initBob(sk, spk), baseKey: ephemeralPublic, createdAt: now }
        sk.fill(0)
        ops.push({ type: 'put', key: ['basekey', peer], value: jsonValue({ keys: [...used, toHex(ephemeralPublic)].slice(-MAX_BASE_KEYS) }) })
      }
    } else if (type === TYPE_NORMAL) {
      ratchetMessage = sessionMessage.subarray(2)
      if (session === undefined) throw new CryptoError('ERR_NO_SESSION', 'no session with this contact')
    } else {
      throw new CryptoError('ERR_MALFORMED', 'unknown session message type')
    }

    const { state, plaintext } = ratchetDecrypt(session.ratchet, ratchetMessage, session.ad, now)
    // The peer answered on this session: stop repeating the PQXDH header.
    const next: Session = { ...session, ratchet: state, pending: type === TYPE_NORMAL ? undefined : session.pending }
    ops.push({ type: 'put', key: ['session', peer], value: serializeSession(next) })
    ops.push(...await commit(peer, plaintext))
    await this.init.store.batch(ops)
    if (ops.some((op) => op.type === 'del' && op.key[0] === 'otpk')) this.prekeys.markChanged()
    return { from: peer, plaintext }
  }
}


/**
 * Serialised forms of what the session layer keeps in the store, each with a version, so a
 * later release can read what an older one wrote. Bytes are hex in JSON: simple, inspectable
 * in tests, and sealed by the store like every other value.
 */
import { fromHex, toHex } from '../bytes.js'
import { CryptoError } from './errors.js'
import type { RatchetState } from './ratchet/double-ratchet.js'

export const SESSION_STATE_VERSION = 1

export interface PendingPrekey {
  ephemeralPublic: Uint8Array
  kemCiphertext: Uint8Array
  signedPrekeyId: number
  kemPrekeyId: number
  oneTimePrekeyId?: number
}

export interface Session {
  peerSigningKey: Uint8Array
  ad: Uint8Array
  ratchet: RatchetState
  /** Set on the initiator until the peer first answers: every message repeats the PQXDH header. */
  pending?: PendingPrekey
  /** The initiator's base key, on the responder's side. */
  baseKey?: Uint8Array
  createdAt: number
}

const h = toHex
const b = (s: string): Uint8Array => {
  const v = fromHex(s)
  if (v === undefined) throw new CryptoError('ERR_STATE', 'stored session state is corrupt')
  return v
}

export function serializeSession (s: Session): Uint8Array {
  const r = s.ratchet
  const json = {
    v: SESSION_STATE_VERSION,
    peerSigningKey: h(s.peerSigningKey),
    ad: h(s.ad),
    createdAt: s.createdAt,
    baseKey: s.baseKey === undefined ? undefined : h(s.baseKey),
    pending: s.pending === undefined
      ? undefined
      : { e: h(s.pending.ephemeralPublic), ct: h(s.pending.kemCiphertext), spk: s.pending.signedPrekeyId, kem: s.pending.kemPrekeyId, opk: s.pending.oneTimePrekeyId },
    r: {
      rk: h(r.rootKey),
      dhsPub: h(r.dhs.publicKey),
      dhsPriv: h(r.dhs.privateKey),
      dhr: r.dhr === undefined ? undefined : h(r.dhr),
      cks: r.cks === undefined ? undefined : h(r.cks),
      ckr: r.ckr === undefined ? undefined : h(r.ckr),
      ns: r.ns,
      nr: r.nr,
      pn: r.pn,
      skipped: r.skipped.map((k) => [k.dh, k.n, h(k.key), k.at]),
      old: r.oldChains.map((c) => [c.dh, c.nr])
    }
  }
  return new TextEncoder().encode(JSON.stringify(json))
}

export function deserializeSession (bytes: Uint8Array): Session {
  let j: any
  try {
    j = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new CryptoError('ERR_STATE', 'stored session state is corrupt')
  }
  if (j?.v !== SESSION_STATE_VERSION) throw new CryptoError('ERR_STATE_VERSION', `session state version ${String(j?.v)} is not supported`)
  const r = j.r
  return {
    peerSigningKey: b(j.peerSigningKey),
    ad: b(j.ad),
    createdAt: j.createdAt,
    baseKey: j.baseKey === undefined ? undefined : b(j.baseKey),
    pending: j.pending === undefined
      ? undefined
      : { ephemeralPublic: b(j.pending.e), kemCiphertext: b(j.pending.ct), signedPrekeyId: j.pending.spk, kemPrekeyId: j.pending.kem, oneTimePrekeyId: j.pending.opk },
    ratchet: {
      rootKey: b(r.rk),
      dhs: { publicKey: b(r.dhsPub), privateKey: b(r.dhsPriv) },
      dhr: r.dhr === undefined ? undefined : b(r.dhr),
      cks: r.cks === undefined ? undefined : b(r.cks),
      ckr: r.ckr === undefined ? undefined : b(r.ckr),
      ns: r.ns,
      nr: r.nr,
      pn: r.pn,
      skipped: r.skipped.map((k: [string, number, string, number]) => ({ dh: k[0], n: k[1], key: b(k[2]), at: k[3] })),
      oldChains: r.old.map((c: [string, number]) => ({ dh: c[0], nr: c[1] }))
    }
  }
}

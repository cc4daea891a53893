/**
 * Session IDs: `05` + 64 lower-case hex digits of an X25519 public key (Session's format).
 * Parsing refuses anything that could not be a contact: wrong prefix or length, non-hex,
 * a non-canonical u-coordinate, a point on the twist, or one of small order (K3).
 */
import { fromHex, toHex } from '../bytes.js'
import { SessionIdError } from './errors.js'

export const SESSION_ID_PREFIX = '05'
export const SESSION_ID_LENGTH = 66

declare const sessionIdBrand: unique symbol
/** A Session ID that has been parsed and checked; build one only with parseSessionId. */
export type SessionId = string & { readonly [sessionIdBrand]: true }

const P = 2n ** 255n - 19n
const A = 486662n

// The u-coordinates of the points of small order on Curve25519, canonical forms only
// (non-canonical ones are refused earlier as u >= p): 0, 1, p-1 and the two of order 8.
const SMALL_ORDER_U = new Set<bigint>([
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n
])

export function parseSessionId (text: string): SessionId {
  const id = text.trim()
  if (!id.startsWith(SESSION_ID_PREFIX)) {
    throw new SessionIdError('ERR_SESSION_ID_PREFIX', 'a Session ID starts with 05')
  }
  if (id.length !== SESSION_ID_LENGTH) {
    throw new SessionIdError('ERR_SESSION_ID_LENGTH',
      `a Session ID has ${SESSION_ID_LENGTH} characters; this one has ${id.length}`)
  }
  const key = fromHex(id.slice(2).toLowerCase())
  if (key === undefined) {
    throw new SessionIdError('ERR_SESSION_ID_HEX', 'a Session ID contains only the digits 0-9 and a-f')
  }
  checkX25519PublicKey(key)
  return (SESSION_ID_PREFIX + toHex(key)) as SessionId
}

/** The X25519 public key a Session ID names. */
export function sessionIdToX25519 (id: SessionId): Uint8Array {
  return fromHex(id.slice(2)) as Uint8Array
}

export function x25519ToSessionId (publicKey: Uint8Array): SessionId {
  checkX25519PublicKey(publicKey)
  return (SESSION_ID_PREFIX + toHex(publicKey)) as SessionId
}

/** Keys already found valid: the on-curve test is a 255-bit exponentiation (~0.15 ms). */
const validKeys = new Set<string>()
const MAX_CACHED_KEYS = 4096

/** Refuses a non-canonical, twist or small-order u-coordinate (RFC 7748 §5 keys, K3/H3). */
export function checkX25519PublicKey (key: Uint8Array): void {
  if (key.length !== 32) {
    throw new SessionIdError('ERR_SESSION_ID_LENGTH', 'an X25519 public key has 32 bytes')
  }
  const hex = toHex(key)
  if (validKeys.has(hex)) return
  checkPoint(key)
  if (validKeys.size >= MAX_CACHED_KEYS) validKeys.clear()
  validKeys.add(hex)
}

function checkPoint (key: Uint8Array): void {
  let u = 0n
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(key[i])
  if (u >= P) throw new SessionIdError('ERR_SESSION_ID_POINT', 'this is not a valid Session ID (its key is out of range); check that it was copied whole')
  if (SMALL_ORDER_U.has(u)) throw new SessionIdError('ERR_SESSION_ID_POINT', 'this is not a valid Session ID (its key is a weak point no account can have)')
  // On the curve (not its twist) iff u^3 + A u^2 + u is a square mod p (Euler's criterion).
  const rhs = (u * u % P * u + A * u % P * u + u) % P
  if (modPow(rhs, (P - 1n) / 2n, P) !== 1n) {
    throw new SessionIdError('ERR_SESSION_ID_POINT', 'this is not a valid Session ID (its key is not on the curve); check that it was copied whole')
  }
}

function modPow (base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n
  let b = base % mod
  let e = exp
  while (e > 0n) {
    if ((e & 1n) === 1n) result = result * b % mod
    b = b * b % mod
    e >>= 1n
  }
  return result
}

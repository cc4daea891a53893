/**
 * Passphrase -> key-encryption key, with scrypt (RFC 7914). node:crypto's scrypt is the
 * same algorithm as @noble/hashes' (the tests cross-check them) and several times faster,
 * which lets us afford stronger parameters for the same unlock time.
 *
 * The parameters live in the key file and are authenticated (they are part of the
 * associated data of the wrapped key), and a file asking for less than the minimums is
 * refused (L6, RFC 9106 §4's advice on not letting an attacker lower the cost).
 */
import { scrypt as nodeScrypt } from 'node:crypto'
import { StoreFormatError } from './errors.js'

export interface ScryptParams {
  readonly name: 'scrypt'
  /** log2 of scrypt's N (CPU/memory cost). */
  readonly logN: number
  readonly r: number
  readonly p: number
}

/** About 0.4 s and 128 MiB on the 2-core reference machine (see bench in README). */
export const DEFAULT_SCRYPT: ScryptParams = { name: 'scrypt', logN: 17, r: 8, p: 1 }
/** Below this an offline guess costs too little; files asking for less are refused. */
export const MIN_SCRYPT: ScryptParams = { name: 'scrypt', logN: 15, r: 8, p: 1 }
/** Above this, unlocking would exhaust memory: a file asking for more is refused too. */
const MAX_LOG_N = 22
const KEY_LENGTH = 32

export function checkScryptParams (params: ScryptParams): void {
  if (params.name !== 'scrypt' || !Number.isInteger(params.logN) || !Number.isInteger(params.r) || !Number.isInteger(params.p)) {
    throw new StoreFormatError('ERR_KDF_PARAMS', 'unknown key-derivation parameters')
  }
  if (params.logN < MIN_SCRYPT.logN || params.r < MIN_SCRYPT.r || params.p < MIN_SCRYPT.p) {
    throw new StoreFormatError('ERR_KDF_TOO_WEAK', 'the key file asks for a key derivation weaker than the minimum')
  }
  if (params.logN > MAX_LOG_N || params.r > 32 || params.p > 16) {
    throw new StoreFormatError('ERR_KDF_PARAMS', 'the key file asks for an unreasonable key derivation')
  }
}

export async function deriveKek (passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  checkScryptParams(params)
  const N = 2 ** params.logN
  const maxmem = 256 * N * params.r * params.p
  const secret = Buffer.from(passphrase.normalize('NFKC'), 'utf8')
  try {
    return await new Promise((resolve, reject) => {
      nodeScrypt(secret, salt, KEY_LENGTH, { N, r: params.r, p: params.p, maxmem }, (err, key) => {
        if (err !== null) reject(err)
        else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength))
      })
    })
  } finally {
    secret.fill(0)
  }
}

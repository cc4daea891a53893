/**
 * The storage node/crypto needs, declared here so that the crypto code depends on no store
 * implementation (as libsignal's protocol crate declares its store traits in storage/traits.rs
 * and the application supplies them). node/store's sealed store satisfies this interface
 * structurally; the daemon passes it in.
 *
 * What the crypto code relies on, and why:
 * - `batch` is all or nothing, also across a crash: a decrypted message, the session state
 *   it advanced and the prekey it consumed land together or not at all (R9, H10).
 * - `list` yields values in key order, numbers in numeric order, and honours `limit`: a
 *   bundle lists at most MAX_ONE_TIME_PREKEYS_IN_BUNDLE one-time prekeys, lowest ids first.
 * - Keys are `[table, ...parts]`; the store may hash the parts (it does: they name contacts).
 */

/** A part of a record's key after its table: a string (may be secret) or a non-negative integer. */
export type StoreKeyPart = string | number
/** `[table, ...parts]`: table is a short fixed name ('session', 'identity', 'prekey', 'prekey-used'). */
export type CryptoStoreKey = readonly [string, ...StoreKeyPart[]]

export type CryptoStoreOp =
  | { type: 'put', key: CryptoStoreKey, value: Uint8Array }
  | { type: 'del', key: CryptoStoreKey }

export interface CryptoListOptions {
  /** At most this many values. */
  limit?: number
  /** Highest key first. */
  reverse?: boolean
}

export interface CryptoStore {
  get: (key: CryptoStoreKey) => Promise<Uint8Array | undefined>
  put: (key: CryptoStoreKey, value: Uint8Array) => Promise<void>
  del: (key: CryptoStoreKey) => Promise<void>
  /** All or nothing: the ops land together or not at all (also across a crash). */
  batch: (ops: readonly CryptoStoreOp[]) => Promise<void>
  /** Values of every record under `prefix`, in key order (numbers sort numerically). */
  list: (prefix: CryptoStoreKey, options?: CryptoListOptions) => AsyncIterable<Uint8Array>
}

/**
 * The store's public shape. Callers name records with logical keys, `[table, ...parts]`;
 * the store turns every string part into a keyed hash before it reaches the disk, so the
 * database's keys reveal neither contacts nor conversations (numbers stay ordered).
 * Every value is sealed with the data key, with the physical key as associated data.
 */
export type KeyPart = string | number
/** `[table, ...parts]`: table is a short fixed name ('contact', 'session', 'msg'); parts may be secret. */
export type StoreKey = readonly [string, ...KeyPart[]]

export type StoreOp =
  | { type: 'put', key: StoreKey, value: Uint8Array }
  | { type: 'del', key: StoreKey }

export interface ListOptions {
  limit?: number
  reverse?: boolean
}

export interface SecureStore {
  get: (key: StoreKey) => Promise<Uint8Array | undefined>
  put: (key: StoreKey, value: Uint8Array) => Promise<void>
  del: (key: StoreKey) => Promise<void>
  /** All or nothing: the ops land together or not at all (also across a crash). */
  batch: (ops: readonly StoreOp[]) => Promise<void>
  /** Values of every record under `prefix`, in key order (numbers sort numerically). */
  list: (prefix: StoreKey | readonly [string], options?: ListOptions) => AsyncIterable<Uint8Array>
  close: () => Promise<void>
}

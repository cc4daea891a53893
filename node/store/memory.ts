import { randomBytes } from 'node:crypto'
import { openMemoryKV } from './raw.js'
import { createSealedStore } from './sealed-store.js'
import type { SecureStore } from './types.js'

/** A SecureStore in memory (same sealing code as on disk), for tests and benchmarks. */
export function createMemoryStore (dataKey: Uint8Array = new Uint8Array(randomBytes(32))): SecureStore {
  return createSealedStore(openMemoryKV(), dataKey)
}

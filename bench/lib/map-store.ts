/**
 * A SecureStore over a Map that keeps plain bytes: the benchmark's counterpart of
 * libsignal's in-memory stores (which do not encrypt either). Values are copied in and out,
 * as a real store would.
 */
import type { SecureStore, StoreKey, StoreOp } from '../../node/store/types.js'

export class MapStore implements SecureStore {
  private readonly map = new Map<string, Uint8Array>()
  private key (k: StoreKey | readonly [string]): string { return k.join('\u0000') }
  async get (key: StoreKey): Promise<Uint8Array | undefined> { return this.map.get(this.key(key))?.slice() }
  async put (key: StoreKey, value: Uint8Array): Promise<void> { this.map.set(this.key(key), value.slice()) }
  async del (key: StoreKey): Promise<void> { this.map.delete(this.key(key)) }
  async batch (ops: readonly StoreOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.map.set(this.key(op.key), op.value.slice())
      else this.map.delete(this.key(op.key))
    }
  }

  async * list (prefix: StoreKey | readonly [string]): AsyncIterable<Uint8Array> {
    const p = this.key(prefix) + '\u0000'
    const keys = [...this.map.keys()].filter((k) => k.startsWith(p)).sort()
    for (const k of keys) yield (this.map.get(k) as Uint8Array).slice()
  }

  async close (): Promise<void> {}
}

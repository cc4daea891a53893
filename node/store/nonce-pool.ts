/**
 * Random nonces drawn from one buffer filled by the system CSPRNG a few KiB at a time: a
 * randomBytes call per value costs several microseconds of call overhead, more than sealing a
 * small record (the store seals one per write). Every byte is handed out once; nonces are
 * public, so the pool holds nothing secret.
 */
import { randomFillSync } from 'node:crypto'

export function noncePool (blockBytes = 4096): (length: number) => Uint8Array {
  const pool = new Uint8Array(blockBytes)
  let at = blockBytes
  return (length) => {
    if (length > blockBytes) return randomFillSync(new Uint8Array(length))
    if (at + length > blockBytes) {
      randomFillSync(pool)
      at = 0
    }
    const out = pool.slice(at, at + length)
    at += length
    return out
  }
}

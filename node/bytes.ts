/** Small byte helpers shared by every layer. Nothing here touches secrets in a way that leaks. */

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** Constant-time equality for equal-length inputs; false for different lengths. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Lower-case hex only; returns undefined for anything else so callers raise their own typed error. */
export function fromHex (hex: string): Uint8Array | undefined {
  if (!HEX_RE.test(hex)) return undefined
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function utf8 (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** Overwrites a secret buffer; best effort, JS gives no stronger guarantee. */
export function wipe (...buffers: Array<Uint8Array | undefined>): void {
  for (const b of buffers) b?.fill(0)
}

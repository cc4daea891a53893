/** Bounded binary encoding for the wire formats: every read checks length first. */
import { CryptoError } from './errors.js'

export class Writer {
  private readonly parts: Uint8Array[] = []
  private length = 0
  u8 (n: number): this { return this.bytes(Uint8Array.of(n)) }
  u16 (n: number): this { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, n); return this.bytes(b) }
  u32 (n: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return this.bytes(b) }
  u64 (n: number): this { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return this.bytes(b) }
  bytes (b: Uint8Array): this { this.parts.push(b); this.length += b.length; return this }
  /** u16 length, then the bytes. */
  var16 (b: Uint8Array): this { return this.u16(b.length).bytes(b) }
  finish (): Uint8Array {
    const out = new Uint8Array(this.length)
    let o = 0
    for (const p of this.parts) { out.set(p, o); o += p.length }
    return out
  }
}

export class Reader {
  private offset = 0
  constructor (private readonly buf: Uint8Array, private readonly what: string) {}
  private take (n: number): Uint8Array {
    if (this.offset + n > this.buf.length) throw new CryptoError('ERR_TRUNCATED', `${this.what} is truncated`)
    const out = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }
  u8 (): number { return this.take(1)[0] }
  u16 (): number { const b = this.take(2); return (b[0] << 8) | b[1] }
  u32 (): number { const b = this.take(4); return new DataView(b.buffer, b.byteOffset, 4).getUint32(0) }
  u64 (): number {
    const b = this.take(8)
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CryptoError('ERR_MALFORMED', `${this.what} has an out-of-range number`)
    return Number(v)
  }
  bytes (n: number): Uint8Array { return Uint8Array.from(this.take(n)) }
  var16 (max: number): Uint8Array {
    const n = this.u16()
    if (n > max) throw new CryptoError('ERR_MALFORMED', `${this.what} has a field that is too long`)
    return this.bytes(n)
  }
  get position (): number { return this.offset }
  /** Trailing bytes are an error: one encoding per value. */
  end (): void {
    if (this.offset !== this.buf.length) throw new CryptoError('ERR_MALFORMED', `${this.what} has trailing bytes`)
  }
}

/** Type bytes on every key (H13): a key is only accepted where its type belongs. */
export const KEY_TYPE = { x25519: 0x05, ed25519: 0x06, mlkem1024: 0x08 } as const

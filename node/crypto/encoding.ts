/**
 * Byte writer and reader for every Sotto wire format. Integers are big-endian; u64 values
 * are JavaScript safe integers (timestamps in ms, sequence numbers). The reader checks every
 * length before it reads and raises DecodeError (typed) on truncation, bad type bytes and
 * trailing data; it never allocates more than the input holds.
 */
import { DecodeError } from './errors.js'

export class Writer {
  private buf: Uint8Array
  private view: DataView
  private length = 0

  constructor (capacity = 256) {
    this.buf = new Uint8Array(capacity)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure (n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (v: number): this {
    this.ensure(1)
    this.buf[this.length++] = v
    return this
  }

  u16 (v: number): this {
    this.ensure(2)
    this.view.setUint16(this.length, v)
    this.length += 2
    return this
  }

  u32 (v: number): this {
    this.ensure(4)
    this.view.setUint32(this.length, v)
    this.length += 4
    return this
  }

  u64 (v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError('u64 field out of range')
    this.ensure(8)
    this.view.setUint32(this.length, Math.floor(v / 0x1_0000_0000))
    this.view.setUint32(this.length + 4, v >>> 0)
    this.length += 8
    return this
  }

  bytes (b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
    return this
  }

  /** A type byte then the key (PQXDH §2.1 Encode functions). */
  typed (type: number, key: Uint8Array): this {
    return this.u8(type).bytes(key)
  }

  /** u16 length then bytes. */
  var16 (b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError('field too long')
    return this.u16(b.length).bytes(b)
  }

  /** u32 length then bytes. */
  var32 (b: Uint8Array): this {
    return this.u32(b.length).bytes(b)
  }

  get size (): number { return this.length }

  finish (): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

export class Reader {
  private offset = 0
  private readonly view: DataView

  constructor (private readonly buf: Uint8Array, private readonly what: string, private readonly code = 'ERR_DECODE') {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  fail (why: string): never {
    throw new DecodeError(`${this.what}: ${why}`, this.code)
  }

  private need (n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) this.fail('truncated')
  }

  get position (): number { return this.offset }
  get remaining (): number { return this.buf.length - this.offset }

  u8 (): number {
    this.need(1)
    return this.buf[this.offset++]
  }

  u16 (): number {
    this.need(2)
    const v = this.view.getUint16(this.offset)
    this.offset += 2
    return v
  }

  u32 (): number {
    this.need(4)
    const v = this.view.getUint32(this.offset)
    this.offset += 4
    return v
  }

  u64 (): number {
    this.need(8)
    const hi = this.view.getUint32(this.offset)
    const lo = this.view.getUint32(this.offset + 4)
    this.offset += 8
    if (hi > 0x1fffff) this.fail('number out of range')
    return hi * 0x1_0000_0000 + lo
  }

  /** A view into the input (no copy). */
  bytes (n: number): Uint8Array {
    this.need(n)
    const out = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  /** A copy, for values that outlive the input buffer. */
  copy (n: number): Uint8Array {
    return this.bytes(n).slice()
  }

  typed (type: number, length: number, name: string): Uint8Array {
    const t = this.u8()
    if (t !== type) this.fail(`${name} has key type 0x${t.toString(16)}, expected 0x${type.toString(16)}`)
    return this.copy(length)
  }

  var16 (max: number): Uint8Array {
    const n = this.u16()
    if (n > max) this.fail('field too long')
    return this.copy(n)
  }

  var32 (max: number): Uint8Array {
    const n = this.u32()
    if (n > max) this.fail('field too long')
    return this.copy(n)
  }

  rest (): Uint8Array {
    return this.bytes(this.remaining)
  }

  end (): void {
    if (this.offset !== this.buf.length) this.fail('trailing bytes')
  }
}

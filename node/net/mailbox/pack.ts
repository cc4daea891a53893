/**
 * Pack files of the mailbox store: the envelopes of one put request (one or a batch), in one
 * file written to a temporary name and renamed into place, so a mailbox killed mid-put leaves
 * the whole request there or none of it (M4). Creating a file was most of what a put cost
 * (about half a millisecond of kernel time per file on the test VM, against tens of
 * microseconds for writing into or renaming one): one file per request instead of one per
 * envelope.
 *
 * Layout: magic "SOTTOPK1", then records `len u32 | live u8 | mailbox(32) | id(16) |
 * expiresAt u64 | sender tag(8) | envelope(len)`. Deleting an envelope (ack, expiry,
 * eviction) overwrites its record after `len` with zeros, live flag first, so its bytes and
 * its mailbox are really gone from the disk's file (M3), and the pack is unlinked once no
 * record in it is live.
 */
import { open, readFile } from 'node:fs/promises'
import { concatBytes, toHex } from '../../bytes.js'

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))

const MAGIC = new TextEncoder().encode('SOTTOPK1')
const HEADER = 4 + 1 + 32 + 16 + 8 + 8
export const PACK_NAME_RE = /^pack-[0-9a-z]+-[0-9a-f]{12}$/
/** Bytes a record of an envelope of `size` bytes takes in a pack. */
export const recordBytes = (size: number): number => HEADER + size

export interface PackRecord { mailbox: string, id: string, expiresAt: number, sender: string, envelope: Uint8Array }
/** A live record found in a pack: its fields and where it starts. */
export interface PackedRecord { mailbox: string, id: string, expiresAt: number, sender: string, size: number, offset: number }

/** The bytes of a pack, and each record's offset in it, in order. */
export function encodePack (records: readonly PackRecord[]): { bytes: Uint8Array, offsets: number[] } {
  const parts: Uint8Array[] = [MAGIC]
  const offsets: number[] = []
  let at = MAGIC.length
  for (const r of records) {
    const head = new Uint8Array(HEADER)
    const v = new DataView(head.buffer)
    v.setUint32(0, r.envelope.length)
    head[4] = 1
    head.set(hex(r.mailbox), 5)
    head.set(hex(r.id), 37)
    v.setBigUint64(53, BigInt(r.expiresAt))
    head.set(hex(r.sender.padStart(16, '0')), 61)
    parts.push(head, r.envelope)
    offsets.push(at)
    at += HEADER + r.envelope.length
  }
  return { bytes: concatBytes(...parts), offsets }
}

/** The live records of a pack file and its size; stops at the first record that does not fit (none should). */
export async function readPack (path: string): Promise<{ records: PackedRecord[], bytes: number }> {
  const b = new Uint8Array(await readFile(path))
  if (b.length < MAGIC.length || !MAGIC.every((x, n) => b[n] === x)) return { records: [], bytes: b.length }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: PackedRecord[] = []
  for (let at = MAGIC.length; at + HEADER <= b.length;) {
    const size = v.getUint32(at)
    if (at + HEADER + size > b.length) break
    if (b[at + 4] === 1) {
      out.push({ mailbox: toHex(b.subarray(at + 5, at + 37)), id: toHex(b.subarray(at + 37, at + 53)), expiresAt: Number(v.getBigUint64(at + 53)), sender: toHex(b.subarray(at + 61, at + 69)), size, offset: at })
    }
    at += HEADER + size
  }
  return { records: out, bytes: b.length }
}

/** One record's envelope, if it is still live and is the envelope `id`; else undefined. */
export async function readPacked (path: string, offset: number, size: number, id: string): Promise<Uint8Array | undefined> {
  const fh = await open(path, 'r')
  try {
    const b = new Uint8Array(HEADER + size)
    const { bytesRead } = await fh.read(b, 0, b.length, offset)
    if (bytesRead !== b.length || b[4] !== 1 || toHex(b.subarray(37, 53)) !== id) return undefined
    return b.slice(HEADER)
  } finally {
    await fh.close()
  }
}

/** Overwrites one record after its length with zeros: the live flag first, then the rest. */
export async function erasePacked (path: string, offset: number, size: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    await fh.write(new Uint8Array(1), 0, 1, offset + 4)
    await fh.write(new Uint8Array(HEADER - 5 + size), 0, HEADER - 5 + size, offset + 5)
  } finally {
    await fh.close()
  }
}

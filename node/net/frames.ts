/**
 * Length-prefixed frames over a libp2p stream: u32 BE length, then the frame. The reader
 * refuses a length above the protocol's maximum before allocating anything (T2), and a frame
 * that does not arrive in time resets the stream (T4). Frames start with a version byte; an
 * unknown version is a typed error (T5).
 */
import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { SottoError } from '../errors.js'
import { MAX_STREAM_WINDOW_BYTES } from './constants.js'

export class FrameError extends SottoError {}

export const FRAME_VERSION = 1

export function encodeFrame (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

/** Sends a frame, waiting for the stream to drain when its buffer is full. */
export async function writeFrame (stream: Stream, body: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
  if (!stream.send(encodeFrame(body))) await stream.onDrain(options)
}

/**
 * Most bytes one read of a stream brings: everything the peer may have in flight, the
 * stream's receive window at its largest (a slow reader gets the whole window in one read).
 */
const MAX_READ_BYTES = MAX_STREAM_WINDOW_BYTES

export class FrameReader {
  private readonly buffer = new Uint8ArrayList()
  private readonly source: AsyncIterator<Uint8Array | Uint8ArrayList>

  constructor (private readonly stream: Stream, private readonly maxFrame: number, private readonly timeoutMs: number) {
    this.source = stream[Symbol.asyncIterator]()
  }

  /** The next frame, or undefined at a clean end of stream. Throws FrameError otherwise. */
  async read (): Promise<Uint8Array | undefined> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new FrameError('ERR_FRAME_TIMEOUT', 'frame not received in time')), this.timeoutMs)
    })
    try {
      return await Promise.race([this.readFrame(), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private async readFrame (): Promise<Uint8Array | undefined> {
    if (!(await this.fill(4))) {
      if (this.buffer.byteLength === 0) return undefined
      throw new FrameError('ERR_FRAME_TRUNCATED', 'stream ended inside a frame header')
    }
    const length = this.buffer.getUint32(0)
    if (length > this.maxFrame) throw new FrameError('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds ${this.maxFrame}`)
    if (length === 0) throw new FrameError('ERR_FRAME_EMPTY', 'empty frame')
    if (!(await this.fill(4 + length))) throw new FrameError('ERR_FRAME_TRUNCATED', 'stream ended inside a frame')
    const frame = this.buffer.subarray(4, 4 + length)
    this.buffer.consume(4 + length)
    return frame
  }

  private async fill (bytes: number): Promise<boolean> {
    while (this.buffer.byteLength < bytes) {
      const next = await this.source.next()
      if (next.done === true) return false
      this.buffer.append(next.value)
      // One read may carry the start of the next frame too (a sender that writes frames back
      // to back), so the buffer may pass one frame by one read, and no more: a read is
      // bounded by the stream's receive window, whatever a peer sends.
      if (this.buffer.byteLength > bytes + MAX_READ_BYTES) throw new FrameError('ERR_FRAME_TOO_LARGE', 'peer sent more than one read allows')
    }
    return true
  }
}

/** Reads the version byte; an unknown one is a typed error. */
export function checkVersion (frame: Uint8Array, expected = FRAME_VERSION): Uint8Array {
  if (frame[0] !== expected) throw new FrameError('ERR_UNKNOWN_VERSION', `unknown frame version ${frame[0]}`)
  return frame.subarray(1)
}

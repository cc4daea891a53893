/**
 * Frees the memory of a buffer nobody else holds, now rather than at V8's next full
 * collection. A 64 KiB chunk lives outside the JS heap; the few small objects each one
 * makes seldom fill the young generation, so spent chunks piled up until their external
 * size forced a mark-compact of the whole heap, one every 100-150 ms during a transfer
 * (bench:attachments, --trace-gc), and they were a large part of the transfer's RSS growth.
 * Detaching (ArrayBuffer.prototype.transfer, ES2024) hands the memory back at once.
 *
 * Only for bytes this code made and alone refers to: the buffer must be exactly the view's
 * (offset 0, same length), so a view into a pool or into bytes shared with others is never
 * detached. After this the view is empty.
 */
export function release (bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }
  if (bytes.byteOffset !== 0 || buffer.byteLength !== bytes.byteLength || typeof buffer.transfer !== 'function') return
  if (buffer instanceof ArrayBuffer) buffer.transfer(0)
}

// An image's thumbnail, made here before the upload: the picture drawn small on a canvas and
// encoded as a data: URL of at most MAX_THUMBNAIL bytes (it travels inside the message, so the
// other side sees something at once). createImageBitmap reads the file itself: no blob: URL,
// so the page's CSP (img-src 'self' data:) needs nothing more.
import { MAX_THUMBNAIL } from './limits.js'

/** Longest side, then quality: tried in this order until the result fits. */
const SIDES = [64, 48, 40, 32, 24, 16]
const QUALITIES = [0.6, 0.4, 0.25]

/** Bytes a base64 data: URL decodes to. */
export function dataUrlBytes (url) {
  const b64 = url.slice(url.indexOf(',') + 1)
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0
  return Math.floor(b64.length * 3 / 4) - pad
}

/**
 * Answers a `data:image/webp;base64,…` (or jpeg where the browser cannot write WebP) URL, or
 * undefined when the file is not a picture this browser can read.
 * @param {Blob} file
 */
export async function makeThumbnail (file) {
  if (typeof createImageBitmap !== 'function' || !/^image\//.test(file.type)) return undefined
  let bitmap
  try {
    bitmap = await createImageBitmap(file)
  } catch {
    return undefined
  }
  try {
    const canvas = document.createElement('canvas')
    const ctx = canvas.getContext('2d')
    if (ctx === null) return undefined
    for (const side of SIDES) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height))
      canvas.width = Math.max(1, Math.round(bitmap.width * scale))
      canvas.height = Math.max(1, Math.round(bitmap.height * scale))
      // A transparent picture gets a light ground: JPEG has no alpha, and WebP's costs bytes.
      ctx.fillStyle = '#ffffff'
      ctx.fillRect(0, 0, canvas.width, canvas.height)
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height)
      for (const quality of QUALITIES) {
        let url = canvas.toDataURL('image/webp', quality)
        if (!url.startsWith('data:image/webp')) url = canvas.toDataURL('image/jpeg', quality)
        if (dataUrlBytes(url) <= MAX_THUMBNAIL) return url
      }
    }
    return undefined
  } finally {
    bitmap.close()
  }
}

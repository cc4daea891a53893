/**
 * The file references a text carries: `{ manifestId, key, name, size, mime, thumbnail? }`.
 * They come from a peer (inside the session, but a peer can still lie), so each field is
 * checked strictly; the name is cut to a safe shape before anything shows it.
 */
import { ParseError } from '../errors.js'
import { MAX_ATTACHMENTS_PER_MESSAGE, MAX_FILE_BYTES, MAX_MIME_LENGTH, MAX_NAME_LENGTH, MAX_THUMBNAIL_BYTES } from './constants.js'

export interface AttachmentRef { manifestId: string, key: string, name: string, size: number, mime: string, thumbnail?: string }

const HEX64 = /^[0-9a-f]{64}$/
const KEY_B64 = /^[A-Za-z0-9+/]{43}=$/
const MIME_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/
/** Raster images only: an SVG thumbnail could carry script. */
const THUMBNAIL_RE = /^data:image\/(png|jpeg|webp|gif);base64,([A-Za-z0-9+/]+={0,2})$/
// Control characters and path separators never reach a file name we show or save.
// eslint-disable-next-line no-control-regex
const NAME_BAD = /[\u0000-\u001f\u007f/\\]/g

export function cleanFileName (raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > MAX_NAME_LENGTH * 4) throw new ParseError('bad file name', 'ERR_PAYLOAD')
  const name = raw.replace(NAME_BAD, '_').trim().slice(0, MAX_NAME_LENGTH)
  return name === '' || name === '.' || name === '..' ? 'file' : name
}

export function cleanMime (raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > MAX_MIME_LENGTH) throw new ParseError('bad MIME type', 'ERR_PAYLOAD')
  const mime = raw.toLowerCase().split(';')[0].trim()
  return MIME_RE.test(mime) ? mime : 'application/octet-stream'
}

/** A `data:image/...;base64,` URL of at most MAX_THUMBNAIL_BYTES decoded, or a ParseError. */
export function checkThumbnail (raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 64 + Math.ceil(MAX_THUMBNAIL_BYTES / 3) * 4) throw new ParseError('bad thumbnail', 'ERR_PAYLOAD')
  const m = THUMBNAIL_RE.exec(raw)
  if (m === null || Buffer.from(m[2], 'base64').length > MAX_THUMBNAIL_BYTES) throw new ParseError('bad thumbnail', 'ERR_PAYLOAD')
  return raw
}

export function parseAttachmentRefs (raw: unknown): AttachmentRef[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_ATTACHMENTS_PER_MESSAGE) throw new ParseError('bad attachments', 'ERR_PAYLOAD')
  return raw.map((a: any) => {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new ParseError('bad attachment', 'ERR_PAYLOAD')
    if (typeof a.manifestId !== 'string' || !HEX64.test(a.manifestId)) throw new ParseError('bad attachment id', 'ERR_PAYLOAD')
    if (typeof a.key !== 'string' || !KEY_B64.test(a.key)) throw new ParseError('bad attachment key', 'ERR_PAYLOAD')
    if (!Number.isSafeInteger(a.size) || a.size < 0 || a.size > MAX_FILE_BYTES) throw new ParseError('bad attachment size', 'ERR_PAYLOAD')
    const ref: AttachmentRef = { manifestId: a.manifestId, key: a.key, name: cleanFileName(a.name), size: a.size, mime: cleanMime(a.mime) }
    if (a.thumbnail !== undefined) ref.thumbnail = checkThumbnail(a.thumbnail)
    return ref
  })
}

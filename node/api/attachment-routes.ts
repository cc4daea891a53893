/**
 * The attachment endpoints (docs/API.md "Attachments"): upload a file (raw bytes, streamed
 * into the store), download one (decrypted, streamed), retry a download. Sending a file is
 * POST /api/messages with `attachments` (routes.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError, withStatus as withStatusOf } from './errors.js'
import type { Route } from './server.js'
import type { AttachmentService } from '../attachments/service.js'
import { MAX_FILE_BYTES } from '../attachments/constants.js'
import { checkThumbnail, cleanFileName, cleanMime } from '../attachments/refs.js'

export interface AttachmentRoutesInit {
  /** The unlocked account's attachments (423 ERR_LOCKED otherwise). */
  attachments: () => AttachmentService
}

/** Types a browser may show inline: raster images only (HTML or SVG inline would run script). */
const INLINE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])
const STATUS: Record<string, number> = { ERR_UNKNOWN_ATTACHMENT: 404, ERR_ATTACHMENT_NOT_READY: 409, ERR_ATTACHMENT_TOO_LARGE: 413 }

async function withStatus<T> (work: Promise<T>): Promise<T> {
  return await withStatusOf(work, STATUS)
}

function header (req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function tooLarge (): ApiError {
  return new ApiError(413, 'ERR_ATTACHMENT_TOO_LARGE', 'a file may have at most 100 MiB')
}

/** The upload's name, type and thumbnail from its headers, checked like a peer's. */
function uploadMeta (req: IncomingMessage): { name: string, mime: string, thumbnail?: string } {
  let name: string
  try {
    name = cleanFileName(decodeURIComponent(header(req, 'x-sotto-name') ?? 'file'))
  } catch {
    throw new ApiError(400, 'ERR_BAD_REQUEST', 'X-Sotto-Name is an encodeURIComponent file name')
  }
  const mime = cleanMime(header(req, 'x-sotto-mime') ?? 'application/octet-stream')
  const thumb = header(req, 'x-sotto-thumbnail')
  if (thumb === undefined || thumb === '') return { name, mime }
  try {
    return { name, mime, thumbnail: checkThumbnail(thumb) }
  } catch {
    throw new ApiError(400, 'ERR_BAD_THUMBNAIL', 'X-Sotto-Thumbnail is a data:image/(png|jpeg|webp|gif);base64 URL of at most 1 KiB')
  }
}

/** The request body, refused past MAX_FILE_BYTES as it streams (a missing or false Content-Length too). */
async function * limitedBody (req: IncomingMessage): AsyncGenerator<Uint8Array> {
  let size = 0
  for await (const piece of req) {
    size += (piece as Buffer).length
    if (size > MAX_FILE_BYTES) throw tooLarge()
    yield piece as Buffer
  }
}

/** RFC 6266/5987 filename: ASCII fallback and the UTF-8 name. */
function disposition (name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`
}

/** Resolves when the response can take more, or is gone. */
async function drained (res: ServerResponse): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}

async function sendFile (service: AttachmentService, id: string, res: ServerResponse): Promise<void> {
  const { record, data } = await withStatus(service.open(id))
  const inline = INLINE.has(record.mime)
  res.writeHead(200, {
    'Content-Type': inline ? record.mime : (record.mime === 'text/html' || record.mime === 'image/svg+xml' ? 'application/octet-stream' : record.mime),
    'Content-Length': record.size,
    'Content-Disposition': inline ? 'inline' : disposition(record.name),
    'X-Content-Type-Options': 'nosniff'
  })
  try {
    for await (const piece of data) {
      if (!res.write(piece)) await drained(res)
      if (res.destroyed) return
    }
    res.end()
  } catch {
    // Headers are out: the client sees a cut response rather than a wrong file.
    res.destroy()
  }
}

export function attachmentRoutes (init: AttachmentRoutesInit): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/attachments',
      raw: true,
      handler: async (req) => {
        const incoming = req.incoming as IncomingMessage
        if (Number(header(incoming, 'content-length') ?? '0') > MAX_FILE_BYTES) throw tooLarge()
        const meta = uploadMeta(incoming)
        const service = init.attachments()
        const r = await withStatus(service.upload(limitedBody(incoming), meta))
        return { attachment: { id: r.id, name: r.name, size: r.size, mime: r.mime } }
      }
    },
    {
      method: 'GET',
      path: '/api/attachments/:id',
      raw: true,
      handler: async (req) => { await sendFile(init.attachments(), req.params.id, req.response as ServerResponse) }
    },
    {
      method: 'POST',
      path: '/api/attachments/:id/retry',
      handler: async (req) => {
        const r = await withStatus(init.attachments().retry(req.params.id))
        return { attachment: init.attachments().view({ manifestId: r.id, name: r.name, size: r.size, mime: r.mime, ...(r.thumbnail === undefined ? {} : { thumbnail: r.thumbnail }) }) }
      }
    }
  ]
}

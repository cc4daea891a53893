/**
 * What the CLI does with files: uploads one to the node (streamed from disk, never read whole
 * into memory) and names its type from its extension, as a browser would.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename, extname } from 'node:path'
import { Readable } from 'node:stream'
import type { ApiClient } from './client.js'
import { CliError } from './errors.js'

/** The node's limit (node/attachments/constants.ts), checked here first to say it plainly. */
export const MAX_FILE_BYTES = 100 * 1024 * 1024

const TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.pdf': 'application/pdf', '.txt': 'text/plain', '.md': 'text/markdown', '.zip': 'application/zip',
  '.json': 'application/json', '.mp3': 'audio/mpeg', '.mp4': 'video/mp4', '.html': 'text/html', '.svg': 'image/svg+xml'
}

export function mimeOf (path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream'
}

export interface Uploaded { id: string, name: string, size: number, mime: string }

export async function uploadFile (api: ApiClient, path: string): Promise<Uploaded> {
  let size: number
  try {
    const s = await stat(path)
    if (!s.isFile()) throw new CliError(`${path} is not a file`)
    size = s.size
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`cannot read ${path}`)
  }
  if (size > MAX_FILE_BYTES) throw new CliError('the file is too large (at most 100 MiB)')
  const res = await api.raw('POST', '/api/attachments', {
    body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), 'X-Sotto-Name': encodeURIComponent(basename(path)), 'X-Sotto-Mime': mimeOf(path) }
  })
  return ((await res.json()) as { attachment: Uploaded }).attachment
}

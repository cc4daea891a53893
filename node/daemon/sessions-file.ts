/**
 * `<data dir>/sessions.json` (0600): the browser sessions, kept so a browser stays signed in
 * across node restarts. It holds SHA-256 hashes of the cookie values and their expiry times,
 * never a cookie: a copy of the data folder signs no browser in. A file that does not parse
 * is treated as empty (every browser then needs a new link), never as an error.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SessionPersistence, StoredSession } from '../api/auth.js'
import { writeFileAtomic } from '../store/keyfile.js'

export const SESSIONS_FILE = 'sessions.json'
const VERSION = 1
const HASH = /^[A-Za-z0-9_-]{43}$/

export async function readSessions (dataDir: string): Promise<StoredSession[]> {
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(join(dataDir, SESSIONS_FILE), 'utf8'))
  } catch {
    return []
  }
  const file = raw as { v?: unknown, sessions?: unknown }
  if (file?.v !== VERSION || !Array.isArray(file.sessions)) return []
  return file.sessions.filter((s: Partial<StoredSession>): s is StoredSession =>
    typeof s?.hash === 'string' && HASH.test(s.hash) && typeof s.expiresAt === 'number' && Number.isFinite(s.expiresAt))
}

export function sessionsFile (dataDir: string): SessionPersistence {
  return {
    save: async (sessions) => {
      await writeFileAtomic(join(dataDir, SESSIONS_FILE), JSON.stringify({ v: VERSION, sessions }) + '\n', 0o600)
    }
  }
}

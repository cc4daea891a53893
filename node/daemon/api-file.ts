/**
 * `<data dir>/api.json` (0600): how the CLI finds the running node and proves it may use it.
 * Written atomically at start, removed at a clean stop; a stale file (node killed) is
 * detected by the CLI when the port does not answer.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../store/keyfile.js'

export const API_FILE = 'api.json'

export interface ApiFile { port: number, token: string, pid: number }

export async function writeApiFile (dataDir: string, file: ApiFile): Promise<void> {
  await writeFileAtomic(join(dataDir, API_FILE), JSON.stringify(file) + '\n', 0o600)
}

export async function readApiFile (dataDir: string): Promise<ApiFile | undefined> {
  try {
    const raw = JSON.parse(await readFile(join(dataDir, API_FILE), 'utf8'))
    if (typeof raw?.port !== 'number' || typeof raw?.token !== 'string') return undefined
    return { port: raw.port, token: raw.token, pid: Number(raw.pid) }
  } catch {
    return undefined
  }
}

export async function removeApiFile (dataDir: string): Promise<void> {
  await rm(join(dataDir, API_FILE), { force: true })
}

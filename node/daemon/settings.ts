/**
 * Node settings that must be readable before the account is unlocked (the node joins the
 * network first): `<data dir>/config.json`, 0600. Nothing in it names a contact.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../store/keyfile.js'
import type { Settings } from '../api/routes.js'

export const CONFIG_FILE = 'config.json'
export const DEFAULT_SETTINGS: Settings = { idleLockMinutes: 15, bootstrap: [] }

export async function readSettings (dataDir: string): Promise<Settings> {
  try {
    const raw = JSON.parse(await readFile(join(dataDir, CONFIG_FILE), 'utf8'))
    return {
      idleLockMinutes: Number.isInteger(raw.idleLockMinutes) ? raw.idleLockMinutes : DEFAULT_SETTINGS.idleLockMinutes,
      bootstrap: Array.isArray(raw.bootstrap) ? raw.bootstrap.filter((b: unknown) => typeof b === 'string') : []
    }
  } catch {
    return { ...DEFAULT_SETTINGS }
  }
}

export async function writeSettings (dataDir: string, settings: Settings): Promise<void> {
  await writeFileAtomic(join(dataDir, CONFIG_FILE), JSON.stringify(settings, null, 2) + '\n')
}

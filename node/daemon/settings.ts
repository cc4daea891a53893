/**
 * Node settings that must be readable before the account is unlocked (the node joins the
 * network first): `<data dir>/config.json`, 0600. Nothing in it names a contact. The web
 * UI's own fields (theme, notifications) are kept here too, with the same lock on reading
 * and changing them (A7).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../store/keyfile.js'
import type { Settings } from '../api/routes.js'
import { DEFAULT_UI_SETTINGS, storedUiSettings, type UiSettings } from '../api/account-routes.js'
import { DEFAULT_CALL_SETTINGS, storedCallSettings } from '../calls/settings.js'

export const CONFIG_FILE = 'config.json'

/** Everything config.json holds: the node's settings and the web UI's. */
export type StoredSettings = Settings & UiSettings

export const DEFAULT_SETTINGS: StoredSettings = { idleLockMinutes: 15, bootstrap: [], ...DEFAULT_UI_SETTINGS, ...DEFAULT_CALL_SETTINGS }

export async function readSettings (dataDir: string): Promise<StoredSettings> {
  try {
    const raw = JSON.parse(await readFile(join(dataDir, CONFIG_FILE), 'utf8'))
    return {
      idleLockMinutes: Number.isInteger(raw.idleLockMinutes) ? raw.idleLockMinutes : DEFAULT_SETTINGS.idleLockMinutes,
      bootstrap: Array.isArray(raw.bootstrap) ? raw.bootstrap.filter((b: unknown) => typeof b === 'string') : [],
      ...storedUiSettings(raw),
      ...storedCallSettings(raw)
    }
  } catch {
    return { ...DEFAULT_SETTINGS }
  }
}

export async function writeSettings (dataDir: string, settings: StoredSettings): Promise<void> {
  await writeFileAtomic(join(dataDir, CONFIG_FILE), JSON.stringify(settings, null, 2) + '\n')
}

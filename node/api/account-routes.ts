/**
 * The account's own endpoints beyond create/restore/unlock (docs/API.md, "Account and
 * settings"): changing the passphrase and showing the recovery phrase again, both behind the
 * current passphrase and the unlock throttle; and the web UI's settings fields, validated here
 * for the settings PUT.
 */
import { ApiError } from './errors.js'
import type { Route } from './server.js'

/** Longest passphrase the API reads (as for create and unlock). */
const MAX_PASSPHRASE_CHARS = 1024

export const THEMES = ['system', 'light', 'dark'] as const
export type Theme = typeof THEMES[number]

/** Settings that only the web UI reads; kept with the others in config.json. */
export interface UiSettings {
  /** 'system' follows the operating system's dark mode. */
  theme: Theme
  /** Desktop notifications for new messages (the browser still asks its own permission). */
  notifications: boolean
}

export const DEFAULT_UI_SETTINGS: UiSettings = { theme: 'system', notifications: true }

/** What the account routes need of the running node. */
export interface AccountController {
  /** ERR_WRONG_PASSPHRASE (401) for a wrong current one; throttled like unlock. */
  changePassphrase: (current: string, next: string) => Promise<void>
  /** The 12 (or 24) words, after the passphrase is checked; throttled like unlock. */
  recoveryPhrase: (passphrase: string) => Promise<string>
}

function field (body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined
}

function passphraseField (body: unknown, name: string): string {
  const v = field(body, name)
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_PASSPHRASE_CHARS) throw new ApiError(400, 'ERR_BAD_REQUEST', `"${name}" must be a passphrase (1 to ${MAX_PASSPHRASE_CHARS} characters)`)
  return v
}

export function accountRoutes (account: AccountController): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/account/passphrase',
      handler: async (req) => {
        await account.changePassphrase(passphraseField(req.body, 'current'), passphraseField(req.body, 'next'))
        return {}
      }
    },
    {
      method: 'POST',
      path: '/api/account/phrase',
      handler: async (req) => ({ phrase: await account.recoveryPhrase(passphraseField(req.body, 'passphrase')) })
    }
  ]
}

/**
 * The UI fields of a settings PUT body, checked: only those present are returned; a wrong
 * one is a 400 ERR_BAD_REQUEST before anything is changed.
 */
export function uiSettingsChange (body: unknown): Partial<UiSettings> {
  const change: Partial<UiSettings> = {}
  const theme = field(body, 'theme')
  if (theme !== undefined) {
    if (!THEMES.includes(theme as Theme)) throw new ApiError(400, 'ERR_BAD_REQUEST', `theme is one of ${THEMES.join(', ')}`)
    change.theme = theme as Theme
  }
  const notifications = field(body, 'notifications')
  if (notifications !== undefined) {
    if (typeof notifications !== 'boolean') throw new ApiError(400, 'ERR_BAD_REQUEST', 'notifications is true or false')
    change.notifications = notifications
  }
  return change
}

/** The UI fields as stored in config.json: anything unknown or malformed falls back to its default. */
export function storedUiSettings (raw: unknown): UiSettings {
  const theme = field(raw, 'theme')
  const notifications = field(raw, 'notifications')
  return {
    theme: THEMES.includes(theme as Theme) ? theme as Theme : DEFAULT_UI_SETTINGS.theme,
    notifications: typeof notifications === 'boolean' ? notifications : DEFAULT_UI_SETTINGS.notifications
  }
}

/**
 * Where a node keeps its data: `--data-dir`, else SOTTO_DATA_DIR, else the platform's
 * per-user data folder (XDG_DATA_HOME on Linux, Application Support on macOS, APPDATA on
 * Windows). Folders Sotto creates are 0700 (C2).
 */
import { mkdir, chmod, stat } from 'node:fs/promises'
import { homedir, platform } from 'node:os'
import { join } from 'node:path'

export function defaultDataDir (env: NodeJS.ProcessEnv = process.env, os = platform(), home = homedir()): string {
  if (os === 'darwin') return join(home, 'Library', 'Application Support', 'Sotto')
  if (os === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Sotto')
  const xdg = env.XDG_DATA_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(home, '.local', 'share'), 'sotto')
}

export function resolveDataDir (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return flag
  if (env.SOTTO_DATA_DIR !== undefined && env.SOTTO_DATA_DIR !== '') return env.SOTTO_DATA_DIR
  return defaultDataDir(env)
}

/** Creates the folder (and parents) if needed and makes sure only the user can enter it. */
export async function ensurePrivateDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const s = await stat(dir)
  if ((s.mode & 0o077) !== 0 && platform() !== 'win32') await chmod(dir, 0o700)
}

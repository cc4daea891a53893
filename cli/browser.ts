/**
 * Opens a sign-in link in the user's browser, where there is one: `open` on macOS, Explorer
 * on Windows (what `start` does, without cmd's quoting rules), `xdg-open` elsewhere when a display is set (DISPLAY or WAYLAND_DISPLAY).
 * SOTTO_NO_BROWSER=1 (set by the tests) or --no-browser skips it. It never fails: without an
 * opener the printed link is all there is.
 *
 * The link is not given to the opener on its command line: argv is visible to every user of
 * the computer (ps), and someone watching could spend the one-time link before the browser
 * does. The opener gets a file instead, 0600 in the data folder, that sends the browser on to
 * the link (as Jupyter does for the same reason).
 */
import { spawn as nodeSpawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { writeFileAtomic } from '../node/store/keyfile.js'

/** The page the opener is given; rewritten by each `sotto open`. */
export const OPEN_PAGE_FILE = 'open-link.html'

/** The part of a ChildProcess used here: it either spawns or fails (ENOENT when no such program). */
export interface StartedOpener {
  once: (event: 'spawn' | 'error', listener: () => void) => unknown
  unref: () => void
}
export type Spawner = (command: string, args: string[]) => StartedOpener

export interface OpenOptions {
  env: NodeJS.ProcessEnv
  platform?: NodeJS.Platform
  /** Where the page for the opener is written (the data folder). */
  dataDir: string
  /** Starts the opener; tests pass their own. */
  spawn?: Spawner
}

/** The opener for this platform and environment, or undefined (none, or turned off). */
export function opener (env: NodeJS.ProcessEnv, platform: NodeJS.Platform): { command: string, args: string[] } | undefined {
  if (env.SOTTO_NO_BROWSER !== undefined && env.SOTTO_NO_BROWSER !== '' && env.SOTTO_NO_BROWSER !== '0') return undefined
  if (platform === 'darwin') return { command: 'open', args: [] }
  if (platform === 'win32') return { command: 'explorer.exe', args: [] }
  if ((env.DISPLAY ?? '') !== '' || (env.WAYLAND_DISPLAY ?? '') !== '') return { command: 'xdg-open', args: [] }
  return undefined
}

/** A page that sends the browser straight on to the link (no script: a plain meta refresh, and a link to click). */
export function redirectPage (url: string): string {
  const safe = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${safe}"><title>Opening Sotto…</title></head>
<body><p><a href="${safe}">Open Sotto</a></p></body></html>
`
}

/**
 * Asks the system to open the link in a browser. True if an opener was started (whether a
 * browser then appears is up to the system); false if there is none or it is turned off.
 */
export async function openInBrowser (url: string, options: OpenOptions): Promise<boolean> {
  const platform = options.platform ?? process.platform
  const how = opener(options.env, platform)
  if (how === undefined) return false
  const page = join(options.dataDir, OPEN_PAGE_FILE)
  try {
    await writeFileAtomic(page, redirectPage(url), 0o600)
  } catch {
    return false
  }
  const spawn: Spawner = options.spawn ?? ((command, args) => nodeSpawn(command, args, { detached: true, stdio: 'ignore' }))
  let child: StartedOpener
  try {
    child = spawn(how.command, [...how.args, platform === 'win32' ? page : pathToFileURL(page).href])
  } catch {
    return false
  }
  // The opener runs on after we exit; no opener installed (ENOENT) is no error: the printed link is enough.
  child.unref()
  return await new Promise<boolean>((resolve) => {
    child.once('spawn', () => { resolve(true) })
    child.once('error', () => { resolve(false) })
  })
}

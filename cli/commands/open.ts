import { openInBrowser } from '../browser.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { err, out } from '../io.js'

export const command: Command = {
  help: `sotto open [--no-browser] [--data-dir DIR] [--json]

Prints a new link to the running node's web UI (http://127.0.0.1:PORT/?token=...) and opens
it in your browser when there is one (a desktop session: macOS, Windows, or DISPLAY /
WAYLAND_DISPLAY set). --no-browser, --json or SOTTO_NO_BROWSER=1 only print it.

Each link signs in one browser, once: opening it trades it for a session, and after that
the same link only says it was used. A signed-in browser stays signed in for 30 days of
disuse, across node restarts, so you need this for a new browser, or after a long break.
Only someone who can read the data folder can get one: the request is made with the API
token in <data dir>/api.json.`,
  flags: { browser: 'boolean' },
  async run ({ io, flags, dataDir }) {
    const api = await connect(dataDir)
    const { url } = await api.post<{ url: string }>('/api/link')
    if (flags.json === true) { out(io, JSON.stringify({ url })); return 0 }
    out(io, url)
    if (flags.browser !== false && await openInBrowser(url, { env: io.env, dataDir })) {
      err(io, 'Opening it in your browser. (Once opened there, the link above is used up.)')
    }
    return 0
  }
}

import { connect } from '../client.js'
import type { Command } from '../command.js'
import { out } from '../io.js'

export const command: Command = {
  help: `sotto open [--data-dir DIR] [--json]

Prints a new link to the running node's web UI (http://127.0.0.1:PORT/?token=...). Each
link signs in one browser, once: opening it trades it for a session, and after that the
same link only says it was used. Run this when the link \`sotto start\` printed was used
already, or for a second browser. Only someone who can read the data folder can get one:
the request is made with the API token in <data dir>/api.json.`,
  flags: {},
  async run ({ io, flags, dataDir }) {
    const api = await connect(dataDir)
    const { url } = await api.post<{ url: string }>('/api/link')
    out(io, flags.json === true ? JSON.stringify({ url }) : url)
    return 0
  }
}

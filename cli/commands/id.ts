import { openAccount } from '../../node/store/account.js'
import type { Command } from '../command.js'
import { out } from '../io.js'
import { readPassphrase } from '../secrets.js'

export const command: Command = {
  help: `sotto id [--data-dir DIR] [--passphrase-file F] [--json]

Prints the Session ID of the account in the data folder. The folder reveals nothing
without the passphrase, not even whose it is, so the passphrase is asked for.`,
  flags: {},
  async run ({ io, flags, dataDir }) {
    const passphrase = await readPassphrase(io, flags)
    const account = await openAccount(dataDir, passphrase)
    const sessionId = account.identity.sessionId
    await account.close()
    out(io, flags.json === true ? JSON.stringify({ sessionId }) : sessionId)
    return 0
  }
}

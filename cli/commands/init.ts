import { randomBytes } from 'node:crypto'
import { entropyToPhrase } from '../../node/identity/phrase.js'
import { accountExists, createAccount } from '../../node/store/account.js'
import { wipe } from '../../node/bytes.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { err, out } from '../io.js'
import { readNewPassphrase } from '../secrets.js'

export const command: Command = {
  help: `sotto init [--data-dir DIR] [--passphrase-file F] [--json]

Creates a new account: a fresh 12-word recovery phrase, shown once, and the Session ID
that others use to reach you. Write the phrase down: it is the only way back into the
account on a new machine or if you forget the passphrase. The passphrase locks the
data folder on this machine.`,
  flags: {},
  async run ({ io, flags, dataDir }) {
    if (await accountExists(dataDir)) {
      throw new CliError(`an account already exists in ${dataDir}; nothing was changed`, EXIT_REFUSED)
    }
    const passphrase = await readNewPassphrase(io, flags)
    const entropy = new Uint8Array(randomBytes(16))
    const account = await createAccount(dataDir, passphrase, entropy)
    const phrase = entropyToPhrase(entropy)
    wipe(entropy)
    const sessionId = account.identity.sessionId
    await account.close()
    if (flags.json === true) {
      out(io, JSON.stringify({ sessionId, phrase, dataDir }))
      return 0
    }
    const words = phrase.split(' ')
    out(io, 'Your recovery phrase. Write it down and keep it safe: it is shown only this once.')
    out(io)
    for (let row = 0; row < words.length; row += 4) {
      out(io, '  ' + words.slice(row, row + 4).map((w, i) => `${String(row + i + 1).padStart(2)}. ${w.padEnd(9)}`).join(' '))
    }
    out(io)
    out(io, `Your Session ID: ${sessionId}`)
    err(io, `Account created in ${dataDir}`)
    return 0
  }
}

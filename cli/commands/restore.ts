import { phraseToEntropy } from '../../node/identity/phrase.js'
import { accountExists, createAccount } from '../../node/store/account.js'
import { wipe } from '../../node/bytes.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { ask, err, out } from '../io.js'
import { readNewPassphrase } from '../secrets.js'

export const command: Command = {
  help: `sotto restore [--data-dir DIR] [--passphrase-file F] [--json]

Restores an account from its 12- or 24-word recovery phrase, typed at the prompt or
piped on stdin (never as an argument: it would show in the process list). You get the
same Session ID as before, so your contacts keep reaching you.`,
  flags: {},
  async run ({ io, flags, dataDir }) {
    if (await accountExists(dataDir)) {
      throw new CliError(`an account already exists in ${dataDir}; nothing was changed`, EXIT_REFUSED)
    }
    const phrase = await ask(io, 'Recovery phrase (12 or 24 words): ', { hidden: true })
    if (phrase === undefined || phrase.trim() === '') throw new CliError('no recovery phrase given')
    // Checked before the passphrase is asked for, so a typo is reported at once.
    const entropy = phraseToEntropy(phrase)
    const passphrase = await readNewPassphrase(io, flags)
    const account = await createAccount(dataDir, passphrase, entropy)
    wipe(entropy)
    const sessionId = account.identity.sessionId
    await account.close()
    if (flags.json === true) out(io, JSON.stringify({ sessionId, dataDir }))
    else {
      out(io, `Your Session ID: ${sessionId}`)
      err(io, `Account restored in ${dataDir}`)
    }
    return 0
  }
}

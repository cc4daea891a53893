import { changePassphrase } from '../../node/store/account.js'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { err, out } from '../io.js'
import { NEW, readNewPassphrase, readPassphrase } from '../secrets.js'

export const command: Command = {
  help: `sotto passwd [--data-dir DIR] [--passphrase-file F] [--new-passphrase-file F2]

Changes the passphrase that locks the data folder. Only the wrapped key is rewritten;
messages and keys stay as they are. For scripts: the current passphrase from
--passphrase-file or SOTTO_PASSPHRASE, the new one from --new-passphrase-file or
SOTTO_NEW_PASSPHRASE.`,
  flags: { 'new-passphrase-file': 'string' },
  async run ({ io, flags, dataDir }) {
    const current = await readPassphrase(io, flags, 'Current passphrase: ')
    const next = await readNewPassphrase(io, flags, 'New passphrase: ', NEW)
    if (next === current) throw new CliError('the new passphrase is the same as the current one')
    await changePassphrase(dataDir, current, next)
    if (flags.json === true) out(io, JSON.stringify({ changed: true }))
    else err(io, 'Passphrase changed.')
    return 0
  }
}

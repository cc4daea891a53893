import type { Message } from '../../node/messaging/message-log.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { out } from '../io.js'

export const command: Command = {
  help: `sotto send CONTACT TEXT [--data-dir DIR] [--json]

Sends TEXT to CONTACT (a Session ID or a contact's name) through the running node, and
says what happened: delivered, stored for later, or failed.`,
  flags: {},
  async run ({ io, flags, positionals, dataDir }) {
    const [to, ...words] = positionals
    const text = words.join(' ')
    if (to === undefined || text === '') throw new CliError('usage: sotto send CONTACT TEXT')
    const api = await connect(dataDir)
    const { message } = await api.post<{ message: Message }>('/api/messages', { to, text })
    if (flags.json === true) out(io, JSON.stringify(message))
    else if (message.state === 'stored') out(io, `stored (${message.mailboxes ?? 0} mailboxes${message.storedUntil !== undefined ? `, until ${new Date(message.storedUntil).toLocaleString()}` : ''})`)
    else out(io, message.state === 'failed' && message.error !== undefined ? `failed (${message.error})` : message.state)
    return message.state === 'failed' ? EXIT_REFUSED : 0
  }
}

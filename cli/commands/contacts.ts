import type { Contact } from '../../node/messaging/contacts.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { out } from '../io.js'
import { stringFlag } from '../args.js'
import { safeForTerminal } from '../terminal-text.js'

export const command: Command = {
  help: `sotto contacts [list]                      list contacts and message requests
sotto contacts add SESSION_ID --name NAME   add a contact
sotto contacts accept SESSION_ID            accept a message request
sotto contacts block SESSION_ID             block (their messages are dropped)
sotto contacts unblock SESSION_ID
sotto contacts remove SESSION_ID

Talks to the running node (sotto start). --json prints JSON.`,
  flags: { name: 'string' },
  async run ({ io, flags, positionals, dataDir }) {
    const [sub = 'list', id] = positionals
    const api = await connect(dataDir)
    const need = () => { if (id === undefined) throw new CliError(`sotto contacts ${sub} needs a Session ID`); return encodeURIComponent(id) }
    let contact: Contact | undefined
    switch (sub) {
      case 'list': {
        const { contacts } = await api.get<{ contacts: Contact[] }>('/api/contacts')
        if (flags.json === true) { out(io, JSON.stringify(contacts)); return 0 }
        if (contacts.length === 0) out(io, 'No contacts yet. Add one: sotto contacts add SESSION_ID --name NAME')
        for (const c of contacts) {
          const tags = [c.state !== 'accepted' ? c.state : '', c.verified ? 'verified' : '', c.identityChanged ? 'IDENTITY CHANGED' : '', c.unread > 0 ? `${c.unread} unread` : ''].filter(Boolean)
          out(io, `${safeForTerminal(c.name).padEnd(16)} ${c.sessionId}${tags.length > 0 ? '  [' + tags.join(', ') + ']' : ''}`)
        }
        return 0
      }
      case 'add': {
        const name = stringFlag(flags, 'name')
        if (id === undefined || name === undefined) throw new CliError('usage: sotto contacts add SESSION_ID --name NAME')
        contact = (await api.post<{ contact: Contact }>('/api/contacts', { sessionId: id, name })).contact
        break
      }
      case 'accept': contact = (await api.put<{ contact: Contact }>(`/api/contacts/${need()}`, { state: 'accepted' })).contact; break
      case 'block': contact = (await api.put<{ contact: Contact }>(`/api/contacts/${need()}`, { state: 'blocked' })).contact; break
      case 'unblock': contact = (await api.put<{ contact: Contact }>(`/api/contacts/${need()}`, { state: 'accepted' })).contact; break
      case 'remove': await api.del(`/api/contacts/${need()}`); out(io, flags.json === true ? '{}' : 'Removed.'); return 0
      default: throw new CliError(`unknown subcommand "contacts ${sub}" (see sotto contacts --help)`)
    }
    out(io, flags.json === true ? JSON.stringify(contact) : `${safeForTerminal(contact.name)} (${contact.sessionId}): ${contact.state}`)
    return 0
  }
}

import type { Contact } from '../../node/messaging/contacts.js'
import { ApiCallError, connect } from '../client.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { out } from '../io.js'
import { stringFlag } from '../args.js'
import { fitToWidth, safeForTerminal } from '../terminal-text.js'
import { runTimer, TIMER_HELP } from './contacts-timer.js'
import { durationWords, type ContactTimer } from '../timer.js'

/** Width of the name column in `contacts list`; longer names are cut with "…". */
export const NAME_COLUMN = 24

export const command: Command = {
  help: `sotto contacts [list]                        list contacts and message requests
sotto contacts add SESSION_ID [--name NAME]   add a contact (the name is yours to choose)
sotto contacts accept SESSION_ID              accept a message request
sotto contacts block SESSION_ID               block (their messages are dropped)
sotto contacts unblock SESSION_ID
sotto contacts remove SESSION_ID
${TIMER_HELP}

CONTACT is a contact's name or Session ID. Talks to the running node (sotto start).
--json prints JSON (timer: the contact's timer, {mode, seconds, version, changedAt, changedBy}).`,
  flags: { name: 'string', 'after-read': 'boolean', 'after-send': 'boolean' },
  async run (ctx) {
    const { io, flags, positionals, dataDir } = ctx
    const [sub = 'list', id] = positionals
    // Checks its arguments before it connects: a bad duration is said without a running node.
    if (sub === 'timer') return await runTimer(ctx, positionals.slice(1))
    // `contacts add ID Bob` would add the contact without the name the user meant to give it.
    if (sub === 'add' && positionals.length > 2) throw new CliError(`sotto contacts add takes one Session ID; give the name with --name, e.g. sotto contacts add SESSION_ID --name ${safeForTerminal(positionals.slice(2).join(' '))}`)
    const api = await connect(dataDir)
    const need = () => { if (id === undefined) throw new CliError(`sotto contacts ${sub} needs a Session ID`); return encodeURIComponent(id) }
    let contact: Contact | undefined
    switch (sub) {
      case 'list': {
        const { contacts } = await api.get<{ contacts: Contact[] }>('/api/contacts')
        if (flags.json === true) { out(io, JSON.stringify(contacts)); return 0 }
        if (contacts.length === 0) out(io, 'No contacts yet. Add one: sotto contacts add SESSION_ID [--name NAME]')
        for (const c of contacts) out(io, listLine(c))
        return 0
      }
      case 'add': {
        if (id === undefined) throw new CliError('usage: sotto contacts add SESSION_ID [--name NAME]')
        const name = stringFlag(flags, 'name')
        contact = (await api.post<{ contact: Contact }>('/api/contacts', name === undefined ? { sessionId: id } : { sessionId: id, name })).contact
        break
      }
      case 'accept': contact = (await api.put<{ contact: Contact }>(`/api/contacts/${need()}`, { state: 'accepted' })).contact; break
      case 'block': contact = (await api.put<{ contact: Contact }>(`/api/contacts/${need()}`, { state: 'blocked' })).contact; break
      case 'unblock': contact = (await api.put<{ contact: Contact }>(`/api/contacts/${need()}`, { state: 'accepted' })).contact; break
      case 'remove': {
        const path = `/api/contacts/${need()}`
        await api.del(path).catch((e: unknown) => {
          if (e instanceof ApiCallError && e.code === 'ERR_UNKNOWN_CONTACT') throw new CliError(`${safeForTerminal(id ?? '')} is not one of your contacts; nothing was removed`, EXIT_REFUSED)
          throw e
        })
        out(io, flags.json === true ? '{}' : 'Removed.')
        return 0
      }
      default: throw new CliError(`unknown subcommand "contacts ${sub}" (see sotto contacts --help)`)
    }
    out(io, flags.json === true ? JSON.stringify(contact) : `${safeForTerminal(shownName(contact))} (${contact.sessionId}): ${contact.state}`)
    return 0
  }
}

/** The name to show: the one the node computed (local, else shared), else the local one. */
function shownName (c: Contact): string {
  const shown = (c as { displayName?: string }).displayName
  return shown !== undefined && shown !== '' ? shown : c.name
}

/** One line of `contacts list`: the name in a fixed-width column, the Session ID, then tags. */
export function listLine (c: Contact): string {
  const tags = [c.state !== 'accepted' ? c.state : '', c.verified ? 'verified' : '', c.identityChanged ? 'IDENTITY CHANGED' : '', c.unread > 0 ? `${c.unread} unread` : '', timerTag(c)].filter(Boolean)
  return `${fitToWidth(safeForTerminal(shownName(c)), NAME_COLUMN)}  ${c.sessionId}${tags.length > 0 ? '  [' + tags.join(', ') + ']' : ''}`
}

/** "⏱ 5 minutes after reading" for a conversation whose messages disappear; '' otherwise. */
function timerTag (c: Contact): string {
  const t = (c as Contact & { timer?: ContactTimer }).timer
  if (t === undefined || t.mode === 'off' || t.seconds <= 0) return ''
  return `⏱ ${durationWords(t.seconds)} after ${t.mode === 'after-read' ? 'reading' : 'sending'}`
}

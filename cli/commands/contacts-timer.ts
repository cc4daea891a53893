/**
 * `sotto contacts timer CONTACT DURATION|off [--after-read]`: sets the disappearing-messages
 * timer of a conversation on the running node (PUT /api/contacts/:id/timer), which sends the
 * change to the contact inside the session. Dispatched from commands/contacts.ts; the
 * arguments are checked before the node is asked, so a bad duration needs no running node.
 */
import type { CommandContext } from '../command.js'
import { ApiCallError, connect } from '../client.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { out } from '../io.js'
import { requireContact, type ContactEntry } from '../targets.js'
import { safeForTerminal } from '../terminal-text.js'
import { parseTimerArgs, timerSentence, type ContactTimer } from '../timer.js'

export const TIMER_HELP = `sotto contacts timer CONTACT DURATION [--after-read]
                                              messages with CONTACT disappear DURATION after
                                              sending (or after reading); DURATION: 30s, 5m,
                                              1h, 1d, 1w (1 second to 1 week)
sotto contacts timer CONTACT off              messages no longer disappear`

interface TimedContact extends ContactEntry { displayName?: string, timer?: ContactTimer }

export async function runTimer ({ io, flags, dataDir }: CommandContext, args: readonly string[]): Promise<number> {
  const { contact: target, setting } = parseTimerArgs(args, flags)
  const api = await connect(dataDir)
  const { contacts } = await api.get<{ contacts: TimedContact[] }>('/api/contacts')
  const sessionId = requireContact(contacts, target)
  let contact: TimedContact
  try {
    contact = (await api.put<{ contact: TimedContact }>(`/api/contacts/${encodeURIComponent(sessionId)}/timer`, setting)).contact
  } catch (e) {
    if (e instanceof ApiCallError && e.code === 'ERR_UNKNOWN_CONTACT') throw new CliError(`${safeForTerminal(target)} is not one of your contacts; add them first (sotto contacts add)`, EXIT_REFUSED)
    // A node from before disappearing messages has no such route.
    if (e instanceof ApiCallError && e.code === 'ERR_NOT_FOUND') throw new CliError('this node does not know disappearing messages yet; update Sotto and start it again', EXIT_REFUSED)
    throw e
  }
  // The node answers what it now holds: a concurrent change by the contact may have won.
  const timer = contact.timer ?? { ...setting, version: 0, changedAt: 0, changedBy: null }
  if (flags.json === true) out(io, JSON.stringify(timer))
  else out(io, timerSentence(contact.displayName ?? (contact.name !== '' ? contact.name : `${sessionId.slice(0, 10)}…`), timer))
  return 0
}

/**
 * Who a command line names: a contact (Session ID or name) or a group (id or name), by the
 * node's own rules (ContactBook.resolve and GroupManager.resolve), over the lists the API
 * gives. Pure, so the rules are tested as tables (test/cli/targets.test.ts); a name that
 * names two things is refused here rather than guessed.
 */
import { CliError, EXIT_REFUSED } from './errors.js'
import { safeForTerminal } from './terminal-text.js'

export interface ContactEntry { sessionId: string, name: string, profileName?: string, state: string }

/** A group as GET /api/groups lists it (the fields the CLI reads). */
export interface GroupEntry {
  id: string
  name: string
  members: string[]
  admins: string[]
  state?: 'request'
  removed?: true
  left?: true
}

const SESSION_ID = /^05[0-9a-fA-F]{64}$/
const GROUP_ID = /^[0-9a-f]{64}$/

const shown = (s: string): string => safeForTerminal(s)

/**
 * The contact `idOrName` names: a Session ID (a contact or not), else the contact with that
 * local name, else the accepted contact without a local name whose shared name it is
 * (case-insensitive). Undefined when nothing matches; a name two contacts share is refused.
 */
export function matchContact (contacts: readonly ContactEntry[], idOrName: string): string | undefined {
  const trimmed = idOrName.trim()
  if (SESSION_ID.test(trimmed)) return trimmed.toLowerCase()
  const wanted = trimmed.toLowerCase()
  let matches = contacts.filter((c) => c.name !== '' && c.name.toLowerCase() === wanted)
  if (matches.length === 0) matches = contacts.filter((c) => c.name === '' && c.state === 'accepted' && c.profileName?.toLowerCase() === wanted)
  if (matches.length > 1) throw new CliError(`more than one contact is called "${shown(idOrName)}"; use the Session ID`, EXIT_REFUSED)
  return matches[0]?.sessionId
}

/** Like matchContact, but nothing found is an error that says what a CONTACT may be. */
export function requireContact (contacts: readonly ContactEntry[], idOrName: string): string {
  const found = matchContact(contacts, idOrName)
  if (found === undefined) throw new CliError(`no contact called "${shown(idOrName)}" (and it is not a Session ID)`, EXIT_REFUSED)
  return found
}

/**
 * The group `idOrName` names: its id, else its name (case-insensitive) among the groups we
 * are in or are invited to, else among those we left or were removed from. Undefined when
 * none; a name two groups share is refused.
 */
export function matchGroup (groups: readonly GroupEntry[], idOrName: string): GroupEntry | undefined {
  const trimmed = idOrName.trim()
  if (GROUP_ID.test(trimmed)) return groups.find((g) => g.id === trimmed)
  const wanted = trimmed.toLowerCase()
  const named = groups.filter((g) => g.name.toLowerCase() === wanted)
  // A group one was removed from (or left) still answers to its name when no current one does.
  const current = named.filter((g) => g.removed !== true)
  const matches = current.length > 0 ? current : named
  if (matches.length > 1) throw new CliError(`more than one group is called "${shown(idOrName)}"; use the group id (sotto groups list)`, EXIT_REFUSED)
  return matches[0]
}

export function requireGroup (groups: readonly GroupEntry[], idOrName: string): GroupEntry {
  const found = matchGroup(groups, idOrName)
  if (found === undefined) throw new CliError(`no group called "${shown(idOrName)}" (see sotto groups list)`, EXIT_REFUSED)
  return found
}

/**
 * Where `sotto send TARGET` goes: a group or a contact. A name that is both is refused,
 * with the two unambiguous ways to say it.
 */
export function sendTarget (contacts: readonly ContactEntry[], groups: readonly GroupEntry[], target: string): { group: GroupEntry } | { contact: string } {
  const group = matchGroup(groups, target)
  if (group === undefined) return { contact: target }
  let contact: string | undefined
  try {
    contact = matchContact(contacts, target)
  } catch {
    contact = target
  }
  if (contact !== undefined) {
    throw new CliError(`"${shown(target)}" is both a contact and a group; to write to the group use its id (${group.id}), to the contact its Session ID`, EXIT_REFUSED)
  }
  return { group }
}

/** The group as `--json` prints it: a contract for scripts (README, sotto groups --help). */
export function groupJson (g: GroupEntry): { id: string, name: string, members: string[], admins: string[] } {
  return { id: g.id, name: g.name, members: g.members, admins: g.admins }
}

/** Where we stand in a group: member, request (invited, not accepted yet), removed or left. */
export function groupStanding (g: GroupEntry): 'member' | 'request' | 'removed' | 'left' {
  if (g.left === true) return 'left'
  if (g.removed === true) return 'removed'
  return g.state === 'request' ? 'request' : 'member'
}

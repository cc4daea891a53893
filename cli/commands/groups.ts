import { connect, type ApiClient } from '../client.js'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { out } from '../io.js'
import { fitToWidth, safeForTerminal } from '../terminal-text.js'
import { groupJson, groupStanding, requireContact, requireGroup, type ContactEntry, type GroupEntry } from '../targets.js'
import { count } from '../wording.js'
import { GROUP_TIMER_HELP, runGroupTimer } from './groups-timer.js'

/** Width of the name column in `groups list`. */
const NAME_COLUMN = 24

export const command: Command = {
  help: `sotto groups [list]                   your groups and group invites
sotto groups create NAME --member CONTACT [--member CONTACT…]
                                      a new group, you its admin
sotto groups add GROUP CONTACT        add a member (admins)
sotto groups remove GROUP CONTACT     remove a member (admins); everyone's keys rotate
sotto groups leave GROUP              leave the group
sotto groups accept GROUP             accept an invite from someone who is not an
                                      accepted contact (until then it is a request)
sotto groups admin GROUP CONTACT [--remove]
                                      make a member an admin, or take it back (admins)
sotto groups delete GROUP             delete the group and its messages from this node;
                                      a group you are in (or an invite) is left first
${GROUP_TIMER_HELP}

GROUP is a group's name or id; CONTACT a contact's name or a Session ID. Write to a group
with sotto send GROUP, read it with sotto inbox.
--json prints the group as {"id","name","members":[Session ID…],"admins":[Session ID…]}
(list: an array of them, each with "state": member, request, removed or left).`,
  flags: { member: 'strings', remove: 'boolean', 'after-read': 'boolean', 'after-send': 'boolean' },
  async run (ctx) {
    const { io, flags, positionals, dataDir } = ctx
    const [sub = 'list', ...args] = positionals
    // Before connecting: its arguments are checked first, so a bad duration needs no running node.
    if (sub === 'timer') return await runGroupTimer(ctx, args)
    const json = flags.json === true
    const api = await connect(dataDir)
    const groups = async (): Promise<GroupEntry[]> => (await api.get<{ groups: GroupEntry[] }>('/api/groups')).groups
    const contacts = async (): Promise<ContactEntry[]> => (await api.get<{ contacts: ContactEntry[] }>('/api/contacts')).contacts
    const print = async (g: GroupEntry): Promise<number> => {
      if (json) out(io, JSON.stringify(groupJson(g)))
      else out(io, await describe(api, g))
      return 0
    }
    switch (sub) {
      case 'list': {
        const all = await groups()
        if (json) { out(io, JSON.stringify(all.map((g) => ({ ...groupJson(g), state: groupStanding(g) })))); return 0 }
        if (all.length === 0) out(io, 'No groups yet. Make one: sotto groups create NAME --member CONTACT')
        for (const g of all) out(io, listLine(g))
        return 0
      }
      case 'create': {
        const name = args.join(' ').trim()
        const wanted = (flags.member as string[] | undefined) ?? []
        if (name === '' || wanted.length === 0) throw new CliError('usage: sotto groups create NAME --member CONTACT [--member CONTACT…]')
        const book = await contacts()
        const members = wanted.map((m) => requireContact(book, m))
        return await print((await api.post<{ group: GroupEntry }>('/api/groups', { name, members })).group)
      }
      case 'add':
      case 'remove': {
        const [target, who] = args
        if (target === undefined || who === undefined || args.length > 2) throw new CliError(`usage: sotto groups ${sub} GROUP CONTACT`)
        const g = requireGroup(await groups(), target)
        const member = requireContact(await contacts(), who)
        const done = sub === 'add'
          ? await api.post<{ group: GroupEntry }>(`/api/groups/${g.id}/members`, { sessionId: member })
          : await api.del<{ group: GroupEntry }>(`/api/groups/${g.id}/members/${encodeURIComponent(member)}`)
        return await print(done.group)
      }
      case 'leave':
      case 'accept': {
        if (args.length !== 1) throw new CliError(`usage: sotto groups ${sub} GROUP`)
        const g = requireGroup(await groups(), args[0])
        return await print((await api.post<{ group: GroupEntry }>(`/api/groups/${g.id}/${sub}`)).group)
      }
      case 'admin': {
        const [target, who] = args
        if (target === undefined || who === undefined || args.length > 2) throw new CliError('usage: sotto groups admin GROUP CONTACT [--remove]')
        const g = requireGroup(await groups(), target)
        const member = requireContact(await contacts(), who)
        const path = `/api/groups/${g.id}/admins/${encodeURIComponent(member)}`
        return await print((flags.remove === true ? await api.del<{ group: GroupEntry }>(path) : await api.put<{ group: GroupEntry }>(path, {})).group)
      }
      case 'delete': {
        if (args.length !== 1) throw new CliError('usage: sotto groups delete GROUP')
        const g = requireGroup(await groups(), args[0])
        await api.del(`/api/groups/${g.id}`)
        if (json) out(io, JSON.stringify({ deleted: g.id }))
        else out(io, `Deleted the group ${safeForTerminal(g.name)} from this node.`)
        return 0
      }
      default: throw new CliError(`unknown subcommand "groups ${sub}" (see sotto groups --help)`)
    }
  }
}

/** One line of `groups list`: name, id, size, and where we stand when not a plain member. */
export function listLine (g: GroupEntry): string {
  const standing = groupStanding(g)
  const tags = [count(g.members.length, 'member'), ...(standing === 'member' ? [] : [standing])]
  return `${fitToWidth(safeForTerminal(g.name), NAME_COLUMN)}  ${g.id}  [${tags.join(', ')}]`
}

/** A group for people: its name and id, then its members by the names this node shows. */
async function describe (api: ApiClient, g: GroupEntry): Promise<string> {
  const [{ contacts }, status] = await Promise.all([
    api.get<{ contacts: Array<{ sessionId: string, displayName?: string, name: string }> }>('/api/contacts'),
    api.get<{ sessionId?: string }>('/api/status')
  ])
  const names = new Map(contacts.map((c) => [c.sessionId, c.displayName ?? c.name]))
  const who = (id: string): string => {
    if (id === status.sessionId) return 'you'
    const name = names.get(id)
    return name !== undefined && name !== '' ? safeForTerminal(name) : id.slice(0, 12) + '…'
  }
  const members = g.members.map((m) => `${who(m)}${g.admins.includes(m) ? ' (admin)' : ''}`)
  const standing = groupStanding(g)
  return `${safeForTerminal(g.name)} (${g.id})${standing === 'member' ? '' : `: ${standing}`}\n  ${count(g.members.length, 'member')}: ${members.join(', ')}`
}

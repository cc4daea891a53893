/**
 * `sotto groups timer GROUP DURATION|off [--after-read]`: sets the disappearing-messages timer
 * of a group on the running node (PUT /api/groups/:id/timer), which sends the change to the
 * members as a group message. Any member may. Dispatched from commands/groups.ts; the
 * arguments are checked (cli/timer.ts, as for contacts) before the node is asked.
 */
import type { CommandContext } from '../command.js'
import { ApiCallError, connect } from '../client.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { out } from '../io.js'
import { requireGroup, type GroupEntry } from '../targets.js'
import { groupTimerSentence, parseTimerArgs, TimerArgumentError, type ContactTimer } from '../timer.js'

export const GROUP_TIMER_USAGE = 'usage: sotto groups timer GROUP DURATION|off [--after-read] (DURATION: 30s, 5m, 1h, 1d, 1w…)'

export const GROUP_TIMER_HELP = `sotto groups timer GROUP DURATION [--after-read]
                                      messages in GROUP disappear DURATION after sending
                                      (or after each member reads them; any member may)
sotto groups timer GROUP off          messages in GROUP no longer disappear`

interface TimedGroup extends GroupEntry { timer?: ContactTimer }

export async function runGroupTimer ({ io, flags, dataDir }: CommandContext, args: readonly string[]): Promise<number> {
  // The shared parser's usage line names contacts: this command's own shape is checked first.
  if (args.length !== 2 || args[0].trim() === '') throw new TimerArgumentError('ERR_TIMER_USAGE', GROUP_TIMER_USAGE)
  const parsed = parseTimerArgs(args, flags)
  const api = await connect(dataDir)
  const g = requireGroup((await api.get<{ groups: GroupEntry[] }>('/api/groups')).groups, parsed.contact)
  let group: TimedGroup
  try {
    group = (await api.put<{ group: TimedGroup }>(`/api/groups/${g.id}/timer`, parsed.setting)).group
  } catch (e) {
    if (e instanceof ApiCallError && e.code === 'ERR_GROUP_REQUEST') throw new CliError('accept the group invite first (sotto groups accept GROUP)', EXIT_REFUSED)
    if (e instanceof ApiCallError && e.code === 'ERR_NOT_MEMBER') throw new CliError('you are no longer a member of this group', EXIT_REFUSED)
    if (e instanceof ApiCallError && e.code === 'ERR_NOT_FOUND') throw new CliError('this node does not know group timers yet; update Sotto and start it again', EXIT_REFUSED)
    throw e
  }
  // The node answers what it now holds: a concurrent change by another member may have won.
  const timer = group.timer ?? { ...parsed.setting, version: 0, changedAt: 0, changedBy: null }
  if (flags.json === true) out(io, JSON.stringify(timer))
  else out(io, groupTimerSentence(group.name, timer))
  return 0
}

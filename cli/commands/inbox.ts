import type { Message } from '../../node/messaging/message-log.js'
import { ApiCallError, connect, type ApiClient } from '../client.js'
import type { Command } from '../command.js'
import { out } from '../io.js'
import { safeForTerminal } from '../terminal-text.js'
import { inboxMark, type TimerSetting } from '../timer.js'

interface FileView { id: string, name: string, size: number, mime: string, state: string }
/** What a disappearing message adds to a Message (docs/API.md): its timer, and its end once the clock runs. */
interface Disappearing { timer?: TimerSetting, expiresAt?: number, event?: { type: string } }

export const command: Command = {
  help: `sotto inbox [--follow] [--json] [--data-dir DIR]

Prints the messages you received, oldest first. --follow keeps printing new messages (and
delivery changes of yours) as they arrive, until Ctrl-C; while the node is locked it
prints nothing, and what arrived meanwhile follows once it is unlocked. A group message
shows as "[group name] sender: text". --json prints one JSON object per line with id,
from, text, sentAt, receivedAt and state; a group message also has "group" (the group id),
and its "from" is the member who wrote it. A message with files has "attachments":
[{id, name, size, mime, state}] (state: pending, downloading, ready, failed); save one
with: sotto attachment save ID --out PATH. A disappearing message has "timer": {mode,
seconds} and, once its clock runs, "expiresAt" (ms since 1970); the human form marks it
"⏱ 4 min". Once it expires it is gone from the inbox (--follow says so).`,
  flags: { follow: 'boolean' },
  async run ({ io, flags, dataDir }) {
    const api = await connect(dataDir)
    const names = new Map<string, string>()
    const { contacts } = await api.get<{ contacts: Array<{ sessionId: string, name: string, displayName?: string }> }>('/api/contacts')
    // The name the node shows: the local one, else the contact's shared one (older nodes: name).
    for (const c of contacts) names.set(c.sessionId, c.displayName ?? c.name)
    const groupNames = await groupNamesOf(api)
    const print = async (m: Message): Promise<void> => {
      const timed = m as Message & Disappearing
      // A timer change is a row of the conversation, not a message: the node keeps it out of
      // the inbox, and so does this, should one come by.
      if (timed.event !== undefined) return
      // A group message's peer is the group; its author is `from`.
      const from = m.group !== undefined && m.from !== undefined ? m.from : m.peer
      // The API shows files with their transfer state (docs/API.md "Attachments").
      const files = (m as unknown as { attachments?: FileView[] }).attachments
      if (flags.json === true) {
        out(io, JSON.stringify({
          id: m.id,
          from,
          ...(m.group === undefined ? {} : { group: m.group }),
          text: m.text,
          sentAt: m.sentAt,
          receivedAt: m.receivedAt,
          state: m.state,
          ...(files === undefined ? {} : { attachments: files.map((f) => ({ id: f.id, name: f.name, size: f.size, mime: f.mime, state: f.state })) }),
          ...(timed.timer === undefined ? {} : { timer: { mode: timed.timer.mode, seconds: timed.timer.seconds } }),
          ...(typeof timed.expiresAt === 'number' ? { expiresAt: timed.expiresAt } : {})
        }))
        return
      }
      const who = safeForTerminal(names.get(from) ?? from.slice(0, 12))
      let where = ''
      if (m.group !== undefined) {
        // A group that came after this command started: its name is read once.
        if (!groupNames.has(m.group)) for (const [id, name] of await groupNamesOf(api)) groupNames.set(id, name)
        where = `[${safeForTerminal(groupNames.get(m.group) ?? m.group.slice(0, 12))}] `
      }
      const attached = (files ?? []).map((f) => ` [file ${f.id.slice(0, 12)}: ${safeForTerminal(f.name)}, ${f.size} bytes, ${f.state}]`).join('')
      const mark = inboxMark(timed, Date.now())
      out(io, `${new Date(m.receivedAt ?? m.sentAt).toLocaleString()}  ${where}${who}: ${safeForTerminal(m.text)}${attached}${mark === '' ? '' : `  ${mark}`}`)
    }
    let cursor = 0
    /** Prints what arrived after the cursor, page by page. */
    const catchUp = async (): Promise<void> => {
      for (;;) {
        const page = await api.get<{ messages: Message[], cursor: number }>(`/api/inbox?after=${cursor}&limit=500`)
        for (const m of page.messages) if ((m.inboxSeq ?? 0) > cursor) await print(m)
        if (page.messages.length === 0) break
        cursor = Math.max(cursor, page.cursor)
      }
    }
    await catchUp()
    if (flags.follow !== true) return 0
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    // One thing at a time, in the stream's order, so the cursor only moves forward.
    let queue = Promise.resolve()
    const then = (job: () => Promise<void> | void): void => {
      // A catch-up refused (the node locked again meanwhile) is retried at the next unlock.
      queue = queue.then(job).catch(() => {})
    }
    await api.events((name, data) => {
      if (name === 'message') {
        then(async () => {
          const m = data as Message
          if (m.direction === 'in' && (m.inboxSeq ?? 0) > cursor) { cursor = m.inboxSeq ?? cursor; await print(m) }
        })
      } else if (name === 'message-state' && flags.json !== true) {
        then(() => {
          const s = data as { id: string, state: string }
          if (s.state !== 'read') out(io, `  (your message ${s.id.slice(0, 8)}: ${s.state})`)
        })
      } else if (name === 'messages-expired' && flags.json !== true) {
        then(() => {
          // Disappearing messages reached their time; the node deleted them (docs/API.md).
          const { peer, ids } = data as { peer: string, ids?: unknown[] }
          const n = Array.isArray(ids) ? ids.length : 0
          if (n > 0) out(io, `  (${n === 1 ? '1 message' : `${n} messages`} with ${safeForTerminal(names.get(peer) ?? peer.slice(0, 12))} disappeared)`)
        })
      } else if (name === 'status' && (data as { state?: string }).state === 'unlocked') {
        // While the node is locked its events carry no messages: what came meanwhile is
        // fetched when it is unlocked again.
        then(catchUp)
      }
    }, controller.signal, () => { then(catchUp) })
    await queue
    return 0
  }
}

/** Group names by id; none from a node older than groups. */
async function groupNamesOf (api: ApiClient): Promise<Map<string, string>> {
  try {
    const { groups } = await api.get<{ groups: Array<{ id: string, name: string }> }>('/api/groups')
    return new Map(groups.map((g) => [g.id, g.name]))
  } catch (e) {
    if (e instanceof ApiCallError && e.code === 'ERR_NOT_FOUND') return new Map()
    throw e
  }
}

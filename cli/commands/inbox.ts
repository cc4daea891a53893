import type { Message } from '../../node/messaging/message-log.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { out } from '../io.js'
import { safeForTerminal } from '../terminal-text.js'

export const command: Command = {
  help: `sotto inbox [--follow] [--json] [--data-dir DIR]

Prints the messages you received, oldest first. --follow keeps printing new messages (and
delivery changes of yours) as they arrive, until Ctrl-C; while the node is locked it
prints nothing, and what arrived meanwhile follows once it is unlocked. --json prints one
JSON object per line with id, from, text, sentAt, receivedAt and state.`,
  flags: { follow: 'boolean' },
  async run ({ io, flags, dataDir }) {
    const api = await connect(dataDir)
    const names = new Map<string, string>()
    const { contacts } = await api.get<{ contacts: Array<{ sessionId: string, name: string, displayName?: string }> }>('/api/contacts')
    // The name the node shows: the local one, else the contact's shared one (older nodes: name).
    for (const c of contacts) names.set(c.sessionId, c.displayName ?? c.name)
    const print = (m: Message) => {
      if (flags.json === true) {
        out(io, JSON.stringify({ id: m.id, from: m.peer, text: m.text, sentAt: m.sentAt, receivedAt: m.receivedAt, state: m.state }))
      } else {
        const who = safeForTerminal(names.get(m.peer) ?? m.peer.slice(0, 12))
        out(io, `${new Date(m.receivedAt ?? m.sentAt).toLocaleString()}  ${who}: ${safeForTerminal(m.text)}`)
      }
    }
    let cursor = 0
    /** Prints what arrived after the cursor, page by page. */
    const catchUp = async (): Promise<void> => {
      for (;;) {
        const page = await api.get<{ messages: Message[], cursor: number }>(`/api/inbox?after=${cursor}&limit=500`)
        for (const m of page.messages) if ((m.inboxSeq ?? 0) > cursor) print(m)
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
        then(() => {
          const m = data as Message
          if (m.direction === 'in' && (m.inboxSeq ?? 0) > cursor) { cursor = m.inboxSeq ?? cursor; print(m) }
        })
      } else if (name === 'message-state' && flags.json !== true) {
        then(() => {
          const s = data as { id: string, state: string }
          if (s.state !== 'read') out(io, `  (your message ${s.id.slice(0, 8)}: ${s.state})`)
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

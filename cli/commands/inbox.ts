import type { Message } from '../../node/messaging/message-log.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { out } from '../io.js'
import { safeForTerminal } from '../terminal-text.js'

export const command: Command = {
  help: `sotto inbox [--follow] [--json] [--data-dir DIR]

Prints the messages you received, oldest first. --follow keeps printing new messages (and
delivery changes of yours) as they arrive, until Ctrl-C. --json prints one JSON object per
line with id, from, text, sentAt, receivedAt and state.`,
  flags: { follow: 'boolean' },
  async run ({ io, flags, dataDir }) {
    const api = await connect(dataDir)
    const names = new Map<string, string>()
    const { contacts } = await api.get<{ contacts: Array<{ sessionId: string, name: string }> }>('/api/contacts')
    for (const c of contacts) names.set(c.sessionId, c.name)
    const print = (m: Message) => {
      if (flags.json === true) {
        out(io, JSON.stringify({ id: m.id, from: m.peer, text: m.text, sentAt: m.sentAt, receivedAt: m.receivedAt, state: m.state }))
      } else {
        const who = safeForTerminal(names.get(m.peer) ?? m.peer.slice(0, 12))
        out(io, `${new Date(m.receivedAt ?? m.sentAt).toLocaleString()}  ${who}: ${safeForTerminal(m.text)}`)
      }
    }
    let cursor = 0
    for (;;) {
      const page = await api.get<{ messages: Message[], cursor: number }>(`/api/inbox?after=${cursor}&limit=500`)
      for (const m of page.messages) print(m)
      if (page.messages.length === 0) break
      cursor = page.cursor
    }
    if (flags.follow !== true) return 0
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    await api.events((name, data) => {
      if (name === 'message') {
        const m = data as Message
        if (m.direction === 'in' && (m.inboxSeq ?? 0) > cursor) { cursor = m.inboxSeq ?? cursor; print(m) }
      } else if (name === 'message-state' && flags.json !== true) {
        const s = data as { id: string, state: string }
        if (s.state !== 'read') out(io, `  (your message ${s.id.slice(0, 8)}: ${s.state})`)
      }
    }, controller.signal)
    return 0
  }
}

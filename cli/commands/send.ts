import type { Message } from '../../node/messaging/message-log.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { err, out, type CliIO } from '../io.js'
import { count } from '../wording.js'

/** The API takes at most this many characters of text; more is refused before sending. */
const MAX_TEXT_CHARS = 100_000

export const command: Command = {
  help: `sotto send CONTACT [TEXT] [--data-dir DIR] [--json]

Sends a message to CONTACT (a Session ID or a contact's name) through the running node, and
says what happened: delivered, stored for later, or failed.

Without TEXT the message is read from stdin, to its end (one final newline is dropped):
  echo "see you at 8" | sotto send Bob
  sotto send Bob < note.txt
  sotto send Bob              (type the message, then Ctrl-D)
This is the private way. TEXT given on the command line is visible to other users of
this computer while the command runs (ps, /proc/PID/cmdline), and it may stay in your
shell history.`,
  flags: {},
  async run ({ io, flags, positionals, dataDir }) {
    const [to, ...words] = positionals
    if (to === undefined) throw new CliError('usage: sotto send CONTACT [TEXT] (or the text on stdin)')
    const text = words.length > 0 ? words.join(' ') : await readMessage(io)
    if (text === '') throw new CliError('usage: sotto send CONTACT [TEXT] (or the text on stdin); the message is empty')
    if (text.length > MAX_TEXT_CHARS) throw new CliError(`the message is too long (at most ${MAX_TEXT_CHARS} characters)`)
    const api = await connect(dataDir)
    const { message } = await api.post<{ message: Message }>('/api/messages', { to, text })
    if (flags.json === true) out(io, JSON.stringify(message))
    else if (message.state === 'stored') out(io, `stored (in ${count(message.mailboxes ?? 0, 'mailbox', 'mailboxes')}${message.storedUntil !== undefined ? `, until ${new Date(message.storedUntil).toLocaleString()}` : ''})`)
    else {
      // Why it failed: `lastError` (a code) from current nodes, `error` from older ones.
      const reason = message.lastError ?? (message as { error?: string }).error
      out(io, message.state === 'failed' && reason !== undefined ? `failed (${reason})` : message.state)
    }
    return message.state === 'failed' ? EXIT_REFUSED : 0
  }
}

/** All of stdin as UTF-8, without one final line break; reading stops early once it is too long. */
async function readMessage (io: CliIO): Promise<string> {
  if (io.stdin.isTTY === true) err(io, 'Type the message; end it with Ctrl-D on a line of its own.')
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of io.stdin) {
    text += typeof chunk === 'string' ? chunk : decoder.decode(chunk as Uint8Array, { stream: true })
    if (text.length > MAX_TEXT_CHARS + 2) break
  }
  text += decoder.decode()
  return text.replace(/\r?\n$/, '')
}

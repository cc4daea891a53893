import type { Message } from '../../node/messaging/message-log.js'
import { ApiCallError, connect, type ApiClient } from '../client.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { err, out, type CliIO } from '../io.js'
import { sendTarget, type ContactEntry, type GroupEntry } from '../targets.js'
import { count } from '../wording.js'
import { uploadFile } from '../attachments.js'

/** The API takes at most this many characters of text; more is refused before sending. */
const MAX_TEXT_CHARS = 100_000

export const command: Command = {
  help: `sotto send CONTACT|GROUP [TEXT] [--file PATH] [--data-dir DIR] [--json]

Sends a message to CONTACT (a Session ID or a contact's name) or to GROUP (a group's name
or id) through the running node, and says what happened: delivered, stored for later,
sending (no path yet; the node keeps trying), or failed. A name that is both a contact's and
a group's is refused: use the group id or the contact's Session ID.

Without TEXT the message is read from stdin, to its end (one final newline is dropped):
  echo "see you at 8" | sotto send Bob
  sotto send Bob < note.txt
  sotto send Bob              (type the message, then Ctrl-D)
This is the private way. TEXT given on the command line is visible to other users of
this computer while the command runs (ps, /proc/PID/cmdline), and it may stay in your
shell history.

--file PATH sends a file (at most 100 MiB) with the message, encrypted; the text is then
optional and not read from stdin. A contact who is offline gets files up to 7.5 MiB through
the mailboxes; larger ones come from this node once both are online (keep it running).
In a group, every member fetches the file from this node: members offline now get it once
they and this node are online together.`,
  flags: { file: 'string' },
  async run ({ io, flags, positionals, dataDir }) {
    const [to, ...words] = positionals
    if (to === undefined) throw new CliError('usage: sotto send CONTACT|GROUP [TEXT] (or the text on stdin)')
    const file = typeof flags.file === 'string' ? flags.file : undefined
    const text = words.length > 0 ? words.join(' ') : file !== undefined ? '' : await readMessage(io)
    if (text === '' && file === undefined) throw new CliError('usage: sotto send CONTACT|GROUP [TEXT] (or the text on stdin); the message is empty')
    if (text.length > MAX_TEXT_CHARS) throw new CliError(`the message is too long (at most ${MAX_TEXT_CHARS} characters)`)
    const api = await connect(dataDir)
    const target = sendTarget(await contactsOf(api), await groupsOf(api), to)
    const uploaded = file === undefined ? undefined : await uploadFile(api, file)
    const { message } = 'group' in target
      ? await api.post<{ message: Message }>(`/api/groups/${target.group.id}/messages`, { text, ...(uploaded === undefined ? {} : { attachments: [uploaded.id] }) })
      : await api.post<{ message: Message }>('/api/messages', { to, text, ...(uploaded === undefined ? {} : { attachments: [uploaded.id] }) })
    // A node older than files in groups sends the text alone: say so.
    if (uploaded !== undefined && !Array.isArray(message.attachments)) throw new CliError('the text was sent, but not the file: this node cannot send files to groups (update it)')
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

async function contactsOf (api: ApiClient): Promise<ContactEntry[]> {
  return (await api.get<{ contacts: ContactEntry[] }>('/api/contacts')).contacts
}

/** The node's groups; none from a node older than groups (404). */
async function groupsOf (api: ApiClient): Promise<GroupEntry[]> {
  try {
    return (await api.get<{ groups: GroupEntry[] }>('/api/groups')).groups
  } catch (e) {
    if (e instanceof ApiCallError && e.code === 'ERR_NOT_FOUND') return []
    throw e
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

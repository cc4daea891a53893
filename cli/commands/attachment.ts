import { link, open, rm } from 'node:fs/promises'
import { dirname, join, basename, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { out } from '../io.js'
import { safeForTerminal } from '../terminal-text.js'

const ID_RE = /^[0-9a-f]{64}$/

export const command: Command = {
  help: `sotto attachment save ID --out PATH [--data-dir DIR]

Writes a file you received (or sent) to PATH, decrypted, byte for byte what was sent, and
says where. ID is the attachment id from \`sotto inbox --json\`. The file is written only
there: the node keeps it sealed in its store. An existing PATH is not overwritten. A file
that has not fully arrived yet is refused (ERR_ATTACHMENT_NOT_READY): try again later.`,
  flags: { out: 'string' },
  async run ({ io, flags, positionals, dataDir }) {
    const [verb, id] = positionals
    if (verb !== 'save' || id === undefined || typeof flags.out !== 'string') throw new CliError('usage: sotto attachment save ID --out PATH')
    if (!ID_RE.test(id)) throw new CliError('an attachment id is 64 hex digits (see sotto inbox --json)')
    const target = resolve(flags.out)
    const api = await connect(dataDir)
    const res = await api.raw('GET', `/api/attachments/${id}`)
    // Written beside the target, then moved into place: a cut transfer leaves no half file there.
    const partial = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.part`)
    const file = await open(partial, 'wx', 0o600)
    let size = 0
    try {
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += piece.length
        await file.write(piece)
      }
      await file.close()
      // link() refuses an existing target, atomically: nothing there is ever overwritten.
      await link(partial, target).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(err.code === 'EEXIST' ? `${safeForTerminal(target)} exists; choose another --out` : `cannot write ${safeForTerminal(target)}`)
      })
    } finally {
      await file.close().catch(() => {})
      await rm(partial, { force: true })
    }
    out(io, `saved ${size} bytes to ${safeForTerminal(target)}`)
    return 0
  }
}

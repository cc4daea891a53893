/**
 * `sotto`: the one place that maps errors to exit codes and calls process.exit. Command
 * modules are imported lazily so `sotto --help` starts fast and never loads libp2p.
 */
import { parseFlags, splitCommand, stringFlag } from './args.js'
import type { Command } from './command.js'
import { SottoError } from '../node/errors.js'
import { CliError, EXIT_REFUSED, EXIT_USAGE } from './errors.js'
import { err, out, processIO, type CliIO } from './io.js'

const COMMANDS: Record<string, { summary: string, load: () => Promise<{ command: Command }> }> = {
  init: { summary: 'create a new account (prints the recovery phrase once)', load: async () => await import('./commands/init.js') },
  restore: { summary: 'restore an account from its recovery phrase', load: async () => await import('./commands/restore.js') },
  id: { summary: 'print the Session ID of the account', load: async () => await import('./commands/id.js') },
  passwd: { summary: 'change the passphrase that locks the data folder', load: async () => await import('./commands/passwd.js') },
  start: { summary: 'run your node: network, mailbox for others, local API and web UI', load: async () => await import('./commands/start.js') },
  open: { summary: 'a new one-time link to the web UI, opened in your browser', load: async () => await import('./commands/open.js') },
  status: { summary: 'show the running node: peers, addresses, published record', load: async () => await import('./commands/status.js') },
  contacts: { summary: 'list, add, accept or block contacts; set a disappearing-messages timer', load: async () => await import('./commands/contacts.js') },
  groups: { summary: 'list, create and change groups: add, remove, leave, accept', load: async () => await import('./commands/groups.js') },
  send: { summary: 'send a message: echo TEXT | sotto send CONTACT|GROUP (TEXT from stdin)', load: async () => await import('./commands/send.js') },
  inbox: { summary: 'print received messages (--follow for live)', load: async () => await import('./commands/inbox.js') },
  attachment: { summary: 'save a file you received: sotto attachment save ID --out PATH', load: async () => await import('./commands/attachment.js') }
}

export function usage (): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  return `Sotto: a serverless, end-to-end encrypted messenger. Each user runs a node.

Usage: sotto <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join('\n')}

Options for every command:
  --data-dir DIR          data folder (default: SOTTO_DATA_DIR, else the per-user data folder)
  --passphrase-file F     read the passphrase from F (or set SOTTO_PASSPHRASE); never on the command line
  --json                  print JSON for scripts
  --debug                 show full errors
  -h, --help              help for a command: sotto <command> --help

Exit codes: 0 ok, 1 usage error, 2 refused (wrong passphrase, bad phrase, existing account...).`
}

/** Runs one command and returns its exit code; never exits the process (tests call this). */
export async function run (argv: readonly string[], io: CliIO): Promise<number> {
  const { command: name, rest } = splitCommand(argv)
  const debug = argv.includes('--debug')
  try {
    if (name === undefined || name === 'help') {
      const topic = name === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined
      if (topic !== undefined && COMMANDS[topic] !== undefined) {
        out(io, (await COMMANDS[topic].load()).command.help)
        return 0
      }
      out(io, usage())
      return name === undefined && !argv.includes('--help') && !argv.includes('-h') ? EXIT_USAGE : 0
    }
    const entry = COMMANDS[name]
    if (entry === undefined) throw new CliError(`unknown command "${name}" (see sotto --help)`)
    const { command } = await entry.load()
    const { flags, positionals } = parseFlags(rest, command.flags)
    if (flags.help === true) {
      out(io, command.help)
      return 0
    }
    const { resolveDataDir } = await import('../node/store/data-dir.js')
    const dataDir = resolveDataDir(stringFlag(flags, 'data-dir'), io.env)
    return (await command.run({ io, flags, positionals, dataDir })) ?? 0
  } catch (e) {
    return report(io, e, debug)
  }
}

function report (io: CliIO, e: unknown, debug: boolean): number {
  if (debug && e instanceof Error) err(io, e.stack ?? String(e))
  if (e instanceof CliError) {
    err(io, `sotto: ${e.message}`)
    return e.exitCode
  }
  // Errors Sotto raises on purpose carry a code and a message fit to show (no secrets).
  if (e instanceof SottoError) {
    err(io, `sotto: ${e.message}`)
    return EXIT_REFUSED
  }
  err(io, `sotto: unexpected error${debug ? '' : ' (run again with --debug for details)'}: ${e instanceof Error ? e.message : String(e)}`)
  return EXIT_USAGE
}

export async function runMain (argv: readonly string[]): Promise<never> {
  // Everything sotto writes is the user's alone (C2); files it does not create itself,
  // LevelDB's, would otherwise follow the usual umask 022 and be readable by others.
  if (process.platform !== 'win32') process.umask(0o077)
  const code = await run(argv, processIO())
  process.exit(code)
}

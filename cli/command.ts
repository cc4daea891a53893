import type { FlagSpec, FlagValues } from './args.js'
import type { CliIO } from './io.js'

export interface CommandContext {
  io: CliIO
  flags: FlagValues
  positionals: string[]
  dataDir: string
}

export interface Command {
  /** One paragraph for `sotto help <command>`: usage line first. */
  help: string
  flags: FlagSpec
  run: (ctx: CommandContext) => Promise<number | undefined>
}

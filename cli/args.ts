/**
 * Pure argument parsing: argv -> { command, flags, positionals }, or a CliError. Each command
 * declares its flags; anything else is a usage error. Tested as tables in test/cli/args.test.ts.
 */
import { CliError } from './errors.js'

export type FlagKind = 'boolean' | 'string' | 'strings'
export type FlagSpec = Record<string, FlagKind>
export type FlagValues = Record<string, boolean | string | string[] | undefined>

export interface ParsedArgs {
  command: string | undefined
  flags: FlagValues
  positionals: string[]
}

/** Flags every command accepts. */
export const GLOBAL_FLAGS: FlagSpec = {
  'data-dir': 'string',
  'passphrase-file': 'string',
  json: 'boolean',
  debug: 'boolean',
  help: 'boolean'
}

/** Splits off the command name (first non-flag word). */
export function splitCommand (argv: readonly string[]): { command: string | undefined, rest: string[] } {
  let index = -1
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('-')) { index = i; break }
    // A global flag's value (`--data-dir DIR`) is not the command.
    if (a.startsWith('--') && !a.includes('=') && GLOBAL_FLAGS[a.slice(2)] === 'string') i++
  }
  if (index === -1) return { command: undefined, rest: [...argv] }
  return { command: argv[index], rest: [...argv.slice(0, index), ...argv.slice(index + 1)] }
}

export function parseFlags (args: readonly string[], spec: FlagSpec): { flags: FlagValues, positionals: string[] } {
  const all: FlagSpec = { ...GLOBAL_FLAGS, ...spec }
  const flags: FlagValues = {}
  const positionals: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--') { positionals.push(...args.slice(i + 1)); break }
    if (arg === '-h') { flags.help = true; continue }
    if (!arg.startsWith('--')) { positionals.push(arg); continue }
    const eq = arg.indexOf('=')
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    let inline = eq === -1 ? undefined : arg.slice(eq + 1)
    let kind = all[name]
    if (kind === undefined && name.startsWith('no-') && all[name.slice(3)] === 'boolean') {
      name = name.slice(3)
      kind = 'boolean'
      if (inline !== undefined) throw new CliError(`--no-${name} takes no value`)
      flags[name] = false
      continue
    }
    if (kind === undefined) throw new CliError(`unknown option --${name}`)
    if (kind === 'boolean') {
      if (inline !== undefined) throw new CliError(`--${name} takes no value`)
      flags[name] = true
      continue
    }
    if (inline === undefined) {
      inline = args[i + 1]
      if (inline === undefined || inline.startsWith('--')) throw new CliError(`--${name} needs a value`)
      i++
    }
    if (kind === 'strings') flags[name] = [...((flags[name] as string[] | undefined) ?? []), inline]
    else flags[name] = inline
  }
  return { flags, positionals }
}

export function stringFlag (flags: FlagValues, name: string): string | undefined {
  const v = flags[name]
  return typeof v === 'string' ? v : undefined
}

export function intFlag (flags: FlagValues, name: string, min: number, max: number): number | undefined {
  const v = stringFlag(flags, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be a whole number from ${min} to ${max}`)
  return n
}

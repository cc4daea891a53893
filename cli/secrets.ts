/**
 * Where the passphrase comes from: --passphrase-file, else SOTTO_PASSPHRASE, else a prompt
 * (or the next line of piped stdin). Never argv (C5). A passphrase file readable by others
 * gets a warning (C1).
 */
import { readFile, stat } from 'node:fs/promises'
import { stringFlag, type FlagValues } from './args.js'
import { CliError, EXIT_REFUSED } from './errors.js'
import { ask, err, type CliIO } from './io.js'

export const MIN_PASSPHRASE_LENGTH = 8

/** Which flag and environment variable may carry a passphrase for scripts. */
export interface PassphraseSource { fileFlag: string, envVar: string }
export const CURRENT: PassphraseSource = { fileFlag: 'passphrase-file', envVar: 'SOTTO_PASSPHRASE' }
export const NEW: PassphraseSource = { fileFlag: 'new-passphrase-file', envVar: 'SOTTO_NEW_PASSPHRASE' }

function scripted (io: CliIO, flags: FlagValues, source: PassphraseSource): boolean {
  return stringFlag(flags, source.fileFlag) !== undefined || (io.env[source.envVar] ?? '') !== ''
}

export async function readPassphrase (io: CliIO, flags: FlagValues, question = 'Passphrase: ', source = CURRENT): Promise<string> {
  const file = stringFlag(flags, source.fileFlag)
  if (file !== undefined) return await readPassphraseFile(io, file)
  const fromEnv = io.env[source.envVar]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const answer = await ask(io, question, { hidden: true })
  if (answer === undefined || answer === '') {
    throw new CliError(`no passphrase given (type it at the prompt, or use --${source.fileFlag} F or ${source.envVar})`)
  }
  return answer
}

/** For a new passphrase: asked twice at a prompt, and held to a minimum length. */
export async function readNewPassphrase (io: CliIO, flags: FlagValues, question = 'New passphrase: ', source = CURRENT): Promise<string> {
  const interactive = !scripted(io, flags, source) && io.stdin.isTTY === true
  const passphrase = await readPassphrase(io, flags, question, source)
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new CliError(`the passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`, EXIT_REFUSED)
  }
  if (interactive) {
    const again = await ask(io, 'Repeat it: ', { hidden: true })
    if (again !== passphrase) throw new CliError('the two passphrases differ; nothing was changed', EXIT_REFUSED)
  }
  return passphrase
}

async function readPassphraseFile (io: CliIO, path: string): Promise<string> {
  let text: string
  try {
    const info = await stat(path)
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      err(io, `sotto: warning: ${path} can be read by other users; chmod 600 it`)
    }
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new CliError(`cannot read the passphrase file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  // The first line is the passphrase; a trailing newline from an editor is not part of it.
  const passphrase = text.split(/\r?\n/)[0]
  if (passphrase === '') throw new CliError(`the passphrase file ${path} is empty`)
  return passphrase
}

/**
 * The CLI's contact with the terminal: where output goes, and how secrets are asked for.
 * Secrets are read with echo off on a terminal, or line by line from piped stdin for
 * scripts; never from argv (C1, C5).
 */
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

export interface CliIO {
  stdin: Readable & { isTTY?: boolean }
  stdout: Writable
  stderr: Writable
  env: NodeJS.ProcessEnv
}

export function processIO (): CliIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }
}

export function out (io: CliIO, line = ''): void {
  io.stdout.write(line + '\n')
}

export function err (io: CliIO, line: string): void {
  io.stderr.write(line + '\n')
}

/** Lines of piped stdin, read on demand, so several prompts can each take the next line. */
const pipedLines = new WeakMap<object, AsyncIterator<string>>()

async function nextPipedLine (io: CliIO): Promise<string | undefined> {
  let it = pipedLines.get(io.stdin)
  if (it === undefined) {
    it = createInterface({ input: io.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]()
    pipedLines.set(io.stdin, it)
  }
  const next = await it.next()
  return next.done === true ? undefined : next.value
}

/** Asks on stderr; on a terminal the answer is not echoed. Undefined when stdin has ended. */
export async function ask (io: CliIO, question: string, options: { hidden?: boolean } = {}): Promise<string | undefined> {
  if (io.stdin.isTTY !== true) return await nextPipedLine(io)
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true })
  return await new Promise<string | undefined>((resolve) => {
    let answered = false
    rl.question(question, (answer) => {
      answered = true
      rl.close()
      if (options.hidden === true) io.stderr.write('\n')
      resolve(answer)
    })
    if (options.hidden === true) {
      // readline echoes through _writeToOutput; silence it once the question is shown.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {}
    }
    rl.on('close', () => { if (!answered) resolve(undefined) })
  })
}

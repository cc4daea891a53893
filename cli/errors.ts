/** An error the CLI reports as one line, with its exit code: 1 usage, 2 refused / wrong secret. */
export class CliError extends Error {
  readonly exitCode: number
  constructor (message: string, exitCode = 1) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

export const EXIT_OK = 0
export const EXIT_USAGE = 1
export const EXIT_REFUSED = 2

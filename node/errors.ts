/**
 * The base of every error Sotto raises on purpose. Callers branch on `code`, never on the
 * message text; messages are written for people and never contain secrets.
 */
export class SottoError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Bytes or text from outside (network, disk, user) that do not parse. */
export class ParseError extends SottoError {
  constructor (message: string, code = 'ERR_PARSE') {
    super(code, message)
  }
}

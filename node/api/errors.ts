import { SottoError } from '../errors.js'

/** An API refusal with its HTTP status; the body is `{ error: { code, message } }`. */
export class ApiError extends SottoError {
  readonly status: number
  constructor (status: number, code: string, message: string) {
    super(code, message)
    this.status = status
  }
}

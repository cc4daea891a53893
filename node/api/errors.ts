import { SottoError } from '../errors.js'

/** An API refusal with its HTTP status; the body is `{ error: { code, message } }`. */
export class ApiError extends SottoError {
  readonly status: number
  constructor (status: number, code: string, message: string) {
    super(code, message)
    this.status = status
  }
}

/** Runs `work`; an error whose code `statusByCode` names becomes an ApiError with that status. */
export async function withStatus<T> (work: Promise<T>, statusByCode: Record<string, number>): Promise<T> {
  try {
    return await work
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code !== undefined && statusByCode[code] !== undefined) throw new ApiError(statusByCode[code], code, (err as Error).message)
    throw err
  }
}

import { SottoError } from '../errors.js'

/** The account is not in a state that allows the call (locked, already exists, …). */
export class AccountStateError extends SottoError {}

import { SottoError } from '../errors.js'

/** Every refusal of the call layer: branch on `code` (ERR_UNKNOWN_CALL, ERR_CALL_STATE, ERR_NOT_CONTACT, ...). */
export class CallError extends SottoError {}

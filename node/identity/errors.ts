import { SottoError } from '../errors.js'

/** Why a recovery phrase was refused; `code` tells which, the message names the word or count. */
export class PhraseError extends SottoError {}

export class SessionIdError extends SottoError {}

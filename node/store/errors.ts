import { SottoError } from '../errors.js'

/** The passphrase does not unwrap the data key. Nothing on disk was touched. */
export class WrongPassphraseError extends SottoError {
  constructor () { super('ERR_WRONG_PASSPHRASE', 'wrong passphrase') }
}

/** The data folder is not what we expect: missing, corrupt, tampered, or of a newer version. */
export class StoreFormatError extends SottoError {}

/** A record on disk failed authentication: tampered, or moved to another key (L3). */
export class RecordIntegrityError extends SottoError {
  constructor () { super('ERR_RECORD_INTEGRITY', 'a stored record failed authentication') }
}

export class AccountExistsError extends SottoError {
  constructor (dir: string) { super('ERR_ACCOUNT_EXISTS', `an account already exists in ${dir}`) }
}

export class NoAccountError extends SottoError {
  constructor (dir: string) { super('ERR_NO_ACCOUNT', `no account in ${dir} (run "sotto init" or "sotto restore")`) }
}

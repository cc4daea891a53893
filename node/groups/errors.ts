import { SottoError } from '../errors.js'

/** Every refusal of the group layer: branch on `code`. */
export class GroupError extends SottoError {}

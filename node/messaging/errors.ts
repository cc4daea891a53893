import { SottoError } from '../errors.js'

export class MessagingError extends SottoError {}

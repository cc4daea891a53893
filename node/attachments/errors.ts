import { SottoError } from '../errors.js'

/** Codes: ERR_CHUNK_AUTH, ERR_CHUNK_HASH, ERR_MANIFEST, ERR_MANIFEST_TOO_LARGE, ERR_ATTACHMENT_TOO_LARGE, ERR_ATTACHMENT_NOT_READY, ERR_UNKNOWN_ATTACHMENT, ERR_NO_SOURCE. */
export class AttachmentError extends SottoError {}

// The limits the node enforces, shown to the user before they submit. The node stays the
// judge (it refuses anything longer); these only decide when the counter turns red.
/** Characters in a message (node/messaging/payload.ts MAX_TEXT_LENGTH). */
export const MAX_TEXT = 8000
/** Characters in a contact name or display name (node/messaging/contacts.ts MAX_NAME_LENGTH). */
export const MAX_NAME = 64
/** Shortest passphrase the app accepts when one is chosen. */
export const MIN_PASSPHRASE = 8
/** Counter shows once this share of a limit is used, so it does not distract before. */
export const COUNTER_FROM = 0.8
/** Members of one group, you included (node/groups/constants.ts MAX_GROUP_MEMBERS). */
export const MAX_GROUP_MEMBERS = 100
/** The member picker offers a search box from this many contacts on. */
export const PICKER_SEARCH_FROM = 8
/** Bytes in one attached file (the node refuses more: 413 ERR_ATTACHMENT_TOO_LARGE). */
export const MAX_ATTACHMENT = 100 * 1024 * 1024
/** What the composer says about that limit before anything is chosen. */
export const ATTACHMENT_LIMIT_TEXT = 'Files up to 100 MB'
/** Bytes of an image's thumbnail once decoded (it travels inside the message). */
export const MAX_THUMBNAIL = 1024

// Words the user reads: plurals, times, dates, message states and error codes in plain words.
import { MAX_NAME, MAX_TEXT } from './limits.js'

const number = new Intl.NumberFormat()

/** "1 peer", "2 peers", "1,200 characters". */
export function plural (n, one, many = `${one}s`) {
  return `${number.format(n)} ${n === 1 ? one : many}`
}

export function formatNumber (n) { return number.format(n) }

const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 })
/** "512 bytes", "12 KB", "3.4 MB": powers of 1024, as the 100 MB limit counts. */
export function formatSize (bytes) {
  const n = Number(bytes) || 0
  if (n < 1024) return plural(n, 'byte')
  if (n < 1024 * 1024) return `${oneDecimal.format(Math.round(n / 1024 * 10) / 10)} KB`
  if (n < 1024 ** 3) return `${oneDecimal.format(Math.round(n / 1024 ** 2 * 10) / 10)} MB`
  return `${oneDecimal.format(Math.round(n / 1024 ** 3 * 10) / 10)} GB`
}

/** Whether an attachment is shown as a picture (thumbnail, then the image itself). */
export function isImage (a) {
  return typeof a?.mime === 'string' && /^image\/(png|jpeg|gif|webp|avif|bmp)$/i.test(a.mime)
}

/** A message in one line, for the list and the live region: its text, else what it carries. */
export function summary (m) {
  if (m === undefined || m === null) return ''
  if (typeof m.text === 'string' && m.text !== '') return m.text
  const files = Array.isArray(m.attachments) ? m.attachments : []
  // A message with no text carries a file, even where the node's preview does not list it.
  if (files.length === 0) return m.deleted === true ? '' : 'Attachment'
  if (files.length === 1) return `${isImage(files[0]) ? 'Photo' : 'File'}: ${files[0].name}`
  return plural(files.length, 'file')
}

export function timeOf (ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}

function startOfDay (ms) {
  const d = new Date(ms)
  d.setHours(0, 0, 0, 0)
  return d.getTime()
}

/** The key two messages share when they were sent the same local day. */
export function dayKey (ms) { return startOfDay(ms) }

/** "Today", "Yesterday", "Monday" within a week, else the date. */
export function dayLabel (ms, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000)
  if (days === 0) return 'Today'
  if (days === 1) return 'Yesterday'
  if (days > 1 && days < 7) return new Date(ms).toLocaleDateString([], { weekday: 'long' })
  return new Date(ms).toLocaleDateString([], { day: 'numeric', month: 'long', year: new Date(ms).getFullYear() === new Date(now).getFullYear() ? undefined : 'numeric' })
}

/** For the conversation list: the time today, else a short date. */
export function listTime (ms, now = Date.now()) {
  if (startOfDay(ms) === startOfDay(now)) return timeOf(ms)
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000)
  if (days === 1) return 'Yesterday'
  return new Date(ms).toLocaleDateString([], { day: 'numeric', month: 'short' })
}

export function dateOf (ms) {
  return new Date(ms).toLocaleDateString([], { day: 'numeric', month: 'long' })
}

/** Why a message was not sent, from its error code. */
const FAILURE = {
  ERR_IDENTITY_CHANGED: 'their safety number changed; verify them first',
  ERR_CONTACT_BLOCKED: 'you blocked this contact',
  ERR_MESSAGE_TOO_LONG: `a message has at most ${formatNumber(MAX_TEXT)} characters`,
  ERR_SEAL: 'it could not be encrypted for them',
  ERR_NO_SESSION: 'their node could not be found on the network',
  ERR_NO_RECORD: 'their node could not be found on the network',
  ERR_RECORD_NOT_FOUND: 'their node could not be found on the network',
  ERR_BUNDLE_EXPIRED: 'their published keys have expired; they need to start Sotto',
  ERR_NO_MAILBOX_PEER: 'no peer could hold it for them',
  ERR_REFUSED: 'their node refused it',
  ERR_PROTOCOL: 'their node answered something unexpected',
  ERR_TIMEOUT: 'the network did not answer in time',
  ERR_EXPIRED: 'it could not be delivered for too long'
}

export function failureReason (code) {
  if (code === undefined || code === null || code === '') return 'unknown reason'
  return FAILURE[code] ?? `an error (${code})`
}

/** What an outgoing bubble says about its message. Incoming ones say nothing. */
export function stateLabel (m) {
  if (m.direction !== 'out') return ''
  switch (m.state) {
    case 'sending': return 'sending…'
    case 'stored': return 'stored for later'
    case 'delivered': return 'delivered'
    case 'read': return 'read'
    case 'failed': return 'not sent'
    default: return m.state
  }
}

/** The longer explanation under a bubble, when its state has one. */
export function stateNote (m) {
  if (m.direction !== 'out') return ''
  const error = m.lastError ?? m.error
  if (m.state === 'sending' && error === 'ERR_NO_SESSION') return 'Waiting: their node has not been found on the network yet, retrying.'
  if (m.state === 'sending' && error) return 'Waiting: no peer can hold it yet, retrying.'
  if (m.state === 'stored' && typeof m.mailboxes === 'number' && m.mailboxes > 0) {
    return `Stored in ${plural(m.mailboxes, 'mailbox', 'mailboxes')}${typeof m.storedUntil === 'number' ? ` until ${dateOf(m.storedUntil)}` : ''}.`
  }
  if (m.state === 'failed') return `Not sent: ${failureReason(error)}.`
  return ''
}

function sentence (text) {
  const t = String(text ?? '').trim()
  if (t === '') return 'Something went wrong.'
  const s = t[0].toUpperCase() + t.slice(1)
  return /[.!?…]$/.test(s) ? s : `${s}.`
}

/** An API error code in plain words; the node's own message when nothing better is known. */
export function errorText (code, message, detail = {}) {
  switch (code) {
    case 'ERR_OFFLINE': return 'Sotto is not answering. Reconnecting…'
    case 'ERR_WRONG_PASSPHRASE': return 'Wrong passphrase.'
    case 'ERR_UNLOCK_THROTTLED':
    case 'ERR_UNLOCK_BUSY': {
      const s = Math.max(1, Math.ceil((detail.retryAfterMs ?? 1000) / 1000))
      return `Too many tries. Wait ${plural(s, 'second')}.`
    }
    case 'ERR_SESSION_ID_POINT': return 'This is not a valid Session ID.'
    case 'ERR_SESSION_ID_PREFIX': return 'A Session ID starts with 05.'
    case 'ERR_SESSION_ID_LENGTH': return 'A Session ID has 66 characters.'
    case 'ERR_SESSION_ID_HEX': return 'A Session ID has only the digits 0-9 and letters a-f.'
    case 'ERR_SELF': return 'That is your own Session ID.'
    case 'ERR_CONTACT_NAME': return `A name has 1 to ${MAX_NAME} characters.`
    case 'ERR_MESSAGE_TOO_LONG': return `A message has at most ${formatNumber(MAX_TEXT)} characters.`
    case 'ERR_EMPTY_MESSAGE': return 'Write something first.'
    case 'ERR_CONTACT_BLOCKED': return 'You blocked this contact. Unblock them to write.'
    case 'ERR_UNKNOWN_CONTACT': return 'This contact no longer exists.'
    case 'ERR_ACCOUNT_EXISTS': return 'There is already an account on this node.'
    case 'ERR_NO_ACCOUNT': return 'There is no account on this node yet.'
    case 'ERR_LOCKED': return 'Sotto is locked.'
    case 'ERR_NOT_FOUND': return 'This node does not offer that yet; update Sotto.'
    case 'ERR_ATTACHMENT_TOO_LARGE': return 'This file is too large: files up to 100 MB can be sent.'
    case 'ERR_ATTACHMENT_NOT_READY': return 'This file has not fully arrived yet.'
    case 'ERR_PHRASE_LENGTH': return 'A recovery phrase has 12 or 24 words.'
    case 'ERR_PHRASE_UNKNOWN_WORD': return sentence(message ?? 'One word is not a recovery-phrase word')
    case 'ERR_PHRASE_CHECKSUM': return 'These words are not a valid recovery phrase. Check each word and their order.'
    default: return sentence(message)
  }
}

/** Initials for an avatar: two letters of the name, else two characters of the ID. */
export function initials (name, sessionId) {
  const words = String(name ?? '').trim().split(/\s+/).filter(Boolean)
  const letters = words.length >= 2 ? [...words[0]][0] + [...words[1]][0] : [...(words[0] ?? '')].slice(0, 2).join('')
  return (letters || sessionId.slice(2, 4)).toUpperCase()
}

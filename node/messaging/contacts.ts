/**
 * The contact book: who the user talks to, under which name, and in which state. Records
 * are keyed by the contact's Session ID, which the store hashes before it reaches the disk.
 * This module only stores and validates; the messenger decides what a change causes
 * (receipts, events).
 */
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { MessagingError } from './errors.js'
import type { Message } from './message-log.js'
import { TIMER_OFF, type TimerSetting } from './timer.js'

export type ContactState = 'accepted' | 'request' | 'blocked'
export const MAX_NAME_LENGTH = 64
/** Characters of a text kept in a contact's last-message preview. */
export const PREVIEW_LENGTH = 200

/** The newest message of a conversation, kept on the contact so a list needs no second query. */
export interface LastMessage {
  id: string
  text: string
  direction: Message['direction']
  sentAt: number
  state: Message['state']
  /**
   * A disappearing message: its text is not kept in the contact record (which has no
   * short-lived key) but read from the message's own row when the contact is read.
   */
  timed?: true
}

export interface Contact {
  sessionId: SessionId
  /** What a UI shows: the local name, else the contact's shared profile name, else the ID's start. */
  displayName: string
  /** The name the user gave this contact here; '' when none. */
  name: string
  /** The display name the contact shared with us (inside the session), if any. */
  profileName?: string
  /** Version of the profile profileName came from; older ones are ignored. */
  profileVersion?: number
  /** The version of our own profile this contact was last sent (queued in the outbox). */
  profileSentVersion?: number
  state: ContactState
  verified: boolean
  /** Set when the contact's identity key changed; cleared when the user re-verifies. */
  identityChanged: boolean
  addedAt: number
  unread: number
  lastMessageAt?: number
  lastMessage?: LastMessage
  /** The conversation's disappearing-message timer (timer.ts); off while never set. */
  timer: TimerSetting
}

export interface ContactChange { name?: unknown, state?: unknown, verified?: unknown }

const key = (id: SessionId) => ['contact', id] as const

/**
 * Control characters (ANSI escapes included) never belong in a name (C6), nor do the
 * invisible format characters that reorder or hide text (bidi overrides and isolates,
 * zero-width spaces and joiners): a shared name with U+202E could show as someone else's.
 */
function stripControl (name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, '').trim()
}

/** A name to show: 1 to 64 characters once control characters are stripped. */
export function cleanName (name: unknown, code = 'ERR_CONTACT_NAME'): string {
  if (typeof name !== 'string') throw new MessagingError(code, 'a name is a string')
  const cleaned = stripControl(name)
  if (cleaned.length === 0 || cleaned.length > MAX_NAME_LENGTH) {
    throw new MessagingError(code, `a name has 1 to ${MAX_NAME_LENGTH} characters`)
  }
  return cleaned
}

/** A local name, where '' (or only control characters and spaces) means "none". */
export function cleanLocalName (name: unknown): string {
  if (typeof name === 'string' && stripControl(name) === '') return ''
  return cleanName(name)
}

export function displayNameOf (c: Pick<Contact, 'sessionId' | 'name' | 'profileName'>): string {
  if (c.name !== '') return c.name
  if (c.profileName !== undefined && c.profileName !== '') return c.profileName
  return c.sessionId.slice(0, 10) + '…'
}

export function previewOf (m: Message): LastMessage {
  return { id: m.id, text: m.text.slice(0, PREVIEW_LENGTH), direction: m.direction, sentAt: m.sentAt, state: m.state, ...(m.timer === undefined ? {} : { timed: true as const }) }
}

/**
 * A record as stored (possibly by an older version) made current: older versions named new
 * contacts after their ID ("05ab12cd34ef…"); that was never the user's choice, so it counts
 * as no name and the profile name can show instead.
 */
export function currentContact (stored: Contact): Contact {
  const c: Contact = { ...stored }
  // Records from before timers existed have none: off.
  if (c.timer === undefined) c.timer = { ...TIMER_OFF }
  if (c.name === c.sessionId.slice(0, 12) + '…') c.name = ''
  c.displayName = displayNameOf(c)
  return c
}

/** A new contact record; `name` '' for none. */
export function newContact (id: SessionId, name: string, state: ContactState, now: number): Contact {
  return currentContact({ sessionId: id, displayName: '', name, state, verified: false, identityChanged: false, addedAt: now, unread: 0, timer: { ...TIMER_OFF } })
}

/** The contact with a user's change applied (name, state, verified), validated. */
export function applyChange (existing: Contact, change: ContactChange): Contact {
  const next: Contact = { ...existing }
  if (change.name !== undefined) next.name = cleanLocalName(change.name)
  if (change.state !== undefined) {
    if (change.state !== 'accepted' && change.state !== 'request' && change.state !== 'blocked') throw new MessagingError('ERR_CONTACT_STATE', 'unknown contact state')
    next.state = change.state
  }
  if (change.verified !== undefined) {
    if (typeof change.verified !== 'boolean') throw new MessagingError('ERR_CONTACT_VERIFIED', 'verified is true or false')
    next.verified = change.verified
    // Verifying again is how the user acknowledges a changed identity key (R3).
    if (next.verified) next.identityChanged = false
  }
  return currentContact(next)
}

/** The text of a disappearing last message, read from its row; undefined once it is gone. */
export type PreviewText = (peer: SessionId, id: string) => Promise<string | undefined>

export class ContactBook {
  constructor (private readonly store: SecureStore, private readonly now: () => number, private readonly previewText?: PreviewText) {}

  async get (id: SessionId): Promise<Contact | undefined> {
    const stored = await getJson<Contact>(this.store, key(id))
    return stored === undefined ? undefined : await this.withPreview(currentContact(stored))
  }

  async list (): Promise<Contact[]> {
    const out: Contact[] = []
    for await (const value of this.store.list(['contact'])) out.push(await this.withPreview(currentContact(JSON.parse(new TextDecoder().decode(value)) as Contact)))
    return out.sort((a, b) => (b.lastMessageAt ?? b.addedAt) - (a.lastMessageAt ?? a.addedAt))
  }

  private async withPreview (c: Contact): Promise<Contact> {
    if (c.lastMessage?.timed !== true || this.previewText === undefined) return c
    const text = await this.previewText(c.sessionId, c.lastMessage.id)
    return { ...c, lastMessage: { ...c.lastMessage, text: (text ?? '').slice(0, PREVIEW_LENGTH) } }
  }

  /**
   * Finds a contact by Session ID or, failing that, by its exact local name (case-insensitive).
   * A shared profile name counts only for accepted contacts without a local name, so a
   * stranger cannot take over a name the user typed by calling itself that.
   */
  async resolve (idOrName: string): Promise<Contact | SessionId> {
    try {
      const id = parseSessionId(idOrName)
      return (await this.get(id)) ?? id
    } catch {
      const wanted = idOrName.trim().toLowerCase()
      const all = await this.list()
      let matches = all.filter((c) => c.name !== '' && c.name.toLowerCase() === wanted)
      if (matches.length === 0) matches = all.filter((c) => c.name === '' && c.state === 'accepted' && c.profileName?.toLowerCase() === wanted)
      if (matches.length === 1) return matches[0]
      if (matches.length > 1) throw new MessagingError('ERR_CONTACT_AMBIGUOUS', `more than one contact is called "${idOrName}"; use the Session ID`)
      throw new MessagingError('ERR_UNKNOWN_CONTACT', `no contact called "${idOrName}" (and it is not a Session ID)`)
    }
  }

  /** Adds a contact (accepted); an existing one keeps its name, and a request becomes accepted. */
  async add (id: SessionId, name: unknown = ''): Promise<{ contact: Contact, existed: boolean }> {
    const cleaned = cleanLocalName(name)
    const existing = await this.get(id)
    if (existing !== undefined) {
      const contact = existing.state === 'request' ? applyChange(existing, { state: 'accepted' }) : existing
      if (contact !== existing) await this.store.batch([this.putOp(contact)])
      return { contact, existed: true }
    }
    const contact = newContact(id, cleaned, 'accepted', this.now())
    await this.store.batch([this.putOp(contact)])
    return { contact, existed: false }
  }

  async update (id: SessionId, change: ContactChange): Promise<Contact> {
    const existing = await this.get(id)
    if (existing === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
    const next = applyChange(existing, change)
    await this.store.batch([this.putOp(next)])
    return next
  }

  /**
   * The write that stores a contact, for the caller's batch (displayName made current). The
   * text of a disappearing last message stays out of it (see LastMessage.timed).
   */
  putOp (contact: Contact): StoreOp {
    const c = currentContact(contact)
    if (c.lastMessage?.timed === true) c.lastMessage = { ...c.lastMessage, text: '' }
    return { type: 'put', key: key(contact.sessionId), value: jsonValue(c) }
  }

  delOp (id: SessionId): StoreOp {
    return { type: 'del', key: key(id) }
  }
}

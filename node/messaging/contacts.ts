/**
 * The contact book: who the user talks to, under which name, and in which state. Records
 * are keyed by the contact's Session ID, which the store hashes before it reaches the disk.
 */
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { MessagingError } from './errors.js'

export type ContactState = 'accepted' | 'request' | 'blocked'
export const MAX_NAME_LENGTH = 64

export interface Contact {
  sessionId: SessionId
  name: string
  state: ContactState
  verified: boolean
  /** Set when the contact's identity key changed; cleared when the user re-verifies. */
  identityChanged: boolean
  addedAt: number
  unread: number
  lastMessageAt?: number
}

const key = (id: SessionId) => ['contact', id] as const

export function cleanName (name: unknown): string {
  if (typeof name !== 'string') throw new MessagingError('ERR_CONTACT_NAME', 'a contact needs a name')
  // Control characters (ANSI escapes included) never belong in a name (C6).
  const cleaned = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim()
  if (cleaned.length === 0 || cleaned.length > MAX_NAME_LENGTH) {
    throw new MessagingError('ERR_CONTACT_NAME', `a contact name has 1 to ${MAX_NAME_LENGTH} characters`)
  }
  return cleaned
}

export class ContactBook {
  constructor (private readonly store: SecureStore, private readonly now: () => number) {}

  async get (id: SessionId): Promise<Contact | undefined> {
    return await getJson<Contact>(this.store, key(id))
  }

  async list (): Promise<Contact[]> {
    const out: Contact[] = []
    for await (const value of this.store.list(['contact'])) out.push(JSON.parse(new TextDecoder().decode(value)) as Contact)
    return out.sort((a, b) => (b.lastMessageAt ?? b.addedAt) - (a.lastMessageAt ?? a.addedAt))
  }

  /** Finds a contact by Session ID or, failing that, by its exact name (case-insensitive). */
  async resolve (idOrName: string): Promise<Contact | SessionId> {
    try {
      const id = parseSessionId(idOrName)
      return (await this.get(id)) ?? id
    } catch {
      const wanted = idOrName.trim().toLowerCase()
      const matches = (await this.list()).filter((c) => c.name.toLowerCase() === wanted)
      if (matches.length === 1) return matches[0]
      if (matches.length > 1) throw new MessagingError('ERR_CONTACT_AMBIGUOUS', `more than one contact is called "${idOrName}"; use the Session ID`)
      throw new MessagingError('ERR_UNKNOWN_CONTACT', `no contact called "${idOrName}" (and it is not a Session ID)`)
    }
  }

  async add (id: SessionId, name: string): Promise<Contact> {
    const existing = await this.get(id)
    const contact: Contact = existing === undefined
      ? { sessionId: id, name: cleanName(name), state: 'accepted', verified: false, identityChanged: false, addedAt: this.now(), unread: 0 }
      : { ...existing, name: cleanName(name), state: 'accepted' }
    await this.store.put(key(id), jsonValue(contact))
    return contact
  }

  async update (id: SessionId, change: Partial<Pick<Contact, 'name' | 'state' | 'verified'>>): Promise<Contact> {
    const existing = await this.get(id)
    if (existing === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
    const next: Contact = { ...existing }
    if (change.name !== undefined) next.name = cleanName(change.name)
    if (change.state !== undefined) {
      if (!['accepted', 'request', 'blocked'].includes(change.state)) throw new MessagingError('ERR_CONTACT_STATE', 'unknown contact state')
      next.state = change.state
    }
    if (change.verified !== undefined) {
      next.verified = change.verified === true
      // Verifying again is how the user acknowledges a changed identity key (R3).
      if (next.verified) next.identityChanged = false
    }
    await this.store.put(key(id), jsonValue(next))
    return next
  }

  async remove (id: SessionId): Promise<void> {
    await this.store.del(key(id))
  }

  /** The write that records an incoming message on the contact, for the caller's batch. */
  putOp (contact: Contact): StoreOp {
    return { type: 'put', key: key(contact.sessionId), value: jsonValue(contact) }
  }
}

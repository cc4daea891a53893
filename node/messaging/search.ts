/**
 * Search over contacts and the decrypted message log, inside the node: the query and the
 * results never leave it except as the API's answer. Messages are matched by a
 * case-insensitive substring, newest first; a conversation is read from its newest message
 * backwards and only until it has given `MAX_SEARCH_MESSAGES` matches, since no older one
 * could be among the newest overall.
 */
import type { Contact, ContactBook } from './contacts.js'
import { MessagingError } from './errors.js'
import type { Message, MessageLog } from './message-log.js'

export const MAX_QUERY_LENGTH = 100
export const MAX_SEARCH_MESSAGES = 50

export interface SearchResult { contacts: Contact[], messages: Message[] }

/** A query of 1..100 characters once trimmed (ERR_SEARCH_QUERY). */
export function cleanQuery (q: unknown): string {
  if (typeof q !== 'string' || q.trim().length === 0 || q.length > MAX_QUERY_LENGTH) {
    throw new MessagingError('ERR_SEARCH_QUERY', `a search has 1 to ${MAX_QUERY_LENGTH} characters`)
  }
  return q.trim()
}

const timeOf = (m: Message): number => m.receivedAt ?? m.sentAt

export async function search (contacts: ContactBook, log: MessageLog, query: unknown): Promise<SearchResult> {
  const needle = cleanQuery(query).toLowerCase()
  const all = await contacts.list()
  const matchingContacts = all.filter((c) =>
    c.name.toLowerCase().includes(needle) ||
    (c.profileName?.toLowerCase().includes(needle) ?? false) ||
    c.sessionId.startsWith(needle))
  const messages: Message[] = []
  for (const c of all) messages.push(...await log.search(c.sessionId, needle, MAX_SEARCH_MESSAGES))
  messages.sort((a, b) => timeOf(b) - timeOf(a))
  return { contacts: matchingContacts, messages: messages.slice(0, MAX_SEARCH_MESSAGES) }
}

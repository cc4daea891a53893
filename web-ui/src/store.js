// The app's state as signals. A view that reads a signal re-renders when, and only when, that
// signal changes, so an incoming message redraws its conversation and the list, not a form
// someone is typing in. Writes go through actions.js and events.js; views only read and call.
import { computed, signal } from '@preact/signals'

/** Which full screen shows: loading, signed-out, welcome, create, restore, phrase, confirm, unlock, main. */
export const screen = signal('loading')
/** GET /api/status, kept fresh by the `status` event. */
export const status = signal(null)
/** 'online', or 'away' while the node does not answer (the banner says reconnecting). */
export const connection = signal('online')
/** Contacts by Session ID, as the node last described them. */
export const contacts = signal(new Map())
/** The right-hand side of the main screen: null, { kind: 'chat'|'contact', peer } or { kind: 'settings' }. */
export const pane = signal(null)
/** The open conversation's messages, oldest first (only one conversation is held). */
export const conversation = signal({ peer: null, messages: [], loaded: false })
/** The phrase between account creation and its confirmation; dropped right after. */
export const newPhrase = signal(null)
/** GET /api/settings, once loaded. */
export const settings = signal(null)
/** GET /api/profile: the display name shared with contacts. */
export const profile = signal(null)
/** 'system', 'light' or 'dark'. Kept in this browser too, so the first paint is right. */
export const theme = signal(readLocal('sotto.theme', 'system'))
/** A short message for an action that has no form to show its error in. */
export const toast = signal(null)
/** The live region's text: only new incoming messages are announced. */
export const announcement = signal('')
/** The search box's text. */
export const query = signal('')
/** GET /api/search answers for `query`: { q, contacts, messages } or null. */
export const searchResults = signal(null)
/** Whether the page is visible (a message arriving while it is hidden stays unread). */
export const visible = signal(typeof document === 'undefined' || document.visibilityState === 'visible')
/** Endpoints the node answered 404 for: their features hide. */
export const missing = signal(new Set())
/** Whether the one-time note on delayed read receipts was dismissed. */
export const receiptNoteSeen = signal(readLocal('sotto.receiptNoteSeen', '') === 'yes')

export function readLocal (key, fallback) {
  try { return localStorage.getItem(key) ?? fallback } catch { return fallback }
}

export function writeLocal (key, value) {
  try { localStorage.setItem(key, value) } catch { /* private mode: the setting lasts this visit */ }
}

export function has (feature) { return !missing.value.has(feature) }

export function markMissing (feature) {
  if (missing.value.has(feature)) return
  missing.value = new Set([...missing.value, feature])
}

/** The name to show: the node's displayName (local name, else the one they shared). */
export function nameOf (c) {
  if (c === undefined || c === null) return ''
  return c.displayName || c.name || c.profileName || `${c.sessionId.slice(0, 10)}…`
}

/** When a contact last had news, for sorting the list. */
export function lastActivity (c) {
  return c.lastMessage?.sentAt ?? c.lastMessageAt ?? c.addedAt ?? 0
}

export const sortedContacts = computed(() => [...contacts.value.values()].sort((a, b) => lastActivity(b) - lastActivity(a)))
export const requests = computed(() => sortedContacts.value.filter((c) => c.state === 'request'))
export const chats = computed(() => sortedContacts.value.filter((c) => c.state !== 'request'))
export const currentPeer = computed(() => pane.value?.kind === 'chat' || pane.value?.kind === 'contact' ? pane.value.peer : null)
export const currentContact = computed(() => contacts.value.get(currentPeer.value ?? '') ?? null)

/** Unread messages, not counting the conversation on screen (it is being read). */
export function unreadOf (c) {
  if (pane.value?.kind === 'chat' && pane.value.peer === c.sessionId && visible.value) return 0
  return c.unread ?? 0
}

export const totalUnread = computed(() => {
  let n = 0
  for (const c of contacts.value.values()) if (c.state !== 'blocked') n += unreadOf(c)
  return n
})

export function putContact (c) {
  const next = new Map(contacts.value)
  next.set(c.sessionId, c)
  contacts.value = next
}

export function dropContact (sessionId) {
  const next = new Map(contacts.value)
  next.delete(sessionId)
  contacts.value = next
}

/**
 * How far a message got. A state only moves forward (a late "delivered" never undoes "read"),
 * with two exceptions the node makes too: "sending" may end as "failed", and a failed message
 * may be sent again.
 */
const RANK = { sending: 1, stored: 2, delivered: 3, received: 3, read: 4 }
export function later (a, b) {
  if (b === 'failed') return a === 'sending' || a === undefined ? 'failed' : a
  if (a === 'failed') return b
  return (RANK[b] ?? 0) > (RANK[a] ?? 0) ? b : a
}

/** Replaces (or appends) one message of the open conversation, merging what is known of it. */
export function putMessage (m) {
  const conv = conversation.value
  if (conv.peer !== m.peer) return
  const i = conv.messages.findIndex((x) => x.id === m.id)
  const messages = conv.messages.slice()
  if (i === -1) messages.push(m)
  else messages[i] = { ...messages[i], ...m, state: m.state === undefined ? messages[i].state : later(messages[i].state, m.state) }
  conversation.value = { ...conv, messages }
}

/** Turns a message of the open conversation into a tombstone (deleted here or by its sender). */
export function markDeleted (peer, id) {
  const conv = conversation.value
  if (conv.peer !== peer || !conv.messages.some((m) => m.id === id)) return
  conversation.value = { ...conv, messages: conv.messages.map((m) => m.id === id ? { ...m, text: '', deleted: true, quote: undefined } : m) }
}

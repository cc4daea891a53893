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
/** Groups by id, as the node last described them (GET /api/groups, the `group` event). */
export const groups = signal(new Map())
/**
 * The right-hand side of the main screen: null, { kind: 'chat'|'contact', peer },
 * { kind: 'group'|'group-info', peer } (peer: the group id) or { kind: 'settings' }.
 */
export const pane = signal(null)
/** The open conversation's messages, oldest first (only one conversation is held; for a group, peer is its id). */
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
/** Whether the one-time note on what disappearing messages protect against was shown. */
export const timerNoteSeen = signal(readLocal('sotto.timerNoteSeen', '') === 'yes')

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

/** When a group last had news: its last message, else when this page first saw it. */
export function groupActivity (g) {
  return g.lastMessage?.sentAt ?? g.lastMessageAt ?? g.seenAt ?? 0
}

/** A contact or a group, as one entry of the conversation list: { kind, id, at, item }. */
const entryOfContact = (c) => ({ kind: 'contact', id: c.sessionId, at: lastActivity(c), item: c })
const entryOfGroup = (g) => ({ kind: 'group', id: g.id, at: groupActivity(g), item: g })

export const sortedContacts = computed(() => [...contacts.value.values()].sort((a, b) => lastActivity(b) - lastActivity(a)))
/** Message requests: strangers who wrote first, and group invites from people who are not contacts. */
export const requests = computed(() => [
  ...sortedContacts.value.filter((c) => c.state === 'request').map(entryOfContact),
  ...[...groups.value.values()].filter((g) => g.state === 'request').map(entryOfGroup)
].sort((a, b) => b.at - a.at))
/** 1:1 conversations and groups together, latest activity first. */
export const chats = computed(() => [
  ...sortedContacts.value.filter((c) => c.state !== 'request').map(entryOfContact),
  ...[...groups.value.values()].filter((g) => g.state !== 'request').map(entryOfGroup)
].sort((a, b) => b.at - a.at))
export const currentPeer = computed(() => pane.value?.kind === 'chat' || pane.value?.kind === 'contact' ? pane.value.peer : null)
export const currentContact = computed(() => contacts.value.get(currentPeer.value ?? '') ?? null)
export const currentGroup = computed(() => pane.value?.kind === 'group' || pane.value?.kind === 'group-info' ? groups.value.get(pane.value.peer) ?? null : null)

/** Unread messages, not counting the conversation on screen (it is being read). */
export function unreadOf (c) {
  if (pane.value?.kind === 'chat' && pane.value.peer === c.sessionId && visible.value) return 0
  return c.unread ?? 0
}

export function unreadOfGroup (g) {
  if (pane.value?.kind === 'group' && pane.value.peer === g.id && visible.value) return 0
  return g.unread ?? 0
}

export const totalUnread = computed(() => {
  let n = 0
  for (const c of contacts.value.values()) if (c.state !== 'blocked') n += unreadOf(c)
  for (const g of groups.value.values()) n += unreadOfGroup(g)
  return n
})

/**
 * Replaces (or adds) a group. What only the page knows is kept: when it first saw the group
 * (for sorting one without messages) and who wrote its last message (the list's preview).
 */
export function putGroup (g) {
  const old = groups.value.get(g.id)
  const next = new Map(groups.value)
  const lastFrom = g.lastFrom ?? (old?.lastMessage?.id !== undefined && old.lastMessage.id === g.lastMessage?.id ? old.lastFrom : undefined)
  next.set(g.id, { ...g, seenAt: old?.seenAt ?? g.seenAt ?? Date.now(), lastFrom })
  groups.value = next
}

export function dropGroup (id) {
  const next = new Map(groups.value)
  next.delete(id)
  groups.value = next
}

/** The name an avatar takes its initials from: none for a stranger (the ID's digits show). */
export function avatarName (sessionId, self = status.value?.sessionId) {
  if (sessionId === self) return profile.value?.displayName ?? ''
  const c = contacts.value.get(sessionId)
  return c !== undefined ? nameOf(c) : ''
}

/** A member's name as this page knows it: "You", the contact's name, else the ID's start. */
export function memberName (sessionId, self = status.value?.sessionId) {
  if (sessionId === self) return 'You'
  const c = contacts.value.get(sessionId)
  return c !== undefined ? nameOf(c) : `${sessionId.slice(0, 10)}…`
}

export function putContact (c) {
  // A preview of a message whose time ran out is not shown again, whatever order the node's
  // `contact` and `messages-expired` events come in.
  if (c.lastMessage !== undefined && expiredIds.has(c.lastMessage.id)) c = { ...c, lastMessage: undefined }
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

/**
 * An attachment as the page keeps it: what the bubble shows, nothing more (a message event
 * may carry the node's own record of the file, key included: the key stays out of the page).
 */
export function fileView (a) {
  const v = { id: a.id ?? a.manifestId, name: String(a.name ?? 'file'), size: Number(a.size) || 0, mime: String(a.mime ?? '') }
  for (const k of ['state', 'received', 'thumbnail', 'waitingFor', 'sent', 'delivered', 'recipients']) if (a[k] !== undefined) v[k] = a[k]
  return v
}

/** Replaces (or appends) one message of the open conversation, merging what is known of it. */
export function putMessage (m) {
  if (Array.isArray(m.attachments)) m = { ...m, attachments: m.attachments.map(fileView) }
  const conv = conversation.value
  if (conv.peer !== m.peer) return
  // A disappeared message stays gone: a late state change or refresh does not bring it back.
  if (expiredIds.has(m.id)) return
  if (typeof m.expiresAt === 'number' && m.expiresAt <= Date.now()) { removeExpired(m.peer, [m.id]); return }
  const i = conv.messages.findIndex((x) => x.id === m.id)
  const messages = conv.messages.slice()
  if (i === -1) messages.push(m)
  else {
    const old = messages[i]
    const next = { ...old, ...m, state: m.state === undefined ? old.state : later(old.state, m.state) }
    // A file's account only moves forward too: a slower read of the node never undoes an event.
    if (Array.isArray(old.attachments) && Array.isArray(m.attachments)) {
      next.attachments = m.attachments.map((a) => {
        const was = old.attachments.find((x) => x.id === a.id)
        return was === undefined || a.state === undefined ? { ...was, ...a, state: a.state ?? was?.state } : mergeFile(was, a)
      })
    }
    messages[i] = next
  }
  conversation.value = { ...conv, messages }
}

/** Turns a message of the open conversation into a tombstone (deleted here or by its sender). */
export function markDeleted (peer, id) {
  const conv = conversation.value
  if (conv.peer !== peer || !conv.messages.some((m) => m.id === id)) return
  conversation.value = { ...conv, messages: conv.messages.map((m) => m.id === id ? { ...m, text: '', deleted: true, quote: undefined } : m) }
}

/**
 * How far a file got. Like a message's state it only moves forward, except that a failed
 * download may start again (Retry) and a retried one may fail.
 */
const FILE_RANK = { pending: 1, downloading: 2, ready: 3, uploading: 4, delivered: 5 }
export function laterFile (a, b) {
  if (b === undefined) return a
  if (a === 'failed' || b === 'failed') return a === 'ready' ? 'ready' : b
  return (FILE_RANK[b] ?? 0) >= (FILE_RANK[a] ?? 0) ? b : a
}

/** One attachment of one message of the open conversation changed (an `attachment` event, a retry). */
export function putAttachment (change) {
  const conv = conversation.value
  if (conv.peer !== change.peer) return
  let hit = false
  const messages = conv.messages.map((m) => {
    if (!Array.isArray(m.attachments) || (change.messageId !== undefined && m.id !== change.messageId)) return m
    if (!m.attachments.some((a) => a.id === change.id)) return m
    hit = true
    return { ...m, attachments: m.attachments.map((a) => a.id === change.id ? mergeFile(a, change) : a) }
  })
  if (hit) conversation.value = { ...conv, messages }
}

function mergeFile (a, change) {
  const state = laterFile(a.state, change.state)
  const restarted = a.state === 'failed' && state !== 'failed'
  const received = change.received === undefined ? a.received : restarted ? change.received : Math.max(a.received ?? 0, change.received)
  const next = { ...a, state, received }
  if (change.size !== undefined) next.size = change.size
  // A file we sent: how far its recipients got, which only grows too.
  if (change.sent !== undefined) next.sent = Math.max(a.sent ?? 0, change.sent)
  if (change.delivered !== undefined) next.delivered = Math.max(a.delivered ?? 0, change.delivered)
  if (change.recipients !== undefined) next.recipients = change.recipients
  if ('waitingFor' in change) next.waitingFor = change.waitingFor
  else if (state !== a.state) delete next.waitingFor
  return next
}

/**
 * A message read from the node, merged with what events told the page meanwhile: states only
 * move forward, and each file keeps the furthest of the two accounts.
 */
export function mergeLoaded (fromNode, inPage) {
  const files = Array.isArray(fromNode.attachments) ? fromNode.attachments.map(fileView) : undefined
  if (inPage === undefined) return files === undefined ? fromNode : { ...fromNode, attachments: files }
  const merged = { ...fromNode, ...inPage, state: later(fromNode.state, inPage.state) }
  if (files !== undefined) {
    merged.attachments = files.map((a) => {
      const seen = inPage.attachments?.find((x) => x.id === a.id)
      return seen === undefined || seen.state === undefined ? a : mergeFile(a, seen)
    })
  }
  return merged
}

/**
 * Ids of messages that disappeared (their timer ran out), so no event or reload shows them
 * again in this page. Bounded: the oldest are forgotten first; by then the node, which is the
 * authority, has long deleted them and will not send them again.
 */
const MAX_EXPIRED_IDS = 10_000
const expiredIds = new Set()

export function isExpired (id) { return expiredIds.has(id) }

/**
 * Disappearing messages whose time ran out (the node said so, or their countdown reached zero
 * here first): gone from the open conversation, and from the list's preview, which falls back
 * to the newest message left when the conversation is the open one (else the node's next
 * `contact` event brings it).
 */
export function removeExpired (peer, ids) {
  for (const id of ids) {
    expiredIds.delete(id)
    expiredIds.add(id)
  }
  while (expiredIds.size > MAX_EXPIRED_IDS) expiredIds.delete(expiredIds.values().next().value)
  const gone = new Set(ids)
  const conv = conversation.value
  if (conv.peer === peer && conv.messages.some((m) => gone.has(m.id))) {
    conversation.value = { ...conv, messages: conv.messages.filter((m) => !gone.has(m.id)) }
  }
  const left = conversation.value.peer === peer ? conversation.value.messages.filter((m) => m.event === undefined && m.deleted !== true) : []
  const newest = left[left.length - 1]
  const c = contacts.value.get(peer)
  if (c?.lastMessage !== undefined && gone.has(c.lastMessage.id)) {
    putContact({ ...c, lastMessage: newest === undefined ? undefined : { id: newest.id, text: newest.text, direction: newest.direction, sentAt: newest.sentAt, state: newest.state, attachments: newest.attachments } })
  }
  const g = groups.value.get(peer)
  if (g?.lastMessage !== undefined && gone.has(g.lastMessage.id)) {
    putGroup({ ...g, lastMessage: newest === undefined ? undefined : { id: newest.id, text: newest.text, direction: newest.direction, sentAt: newest.sentAt, state: newest.state }, lastFrom: newest?.from })
  }
}

// The node's Server-Sent Events into the store. Each event changes one piece of state, so only
// the views that show that piece redraw. A dropped stream means the node is away: api.js shows
// the banner and polls; when the node answers, the app reloads what it missed.
import { api, nodeAway } from './api.js'
import { summary } from './format.js'
import { onCallCandidates, onCallEvent } from './calls.js'
import { announcement, contacts, conversation, groups, markDeleted, memberName, nameOf, pane, putAttachment, putContact, putGroup, putMessage, readLocal, removeExpired, screen, settings, status, visible } from './store.js'
import { isTimerEvent, timerChangeText } from './timer.js'

let source = null
let handlers = { locked: () => {}, unlocked: () => {}, markRead: () => {}, markGroupRead: () => {}, contactRemoved: () => {}, groupRemoved: () => {} }

export function setEventHandlers (h) { handlers = { ...handlers, ...h } }

export function openEvents () {
  if (source !== null) return
  const es = new EventSource('/api/events')
  source = es
  const on = (name, fn) => es.addEventListener(name, (e) => {
    let data
    try { data = JSON.parse(e.data) } catch { return }
    fn(data)
  })
  on('message', onMessage)
  on('message-state', onMessageState)
  on('contact', onContact)
  on('contact-removed', ({ sessionId }) => handlers.contactRemoved(sessionId))
  on('message-deleted', ({ peer, id }) => markDeleted(peer, id))
  on('messages-expired', ({ peer, ids }) => { if (typeof peer === 'string' && Array.isArray(ids)) removeExpired(peer, ids) })
  on('group', onGroup)
  on('group-removed', ({ id }) => handlers.groupRemoved(id))
  on('attachment', onAttachment)
  on('call', onCallEvent)
  on('call-candidates', onCallCandidates)
  on('status', onStatus)
  on('locked', () => handlers.locked())
  es.onerror = () => {
    if (source !== es) return
    es.close()
    source = null
    nodeAway()
  }
}

export function closeEvents () {
  source?.close()
  source = null
}

/** A preview of a message for the list: what the contact shows as its last message. */
function preview (m) {
  return { id: m.id, text: m.deleted === true ? '' : summary(m), direction: m.direction, sentAt: m.sentAt, state: m.state, deleted: m.deleted }
}

function onMessage (m) {
  if (typeof m.group === 'string') { onGroupMessage(m); return }
  if (isTimerEvent(m)) { onTimerChange(m); return }
  const c = contacts.value.get(m.peer)
  if (c !== undefined && (c.lastMessage === undefined || (c.lastMessage.sentAt ?? 0) <= m.sentAt)) putContact({ ...c, lastMessage: preview(m) })
  if (conversation.value.peer === m.peer) putMessage(m)
  filesUnknown(m, m.peer)
  if (m.direction !== 'in') return
  const open = pane.value?.kind === 'chat' && pane.value.peer === m.peer
  if (open) handlers.markRead(m.peer)
  const name = nameOf(contacts.value.get(m.peer)) || 'someone'
  // The live region says only this: a new message, from whom, and its start.
  announcement.value = `New message from ${name}: ${summary(m).slice(0, 140)}`
  notify(name, open)
}

/**
 * A timer change (ours or theirs): a line in the open conversation, and said in the live
 * region when they made it. It is not a message: nothing unread, no notification.
 */
function onTimerChange (m) {
  if (conversation.value.peer === m.peer) putMessage(m)
  if (m.direction === 'in') announcement.value = `${timerChangeText(m.event, nameOf(contacts.value.get(m.peer)) || 'Someone')}.`
}

/** A group message: the group's preview (with who wrote it), the open view, the live region. */
function onGroupMessage (m) {
  if (isTimerEvent(m)) { onGroupTimerChange(m); return }
  const g = groups.value.get(m.group)
  if (g !== undefined && (g.lastMessage === undefined || (g.lastMessage.sentAt ?? 0) <= m.sentAt)) {
    // The unread count comes with the `group` event that follows.
    putGroup({ ...g, lastMessage: preview(m), lastMessageAt: m.sentAt, lastFrom: m.from })
  }
  if (conversation.value.peer === m.group) putMessage(m)
  filesUnknown(m, m.group)
  if (m.direction !== 'in') return
  const open = pane.value?.kind === 'group' && pane.value.peer === m.group
  if (open) handlers.markGroupRead(m.group)
  const who = typeof m.from === 'string' ? memberName(m.from) : 'someone'
  const where = g?.name ?? 'a group'
  announcement.value = `New message in ${where} from ${who}: ${summary(m).slice(0, 140)}`
  notify(`${who} in ${where}`, open)
}

/**
 * A group's timer change (any member's): a line in the open group, and said in the live
 * region when another member made it. Not a message: no preview, nothing unread, no notification.
 */
function onGroupTimerChange (m) {
  if (conversation.value.peer === m.group) putMessage(m)
  if (m.direction !== 'in') return
  const where = groups.value.get(m.group)?.name ?? 'a group'
  announcement.value = `${timerChangeText(m.event, typeof m.from === 'string' ? memberName(m.from) : 'Someone')} in ${where}.`
}

/** A group changed (created, joined, members, removed, left, read elsewhere). */
function onGroup (g) {
  putGroup(g)
}

function notify (name, open) {
  const enabled = settings.value?.notifications ?? readLocal('sotto.notifications', 'off') === 'on'
  if (!enabled || (open && visible.value) || typeof Notification === 'undefined' || Notification.permission !== 'granted') return
  // The text stays out of the notification: it would show on a locked screen.
  const n = new Notification('Sotto', { body: `New message from ${name}`, tag: 'sotto-message' })
  n.onclick = () => { window.focus(); n.close() }
}

function onMessageState (change) {
  const c = contacts.value.get(change.peer)
  if (c?.lastMessage?.id === change.id) putContact({ ...c, lastMessage: { ...c.lastMessage, state: change.state } })
  if (conversation.value.peer !== change.peer) return
  putMessage(change)
  // The event may not carry the details a state has (mailboxes, the error): read them.
  const detailMissing = (change.state === 'stored' && change.mailboxes === undefined) ||
    (change.state === 'failed' && change.lastError === undefined && change.error === undefined) ||
    change.state === 'sending'
  if (detailMissing) refreshMessage(change.peer, change.id)
}

/**
 * A file's bytes moved, arrived, or stopped. The event says how many bytes are here; when a
 * download stops (failed, or waiting for the sender to come online) the reason is read from
 * the node.
 */
function onAttachment (change) {
  putAttachment(change)
  if ((change.state === 'failed' || change.state === 'pending') && conversation.value.peer === change.peer) refreshFiles(change.peer, change.messageId)
}

/** A new message whose files come without their state: the node is asked where they are. */
function filesUnknown (m, peer) {
  if (Array.isArray(m.attachments) && m.attachments.some((a) => a.state === undefined) && conversation.value.peer === peer) refreshFiles(peer, m.id)
}

function refreshFiles (peer, messageId) {
  const key = `files:${peer}`
  if (refreshing.has(key)) return
  refreshing.add(key)
  const path = groups.value.has(peer) ? `/api/groups/${peer}/messages?limit=100` : `/api/conversations/${peer}/messages?limit=100`
  api('GET', path)
    .then(({ messages }) => { for (const m of messages) if (m.id === messageId && Array.isArray(m.attachments)) putMessage({ id: m.id, peer, attachments: m.attachments }) })
    .catch(() => {})
    .finally(() => refreshing.delete(key))
}

const refreshing = new Set()
function refreshMessage (peer, id) {
  if (refreshing.has(peer)) return
  refreshing.add(peer)
  api('GET', `/api/conversations/${peer}/messages?limit=50`)
    .then(({ messages }) => { for (const m of messages) if (m.id === id || m.direction === 'out') putMessage(m) })
    .catch(() => {})
    .finally(() => refreshing.delete(peer))
}

function onContact (c) {
  const old = contacts.value.get(c.sessionId)
  putContact(old?.lastMessage !== undefined && c.lastMessage === undefined ? { ...c, lastMessage: old.lastMessage } : c)
}

function onStatus (s) {
  status.value = s
  if (s.state === 'unlocked' && screen.value === 'unlock') handlers.unlocked()
}

// What the user can do, as functions over the API and the store. Views call these and show
// the ApiError's message where it belongs; app-wide reactions (lock, sign-in, reconnect) are
// api.js's.
import { api, ApiError, upload } from './api.js'
import { summary } from './format.js'
import { closeEvents, openEvents } from './events.js'
import {
  contacts, conversation, currentPeer, dropContact, dropGroup, groups, has, markDeleted, newPhrase, pane, profile, putContact, putGroup,
  markMissing, mergeLoaded, putAttachment, putMessage, screen, searchResults, settings, status, theme, visible, writeLocal,
  isExpired
} from './store.js'

/** Screens the user is in the middle of: a reconnect or a status event must not leave them. */
const ONBOARDING = new Set(['create', 'restore', 'phrase', 'confirm'])

/** Reads the node's state and shows the screen that fits; after a reconnect too. */
export async function refreshAll () {
  const s = await api('GET', '/api/status')
  status.value = s
  openEvents()
  if (s.state === 'no-account') {
    if (!ONBOARDING.has(screen.value)) screen.value = 'welcome'
    return
  }
  if (s.state === 'locked') { showLocked(); return }
  if (screen.value === 'phrase' || screen.value === 'confirm') return
  await loadMain()
}

/** The unlock screen, with nothing personal left in memory for it to show. */
export function showLocked () {
  screen.value = 'unlock'
  contacts.value = new Map()
  groups.value = new Map()
  conversation.value = { peer: null, messages: [], loaded: false }
  searchResults.value = null
  settings.value = null
  profile.value = null
}

export function signedOut () {
  closeEvents()
  showLocked()
  screen.value = 'signed-out'
}

export async function loadMain () {
  const [s, list, groupList] = await Promise.all([api('GET', '/api/status'), api('GET', '/api/contacts'), fetchGroups()])
  status.value = s
  contacts.value = new Map(list.contacts.map((c) => [c.sessionId, c]))
  if (groupList !== undefined) setGroups(groupList)
  screen.value = 'main'
  const p = pane.value
  if ((p?.kind === 'chat' || p?.kind === 'contact') && !contacts.value.has(p.peer)) pane.value = null
  if ((p?.kind === 'group' || p?.kind === 'group-info') && !groups.value.has(p.peer)) pane.value = null
  if (pane.value?.kind === 'chat') await loadConversation(pane.value.peer)
  if (pane.value?.kind === 'group') await loadGroupConversation(pane.value.peer)
  void loadProfile()
}

export async function loadProfile () {
  try {
    profile.value = await api('GET', '/api/profile', undefined, { feature: 'profile' })
  } catch { /* hidden when missing; other failures already handled by api() */ }
}

// ------------------------------------------------------------------ account
export async function createAccount (passphrase, displayName) {
  const { phrase } = await api('POST', '/api/account/create', { passphrase })
  newPhrase.value = phrase.split(' ')
  screen.value = 'phrase'
  if (displayName !== '') {
    // The account exists already; a node without profiles just does not keep the name.
    await api('PUT', '/api/profile', { displayName }, { feature: 'profile' }).catch(() => {})
  }
}

export async function restoreAccount (phrase, passphrase) {
  await api('POST', '/api/account/restore', { phrase, passphrase })
  await loadMain()
}

export async function finishOnboarding () {
  newPhrase.value = null
  await loadMain()
}

export async function unlock (passphrase) {
  await api('POST', '/api/unlock', { passphrase })
  await loadMain()
}

export async function lock () {
  await api('POST', '/api/lock')
  showLocked()
}

// ------------------------------------------------------------------ contacts
/**
 * Adds a contact, or opens it when it is one already (its name stays as it is; a message
 * request becomes accepted). Answers { contact, existed }.
 */
export async function addContact (sessionId, name) {
  const known = contacts.value.get(sessionId)
  if (known !== undefined && known.state !== 'request') {
    openChat(sessionId)
    return { contact: known, existed: true }
  }
  if (known !== undefined) {
    const contact = await updateContact(sessionId, name === '' ? { state: 'accepted' } : { state: 'accepted', name })
    openChat(sessionId)
    return { contact, existed: true }
  }
  const body = name === '' ? { sessionId } : { sessionId, name }
  const { contact, existed } = await api('POST', '/api/contacts', body)
  putContact(contact)
  openChat(contact.sessionId)
  return { contact, existed: existed === true }
}

export async function updateContact (sessionId, change) {
  const { contact } = await api('PUT', `/api/contacts/${sessionId}`, change)
  putContact({ ...contacts.value.get(sessionId), ...contact })
  return contact
}

/**
 * Sets a conversation's disappearing-messages timer ({ mode, seconds }); the node sends the
 * change to the contact. The line it leaves in the conversation comes as a `message` event;
 * the conversation is read again too, for a node that sends none for our own change.
 */
export async function setTimer (sessionId, setting) {
  const { contact } = await api('PUT', `/api/contacts/${sessionId}/timer`, setting, { feature: 'timer' })
  putContact({ ...contacts.value.get(sessionId), ...contact })
  if (conversation.value.peer === sessionId) void loadConversation(sessionId).catch(() => {})
  return contact
}

export async function removeContact (sessionId) {
  await api('DELETE', `/api/contacts/${sessionId}`)
  contactRemoved(sessionId)
}

export async function safetyNumber (sessionId) {
  return await api('GET', `/api/contacts/${sessionId}/safety-number`)
}

// ------------------------------------------------------------------ conversations
export function openChat (peer) {
  pane.value = { kind: 'chat', peer }
  if (conversation.value.peer !== peer) void loadConversation(peer).catch(() => {})
  else void markRead(peer)
}

export function openContact (peer) { pane.value = { kind: 'contact', peer } }
export function openGroupInfo (id) { pane.value = { kind: 'group-info', peer: id } }
export function openSettings () { pane.value = { kind: 'settings' } }
export function closePane () { pane.value = null }

export async function loadConversation (peer) {
  if (conversation.value.peer !== peer) conversation.value = { peer, messages: [], loaded: false }
  const answer = await api('GET', `/api/conversations/${peer}/messages?limit=200`)
  if (conversation.value.peer !== peer) return
  // A disappearing message whose time is up is not shown, even before the node deleted it.
  const messages = answer.messages.filter((m) => !isExpired(m.id) && !(typeof m.expiresAt === 'number' && m.expiresAt <= Date.now()))
  // Events that arrived during the fetch are kept (putMessage merges and never goes back).
  const byId = new Map(conversation.value.messages.map((m) => [m.id, m]))
  conversation.value = { peer, messages: messages.map((m) => mergeLoaded(m, byId.get(m.id))), loaded: true }
  for (const m of byId.values()) if (!messages.some((x) => x.id === m.id)) putMessage(m)
  await markRead(peer)
}

/** Marks the open conversation read while the page is seen; the node sends the receipts. */
export async function markRead (peer) {
  if (!visible.value || pane.value?.kind !== 'chat' || pane.value.peer !== peer) return
  const c = contacts.value.get(peer)
  // A timer change is never unread (it is a line of the conversation, not a message).
  const unreadHere = conversation.value.peer === peer && conversation.value.messages.some((m) => m.direction === 'in' && m.state === 'received' && m.event === undefined)
  if ((c?.unread ?? 0) === 0 && !unreadHere) return
  try {
    await api('POST', `/api/conversations/${peer}/read`)
    const now = contacts.value.get(peer)
    if (now !== undefined && now.unread !== 0) putContact({ ...now, unread: 0 })
    // Burn-on-read: reading started the clocks; their ends (expiresAt) are read from the node.
    if (conversation.value.peer === peer && conversation.value.messages.some((m) => m.direction === 'in' && m.timer?.mode === 'after-read' && m.expiresAt === undefined)) {
      void refreshExpiries(peer).catch(() => {})
    }
  } catch { /* the badge stays; the next open tries again */ }
}

/** Takes the clocks (expiresAt) the node started for the open conversation's messages. */
async function refreshExpiries (peer) {
  const { messages } = await api('GET', `/api/conversations/${peer}/messages?limit=200`)
  const shown = new Set(conversation.value.peer === peer ? conversation.value.messages.map((m) => m.id) : [])
  for (const m of messages) if (typeof m.expiresAt === 'number' && shown.has(m.id)) putMessage({ id: m.id, peer, expiresAt: m.expiresAt })
}

export async function sendMessage (peer, text, quoteId, attachments = []) {
  const body = { to: peer, text }
  if (quoteId !== undefined) body.quote = quoteId
  if (attachments.length > 0) body.attachments = attachments
  const { message } = await api('POST', '/api/messages', body)
  putMessage(message)
  return message
}

export async function deleteMessage (peer, id, everyone) {
  await api('DELETE', `/api/conversations/${peer}/messages/${id}${everyone ? '?everyone=true' : ''}`, undefined, { feature: 'delete-message' })
  // The node keeps a tombstone either way (so a late copy is not shown again): so does the page.
  markDeleted(peer, id)
}

/** The node removed a contact (here, in another tab, or from the CLI). */
export function contactRemoved (sessionId) {
  dropContact(sessionId)
  if (currentPeer.value === sessionId) pane.value = null
  if (conversation.value.peer === sessionId) conversation.value = { peer: null, messages: [], loaded: false }
}

export async function resend (peer, id) {
  const answer = await api('POST', `/api/conversations/${peer}/messages/${id}/resend`, undefined, { feature: 'resend' })
  if (answer?.message !== undefined) putMessage(answer.message)
  else putMessage({ id, peer, state: 'sending', lastError: undefined, error: undefined })
}

export async function search (q) {
  const answer = await api('GET', `/api/search?q=${encodeURIComponent(q)}`, undefined, { feature: 'search' })
  return { contacts: answer.contacts ?? [], messages: answer.messages ?? [] }
}

// ------------------------------------------------------------------ attachments
/** Hands a chosen file to the node; answers { id, name, size, mime } to put in a message. */
export async function uploadAttachment (file, thumbnail, onProgress, signal) {
  return await upload(file, { name: file.name || 'file', mime: file.type, thumbnail, onProgress, signal })
}

/** Asks the node to fetch a file whose download failed again. */
export async function retryAttachment (peer, messageId, id) {
  const answer = await api('POST', `/api/attachments/${encodeURIComponent(id)}/retry`, undefined, { feature: 'attachments' })
  const a = answer?.attachment
  putAttachment({ id, peer, messageId, state: a?.state ?? 'pending', received: a?.received })
}

/** The address of an attachment's bytes on the node (images show inline; others download). */
export function attachmentUrl (id) { return `/api/attachments/${encodeURIComponent(id)}` }

let attachmentsProbed = false
/**
 * Whether the node takes files: asked once, with an id no file has (a node with the route
 * answers 400 or 404 with its own code; one without, 404 ERR_NOT_FOUND and the button hides).
 * Answers true once known to be there.
 */
export async function probeAttachments () {
  if (attachmentsProbed) return has('attachments')
  attachmentsProbed = true
  await api('GET', '/api/attachments/-', undefined, { feature: 'attachments' }).catch(() => {})
  return has('attachments')
}

// ------------------------------------------------------------------ groups
/** Reads the groups (a node without groups answers 404: the feature hides). */
export async function loadGroups () {
  const list = await fetchGroups()
  if (list !== undefined) setGroups(list)
}

async function fetchGroups () {
  try {
    return (await api('GET', '/api/groups', undefined, { feature: 'groups' })).groups
  } catch (err) {
    if (err instanceof Error && err.status === 404) return undefined
    throw err
  }
}

function setGroups (list) {
  const old = groups.value
  const next = new Map()
  for (const g of list) {
    const before = old.get(g.id)
    next.set(g.id, { ...g, seenAt: before?.seenAt ?? Date.now(), lastFrom: before?.lastMessage?.id === g.lastMessage?.id ? before?.lastFrom : undefined })
  }
  groups.value = next
  void fillLastSenders()
}

/**
 * The list says "Bob: hi": a group's lastMessage does not name its author, so the last message
 * of each group whose last word came from someone else is read once (the event stream keeps
 * it current after that).
 */
async function fillLastSenders () {
  for (const g of groups.value.values()) {
    if (g.lastMessage === undefined || g.lastMessage.direction !== 'in' || g.lastFrom !== undefined || g.lastMessage.from !== undefined) continue
    try {
      const { messages } = await api('GET', `/api/groups/${g.id}/messages?limit=1`)
      const m = messages[messages.length - 1]
      const now = groups.value.get(g.id)
      if (m !== undefined && now !== undefined && now.lastMessage?.id === m.id) putGroup({ ...now, lastFrom: m.from })
    } catch { /* the preview goes without the name */ }
  }
}

export function openGroup (id) {
  pane.value = { kind: 'group', peer: id }
  if (conversation.value.peer !== id) void loadGroupConversation(id).catch(() => {})
  else void markGroupRead(id)
}

export async function loadGroupConversation (id) {
  if (conversation.value.peer !== id) conversation.value = { peer: id, messages: [], loaded: false }
  const answer = await api('GET', `/api/groups/${id}/messages?limit=200`)
  if (conversation.value.peer !== id) return
  // A disappearing message whose time is up is not shown, even before the node deleted it.
  const messages = answer.messages.filter((m) => !isExpired(m.id) && !(typeof m.expiresAt === 'number' && m.expiresAt <= Date.now()))
  const byId = new Map(conversation.value.messages.map((m) => [m.id, m]))
  conversation.value = { peer: id, messages: messages.map((m) => mergeLoaded(m, byId.get(m.id))), loaded: true }
  for (const m of byId.values()) if (!messages.some((x) => x.id === m.id)) putMessage(m)
  await markGroupRead(id)
}

export async function markGroupRead (id) {
  if (!visible.value || pane.value?.kind !== 'group' || pane.value.peer !== id) return
  const g = groups.value.get(id)
  if (g === undefined || g.state === 'request') return
  const unreadHere = conversation.value.peer === id && conversation.value.messages.some((m) => m.direction === 'in' && m.state === 'received')
  if ((g.unread ?? 0) === 0 && !unreadHere) return
  try {
    const { group } = await api('POST', `/api/groups/${id}/read`)
    putGroup({ ...group, unread: 0 })
    // Burn-on-read: reading started the clocks; their ends (expiresAt) are read from the node.
    if (conversation.value.peer === id && conversation.value.messages.some((m) => m.direction === 'in' && m.timer?.mode === 'after-read' && m.expiresAt === undefined)) {
      void refreshGroupExpiries(id).catch(() => {})
    }
  } catch { /* the badge stays; the next open tries again */ }
}

/** Takes the clocks (expiresAt) the node started for the open group's messages. */
async function refreshGroupExpiries (id) {
  const { messages } = await api('GET', `/api/groups/${id}/messages?limit=200`)
  const shown = new Set(conversation.value.peer === id ? conversation.value.messages.map((m) => m.id) : [])
  for (const m of messages) if (typeof m.expiresAt === 'number' && shown.has(m.id)) putMessage({ id: m.id, peer: id, expiresAt: m.expiresAt })
}

/**
 * Sets a group's disappearing-messages timer ({ mode, seconds }); any member may. The node
 * sends the change to the members; the line it leaves comes as a `message` event, and the
 * conversation is read again too.
 */
export async function setGroupTimer (id, setting) {
  const { group } = await api('PUT', `/api/groups/${id}/timer`, setting, { feature: 'group-timer' })
  putGroup({ ...groups.value.get(id), ...group })
  if (conversation.value.peer === id) void loadGroupConversation(id).catch(() => {})
  return group
}

export async function createGroup (name, members) {
  const { group } = await api('POST', '/api/groups', { name, members }, { feature: 'groups' })
  putGroup(group)
  openGroup(group.id)
  return group
}

export async function sendGroupMessage (id, text, attachments = []) {
  const body = attachments.length > 0 ? { text, attachments } : { text }
  // A node that says it carries files in groups is taken at its word: its errors are its own.
  const carries = Array.isArray(status.value?.features) && status.value.features.includes('group-attachments')
  let message
  try {
    message = (await api('POST', `/api/groups/${id}/messages`, body)).message
  } catch (err) {
    // A node that does not know files in groups wants text: a file alone is "bad input" to it.
    if (!carries && attachments.length > 0 && text === '' && err.code === 'ERR_BAD_REQUEST') {
      markMissing('group-attachments')
      throw new ApiError(400, 'ERR_NO_GROUP_ATTACHMENTS', 'This node cannot send files to groups yet.')
    }
    throw err
  }
  if (!carries && attachments.length > 0 && !Array.isArray(message.attachments)) {
    // A node that sends files to contacts but not yet to groups drops the list: say so, and
    // stop offering it in groups.
    markMissing('group-attachments')
    putMessage(message)
    throw new ApiError(400, 'ERR_NO_GROUP_ATTACHMENTS', message.text === '' ? 'This node cannot send files to groups yet.' : 'Your text was sent, but not the file: this node cannot send files to groups yet.')
  }
  putMessage(message)
  const g = groups.value.get(id)
  if (g !== undefined && (g.lastMessage?.sentAt ?? 0) <= message.sentAt) {
    putGroup({ ...g, lastMessage: { id: message.id, text: message.text, direction: 'out', sentAt: message.sentAt, state: message.state }, lastMessageAt: message.sentAt, lastFrom: message.from })
  }
  return message
}

async function changeGroup (method, path, body) {
  const { group } = await api(method, path, body)
  putGroup(group)
  return group
}

export async function addGroupMember (id, sessionId) { return await changeGroup('POST', `/api/groups/${id}/members`, { sessionId }) }
export async function removeGroupMember (id, sessionId) { return await changeGroup('DELETE', `/api/groups/${id}/members/${sessionId}`) }
export async function setGroupAdmin (id, sessionId, admin) { return await changeGroup(admin ? 'PUT' : 'DELETE', `/api/groups/${id}/admins/${sessionId}`) }
export async function leaveGroup (id) { return await changeGroup('POST', `/api/groups/${id}/leave`) }

export async function acceptGroup (id) {
  await changeGroup('POST', `/api/groups/${id}/accept`)
  openGroup(id)
}

/** Deletes a group invite (or a group one has left) from this node, when the node can. */
export async function deleteGroup (id) {
  await api('DELETE', `/api/groups/${id}`, undefined, { feature: 'delete-group' })
  groupGone(id)
}

export function groupGone (id) {
  dropGroup(id)
  if (pane.value?.peer === id) pane.value = null
  if (conversation.value.peer === id) conversation.value = { peer: null, messages: [], loaded: false }
}

export function canDeleteGroup () { return has('delete-group') }

let deleteProbed = false
/**
 * Whether the node can delete a group invite: asked once, with an id no group has, so nothing
 * is deleted (a node with the route answers 400; one without, 404 and the button hides).
 */
export async function probeDeleteGroup () {
  if (deleteProbed) return
  deleteProbed = true
  await api('DELETE', '/api/groups/-', undefined, { feature: 'delete-group' }).catch(() => {})
}

// ------------------------------------------------------------------ settings
// Counts the themes the person picked, so a settings load that was already on its way
// when they picked one does not put the old theme back.
let themePicks = 0

export async function loadSettings () {
  const picksBefore = themePicks
  const [s, st] = await Promise.all([api('GET', '/api/settings'), api('GET', '/api/status')])
  settings.value = s
  status.value = st
  const known = s.theme === 'system' || s.theme === 'light' || s.theme === 'dark'
  if (known && themePicks === picksBefore) setTheme(s.theme, false)
  void loadProfile()
}

export async function saveSettings (change) {
  settings.value = await api('PUT', '/api/settings', change)
  return settings.value
}

export function setTheme (value, save = true) {
  theme.value = value
  writeLocal('sotto.theme', value)
  if (!save) return
  themePicks++
  void saveSettings({ theme: value }).catch(() => {})
}

export async function saveProfile (displayName) {
  profile.value = await api('PUT', '/api/profile', { displayName }, { feature: 'profile' })
  if (profile.value === null || typeof profile.value !== 'object' || !('displayName' in profile.value)) profile.value = { displayName }
}

export async function changePassphrase (current, next) {
  await api('POST', '/api/account/passphrase', { current, next }, { feature: 'passphrase' })
}

export async function recoveryPhrase (passphrase) {
  const { phrase } = await api('POST', '/api/account/phrase', { passphrase }, { feature: 'phrase' })
  return phrase.split(' ')
}

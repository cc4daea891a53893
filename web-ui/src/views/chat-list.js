// The left column: who you are, search, adding a contact, message requests and conversations
// (last message, its time, unread count).
import { useEffect, useRef, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { addContact, lock, openChat, openGroup, openSettings, search } from '../actions.js'
import { attempt } from '../api.js'
import { Avatar, GroupAvatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { Counter, ErrorText } from '../components/field.js'
import { listTime, plural, summary } from '../format.js'
import { html } from '../html.js'
import { MAX_NAME } from '../limits.js'
import { Qr } from '../qr.js'
import { inviteFor, parseInvite, sessionIdProblem } from '../session-id.js'
import { chats, contacts, groups, has, memberName, nameOf, pane, profile, query, searchResults, status, unreadOf, unreadOfGroup } from '../store.js'
import { NewGroupDialog } from './new-group.js'
import { RequestList } from './requests.js'

export function ChatList () {
  const searching = query.value.trim() !== ''
  return html`<nav class="sidebar" aria-label="Conversations and contacts">
    <${Me} />
    ${status.value?.rollback && html`<div class="banner" id=${IDS.rollbackBanner}>This data folder is an older copy than this computer had (restored from a backup?). Your conversations restarted their encryption; messages received after the copy was made may show again.</div>`}
    <${SearchBox} />
    ${searching ? html`<${SearchResults} />` : html`
      <${AddContact} />
      <${RequestList} />
      <${Conversations} />`}
  </nav>`
}

function Me () {
  const me = status.value?.sessionId ?? ''
  const [copied, setCopied] = useState(false)
  const [showQr, setShowQr] = useState(false)
  const name = profile.value?.displayName ?? ''
  return html`<div class="me">
    <div class="me-head">
      <${Avatar} sessionId=${me} name=${name} size=${40} />
      <div class="me-name">
        <strong>${name || 'You'}</strong>
        <span class="muted">Your Session ID</span>
      </div>
      <button class="icon" id=${IDS.settingsButton} aria-label="Settings" title="Settings" aria-current=${pane.value?.kind === 'settings' ? 'page' : undefined} onClick=${openSettings}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" d="M12 8.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7Zm8.6 2.1-1.9-.3a6.9 6.9 0 0 0-.7-1.6l1.1-1.6a.8.8 0 0 0-.1-1l-1.1-1.1a.8.8 0 0 0-1-.1l-1.6 1.1c-.5-.3-1-.5-1.6-.7l-.3-1.9a.8.8 0 0 0-.8-.7h-1.6a.8.8 0 0 0-.8.7l-.3 1.9c-.6.2-1.1.4-1.6.7L6.7 4.9a.8.8 0 0 0-1 .1L4.6 6.1a.8.8 0 0 0-.1 1l1.1 1.6c-.3.5-.5 1-.7 1.6l-1.9.3a.8.8 0 0 0-.7.8v1.6c0 .4.3.7.7.8l1.9.3c.2.6.4 1.1.7 1.6l-1.1 1.6a.8.8 0 0 0 .1 1l1.1 1.1c.3.3.7.3 1 .1l1.6-1.1c.5.3 1 .5 1.6.7l.3 1.9c.1.4.4.7.8.7h1.6c.4 0 .7-.3.8-.7l.3-1.9c.6-.2 1.1-.4 1.6-.7l1.6 1.1c.3.2.7.2 1-.1l1.1-1.1c.3-.3.3-.7.1-1l-1.1-1.6c.3-.5.5-1 .7-1.6l1.9-.3c.4-.1.7-.4.7-.8v-1.6a.8.8 0 0 0-.7-.8Z"/></svg>
      </button>
    </div>
    <div class="id" id=${IDS.ownId}>${me}</div>
    <div class="row tight">
      <button id=${IDS.copyId} title="Copy an invite others can paste" onClick=${async () => {
        await navigator.clipboard?.writeText(inviteFor(me)).catch(() => {})
        setCopied(true)
      }}>${copied ? 'Invite copied' : 'Copy invite'}</button>
      <button id=${IDS.showQr} onClick=${() => setShowQr(true)}>QR code</button>
      <button id=${IDS.lockButton} onClick=${attempt(lock)}>Lock</button>
    </div>
    ${showQr && html`<${Dialog} title="Your Session ID" onClose=${() => setShowQr(false)}>
      <p>Let a friend scan this to add you.</p>
      <${Qr} text=${inviteFor(me)} label="QR code of your invite" id=${IDS.ownQr} />
      <p class="id">${me}</p>
      <div class="row"><button onClick=${() => setShowQr(false)}>Close</button></div>
    <//>`}
  </div>`
}

/** Waits this long after the last key before asking the node, so typing does not flood it. */
const SEARCH_DEBOUNCE_MS = 200

function SearchBox () {
  const timer = useRef(undefined)
  const run = (q) => {
    clearTimeout(timer.current)
    if (q.trim() === '' || !has('search')) { searchResults.value = null; return }
    timer.current = setTimeout(() => {
      void search(q.trim()).then((r) => { if (query.value === q) searchResults.value = { q, ...r } }).catch(() => { if (query.value === q) searchResults.value = { q, contacts: [], messages: [] } })
    }, SEARCH_DEBOUNCE_MS)
  }
  useEffect(() => () => clearTimeout(timer.current), [])
  const label = has('search') ? 'Search contacts and messages' : 'Search contacts'
  return html`<div class="search" role="search">
    <input id=${IDS.search} type="search" aria-label=${label} placeholder="Search (Ctrl+K)" autocomplete="off" spellcheck="false"
      value=${query.value} onInput=${(e) => { query.value = e.currentTarget.value; run(e.currentTarget.value) }}
      onKeyDown=${(e) => { if (e.key === 'Escape') { query.value = ''; searchResults.value = null } }} />
  </div>`
}

function SearchResults () {
  const q = query.value.trim().toLowerCase()
  // Names are matched here too, so contacts are found even before the node answers.
  const local = [...contacts.value.values()].filter((c) => nameOf(c).toLowerCase().includes(q) || c.sessionId.startsWith(q))
  const remote = searchResults.value
  const found = new Map(local.map((c) => [c.sessionId, c]))
  for (const c of remote?.contacts ?? []) if (!found.has(c.sessionId)) found.set(c.sessionId, contacts.value.get(c.sessionId) ?? c)
  const messages = remote?.messages ?? []
  const pick = (peer) => { query.value = ''; searchResults.value = null; openChat(peer) }
  const pickGroup = (gid) => { query.value = ''; searchResults.value = null; openGroup(gid) }
  const resultWho = (m) => {
    if (typeof m.group !== 'string') return m.direction === 'out' ? 'You' : nameOf(contacts.value.get(m.peer)) || 'Someone'
    const g = groups.value.get(m.group)
    return `${m.direction === 'out' ? 'You' : typeof m.from === 'string' ? memberName(m.from) : 'Someone'} in ${g?.name ?? 'a group'}`
  }
  const foundGroups = [...groups.value.values()].filter((g) => g.name.toLowerCase().includes(q))
  return html`<section class="section" id=${IDS.searchResults} aria-label="Search results">
    <h2>Contacts</h2>
    ${found.size === 0 ? html`<p class="empty">No contact matches.</p>` : html`<ul class="list">
      ${[...found.values()].map((c) => html`<li key=${c.sessionId}><button class="entry" data-result-contact=${c.sessionId} onClick=${() => pick(c.sessionId)}>
        <${Avatar} sessionId=${c.sessionId} name=${nameOf(c)} size=${32} />
        <span class="entry-main"><span class="entry-name">${nameOf(c)}</span></span>
      </button></li>`)}
    </ul>`}
    ${foundGroups.length > 0 && html`<h2>Groups</h2><ul class="list">
      ${foundGroups.map((g) => html`<li key=${g.id}><button class="entry" data-result-group=${g.id} onClick=${() => pickGroup(g.id)}>
        <${GroupAvatar} id=${g.id} name=${g.name} size=${32} />
        <span class="entry-main"><span class="entry-name">${g.name}</span></span>
      </button></li>`)}
    </ul>`}
    ${has('search') && html`
      <h2>Messages</h2>
      ${remote === null ? html`<p class="empty">Searching…</p>` : messages.length === 0 ? html`<p class="empty">No message matches.</p>` : html`<ul class="list">
        ${messages.map((m) => html`<li key=${m.id}><button class="entry" data-result-message=${m.id} onClick=${() => typeof m.group === 'string' ? pickGroup(m.group) : pick(m.peer)}>
          <span class="entry-main">
            <span class="entry-name">${resultWho(m)}<span class="time">${listTime(m.sentAt)}</span></span>
            <span class="preview">${summary(m)}</span>
          </span>
        </button></li>`)}
      </ul>`}`}
  </section>`
}

function AddContact () {
  const [id, setId] = useState('')
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  const [note, setNote] = useState('')
  const onId = (value) => {
    const invite = parseInvite(value)
    if (invite !== undefined) {
      setId(invite.sessionId)
      if (name === '') setName(invite.name)
      setError('')
      return
    }
    setId(value)
    setNote('')
    setError(sessionIdProblem(value.trim()) ?? '')
  }
  const submit = async (e) => {
    e.preventDefault()
    const sessionId = id.trim().toLowerCase()
    const problem = sessionId === '' ? 'Paste a Session ID or an invite first.' : sessionIdProblem(sessionId)
    if (problem !== undefined) { setError(problem); return }
    try {
      const { contact, existed } = await addContact(sessionId, name.trim())
      setId('')
      setName('')
      setError('')
      setNote(existed ? `Already in your contacts as ${nameOf(contact)}.` : '')
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  return html`<form class="section add" onSubmit=${submit} noValidate aria-labelledby="add-title">
    <h2 id="add-title">Add a contact</h2>
    <label class="sr-only" for=${IDS.addContactId}>Session ID or invite</label>
    <input id=${IDS.addContactId} placeholder="Session ID (05…) or invite" autocomplete="off" spellcheck="false"
      aria-describedby=${IDS.addContactError} aria-invalid=${error ? 'true' : undefined}
      value=${id} onInput=${(e) => onId(e.currentTarget.value)} />
    <div class="with-counter">
      <label class="sr-only" for=${IDS.addContactName}>Name (optional)</label>
      <input id=${IDS.addContactName} placeholder="Name (optional)" autocomplete="off" maxLength=${MAX_NAME}
        aria-describedby="add-contact-name-count" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
      <${Counter} id="add-contact-name-count" length=${name.length} max=${MAX_NAME} />
    </div>
    <${ErrorText} id=${IDS.addContactError} text=${error} />
    ${note && html`<p class="note" id=${IDS.addContactNote}>${note}</p>`}
    <button class="primary" id=${IDS.addContactButton} type="submit">Add</button>
  </form>`
}

function Conversations () {
  const list = chats.value
  const [creating, setCreating] = useState(false)
  return html`<section class="section grow" aria-labelledby="conversations-title">
    <div class="section-head">
      <h2 id="conversations-title">Conversations</h2>
      ${has('groups') && html`<button class="small" id=${IDS.newGroupButton} onClick=${() => setCreating(true)}>New group</button>`}
    </div>
    ${list.length === 0 && html`<p class="empty">No conversations yet. Add a contact with their Session ID.</p>`}
    <ul class="list" id=${IDS.conversations}>
      ${list.map((e) => e.kind === 'group'
        ? html`<${GroupEntry} key=${`g-${e.id}`} group=${e.item} />`
        : html`<${ConversationEntry} key=${e.id} contact=${e.item} />`)}
    </ul>
    ${creating && html`<${NewGroupDialog} onClose=${() => setCreating(false)} />`}
  </section>`
}

/** "Bob: hi", "You: hi", or what happened to the group. */
export function groupPreview (g) {
  const last = g.lastMessage
  if (g.state === 'request') return 'invites you to a group'
  if (last === undefined) return g.left ? 'You left' : g.removed ? 'You were removed' : 'New group'
  if (last.deleted === true) return 'Message deleted'
  const who = last.direction === 'out' ? 'You' : typeof (g.lastFrom ?? last.from) === 'string' ? memberName(g.lastFrom ?? last.from) : ''
  return `${who === '' ? '' : `${who}: `}${summary(last)}`
}

function GroupEntry ({ group: g }) {
  const current = (pane.value?.kind === 'group' || pane.value?.kind === 'group-info') && pane.value.peer === g.id
  const unread = unreadOfGroup(g)
  const when = g.lastMessage?.sentAt ?? g.lastMessageAt
  return html`<li>
    <button class="entry" data-group=${g.id} aria-current=${current ? 'true' : 'false'} onClick=${() => openGroup(g.id)}>
      <${GroupAvatar} id=${g.id} name=${g.name} size=${40} />
      <span class="entry-main">
        <span class="entry-name"><span class="entry-title">${g.name}<span class="sr-only"> (group)</span></span>${when !== undefined && html`<span class="time">${listTime(when)}</span>`}</span>
        <span class="preview">${groupPreview(g)}</span>
      </span>
      ${unread > 0 && html`<span class="badge" aria-label=${plural(unread, 'unread message')}>${unread}</span>`}
    </button>
  </li>`
}

function ConversationEntry ({ contact: c }) {
  const current = pane.value?.kind === 'chat' && pane.value.peer === c.sessionId
  const last = c.lastMessage
  const unread = unreadOf(c)
  const preview = last === undefined ? (c.verified ? 'verified' : '')
    : last.deleted === true ? 'Message deleted'
      : `${last.direction === 'out' ? 'You: ' : ''}${summary(last)}`
  const when = last?.sentAt ?? c.lastMessageAt
  return html`<li>
    <button class="entry" data-contact=${c.sessionId} aria-current=${current ? 'true' : 'false'} onClick=${() => openChat(c.sessionId)}>
      <${Avatar} sessionId=${c.sessionId} name=${nameOf(c)} size=${40} />
      <span class="entry-main">
        <span class="entry-name">${nameOf(c)}${c.state === 'blocked' ? ' (blocked)' : ''}${when !== undefined && html`<span class="time">${listTime(when)}</span>`}</span>
        <span class="preview">${preview}</span>
      </span>
      ${unread > 0 && html`<span class="badge" aria-label=${plural(unread, 'unread message')}>${unread}</span>`}
    </button>
  </li>`
}

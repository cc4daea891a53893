// Message requests: strangers who wrote first. They wait in their own list; opening one shows
// what they wrote and a bar to accept (with a name, if you like), block or delete them.
import { useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { openChat, openGroup, removeContact, updateContact } from '../actions.js'
import { attempt } from '../api.js'
import { Avatar, GroupAvatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { ErrorText, Field } from '../components/field.js'
import { html } from '../html.js'
import { MAX_NAME } from '../limits.js'
import { nameOf, requests, unreadOf, unreadOfGroup } from '../store.js'
import { plural } from '../format.js'

export function RequestList () {
  const list = requests.value
  if (list.length === 0) return null
  return html`<section class="section" aria-labelledby="requests-title">
    <h2 id="requests-title">Message requests</h2>
    <ul class="list" id=${IDS.requests}>
      ${list.map(({ kind, item: c }) => kind === 'group' ? html`<li key=${`g-${c.id}`}>
        <button class="entry" data-group=${c.id} onClick=${() => openGroup(c.id)}>
          <${GroupAvatar} id=${c.id} name=${c.name} size=${36} />
          <span class="entry-main"><span class="entry-name">${c.name}<span class="sr-only"> (group)</span></span><span class="preview">invites you to a group</span></span>
          ${unreadOfGroup(c) > 0 && html`<span class="badge" aria-label=${plural(unreadOfGroup(c), 'unread message')}>${unreadOfGroup(c)}</span>`}
        </button>
      </li>` : html`<li key=${c.sessionId}>
        <button class="entry" data-contact=${c.sessionId} onClick=${() => openChat(c.sessionId)}>
          <${Avatar} sessionId=${c.sessionId} name=${nameOf(c)} size=${36} />
          <span class="entry-main"><span class="entry-name">${nameOf(c)}</span><span class="preview">wants to talk to you</span></span>
          ${unreadOf(c) > 0 && html`<span class="badge" aria-label=${plural(unreadOf(c), 'unread message')}>${unreadOf(c)}</span>`}
        </button>
      </li>`)}
    </ul>
  </section>`
}

export function RequestBar ({ contact }) {
  const [accepting, setAccepting] = useState(false)
  const [confirmDelete, setConfirmDelete] = useState(false)
  const shared = contact.profileName ? ` They call themselves "${contact.profileName}".` : ''
  return html`<div class="request-bar" id=${IDS.requestBar}>
    <p>${nameOf(contact)} is not in your contacts and wants to talk to you.${shared} They will not know you read this unless you accept.</p>
    <div class="row">
      <button class="primary" id=${IDS.acceptRequest} onClick=${() => setAccepting(true)}>Accept</button>
      <button onClick=${attempt(() => updateContact(contact.sessionId, { state: 'blocked' }))}>Block</button>
      <button class="danger" onClick=${() => setConfirmDelete(true)}>Delete</button>
    </div>
    ${accepting && html`<${AcceptDialog} contact=${contact} onClose=${() => setAccepting(false)} />`}
    ${confirmDelete && html`<${Dialog} title="Delete this request?" onClose=${() => setConfirmDelete(false)}>
      <p>The conversation goes too. If they write again, they show up as a new request.</p>
      <div class="row">
        <button class="danger" onClick=${attempt(async () => { await removeContact(contact.sessionId); setConfirmDelete(false) })}>Delete</button>
        <button onClick=${() => setConfirmDelete(false)}>Cancel</button>
      </div>
    <//>`}
  </div>`
}

function AcceptDialog ({ contact, onClose }) {
  const [name, setName] = useState(contact.name || contact.profileName || '')
  const [error, setError] = useState('')
  const submit = async (e) => {
    e.preventDefault()
    const trimmed = name.trim()
    try {
      await updateContact(contact.sessionId, trimmed === '' ? { state: 'accepted' } : { state: 'accepted', name: trimmed })
      onClose()
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  return html`<${Dialog} id=${IDS.acceptDialog} title="Accept this request" onClose=${onClose}>
    <form onSubmit=${submit} noValidate>
      <p>Give them a name only you see (optional). Without one, the name they share is shown.</p>
      <${Field} id=${IDS.acceptName} label="Name (optional)" value=${name} onInput=${setName} limit=${MAX_NAME} autocomplete="off" />
      <${ErrorText} id="accept-error" text=${error} />
      <div class="row">
        <button class="primary" id=${IDS.acceptConfirm} type="submit">Accept</button>
        <button type="button" onClick=${onClose}>Cancel</button>
      </div>
    </form>
  <//>`
}

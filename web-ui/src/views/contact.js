// One contact: their name (yours for them, and the one they share), Session ID, safety number
// (verify, or remove the verification), block, and delete with the conversation.
import { useEffect, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { closePane, openChat, removeContact, safetyNumber, updateContact } from '../actions.js'
import { attempt } from '../api.js'
import { Avatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { ErrorText, Field } from '../components/field.js'
import { useEditable } from '../editable.js'
import { html } from '../html.js'
import { MAX_NAME } from '../limits.js'
import { Qr } from '../qr.js'
import { nameOf } from '../store.js'

export function ContactView ({ contact }) {
  const field = useEditable(contact.name ?? '')
  const name = field.value
  const [error, setError] = useState('')
  const [saved, setSaved] = useState('')
  const [verifying, setVerifying] = useState(false)
  const [deleting, setDeleting] = useState(false)
  const rename = async (e) => {
    e.preventDefault()
    setError('')
    try {
      await updateContact(contact.sessionId, { name: name.trim() })
      field.saved()
      setSaved(name.trim() === '' ? 'Your name for them is cleared.' : 'Saved.')
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  return html`<section class="pane" id=${IDS.contactView} aria-labelledby="contact-title">
    <header class="pane-head">
      <button class="back icon" aria-label="Back to the conversation" onClick=${() => openChat(contact.sessionId)}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" d="M15 5l-7 7 7 7"/></svg>
      </button>
      <div class="title"><h2 id="contact-title">${nameOf(contact)}</h2></div>
      <div class="row tight"><button onClick=${() => openChat(contact.sessionId)}>Open the conversation</button></div>
    </header>
    <div class="page">
      <div class="profile-head">
        <${Avatar} sessionId=${contact.sessionId} name=${nameOf(contact)} size=${72} />
        <div>
          <p class="big">${nameOf(contact)}</p>
          ${contact.profileName && html`<p class="muted">Calls themselves "${contact.profileName}"</p>`}
          <p class="id">${contact.sessionId}</p>
        </div>
      </div>

      <form class="group" onSubmit=${rename} noValidate>
        <h3>Your name for them</h3>
        <${Field} id=${IDS.renameInput} label="Name (only you see it; empty shows the name they share)" value=${name} limit=${MAX_NAME}
          onInput=${(v) => { field.edit(v); setSaved('') }} autocomplete="off" error=${error} errorId=${IDS.renameError} />
        <div class="row"><button class="primary" id=${IDS.renameButton} type="submit">Save name</button>${saved && html`<span class="note" role="none">${saved}</span>`}</div>
      </form>

      <div class="group">
        <h3>Safety number</h3>
        <p>${contact.verified
          ? `You verified ${nameOf(contact)}: you compared your safety numbers and they matched.`
          : `Compare safety numbers with ${nameOf(contact)} to be sure nobody is in the middle.`}</p>
        <div class="row">
          <button id=${IDS.verifyButton} onClick=${() => setVerifying(true)}>${contact.verified ? 'Show the safety number' : 'Verify'}</button>
          ${contact.verified && html`<button id=${IDS.unverifyButton} onClick=${attempt(() => updateContact(contact.sessionId, { verified: false }))}>Remove verification</button>`}
        </div>
      </div>

      <div class="group">
        <h3>Block or delete</h3>
        <p>A blocked contact's messages are refused. Deleting removes the contact and the whole conversation from this computer.</p>
        <div class="row">
          <button id=${IDS.blockButton} onClick=${attempt(() => updateContact(contact.sessionId, { state: contact.state === 'blocked' ? 'accepted' : 'blocked' }))}>${contact.state === 'blocked' ? 'Unblock' : 'Block'}</button>
          <button class="danger" id=${IDS.deleteContact} onClick=${() => setDeleting(true)}>Delete contact</button>
        </div>
      </div>
    </div>
    ${verifying && html`<${VerifyDialog} contact=${contact} onClose=${() => setVerifying(false)} />`}
    ${deleting && html`<${Dialog} title=${`Delete ${nameOf(contact)}?`} onClose=${() => setDeleting(false)}>
      <p>The contact and all messages with them are deleted from this computer. This cannot be undone.</p>
      <div class="row">
        <button class="danger" id=${IDS.confirmDeleteContact} onClick=${attempt(async () => { await removeContact(contact.sessionId); setDeleting(false); closePane() })}>Delete</button>
        <button onClick=${() => setDeleting(false)} autofocus>Cancel</button>
      </div>
    <//>`}
  </section>`
}

export function VerifyDialog ({ contact, onClose }) {
  const [number, setNumber] = useState(null)
  const [error, setError] = useState('')
  useEffect(() => {
    safetyNumber(contact.sessionId).then(setNumber, (err) => { if (!err.handled) setError(err.message) })
  }, [contact.sessionId])
  const set = (verified) => attempt(async () => { await updateContact(contact.sessionId, { verified }); onClose() })
  return html`<${Dialog} id=${IDS.verifyDialog} title=${`Verify ${nameOf(contact)}`} onClose=${onClose}>
    <p>Compare these numbers with the ones on ${nameOf(contact)}'s screen, in person or on a call you trust. If they match, nobody is in the middle.</p>
    <div class="digits" id=${IDS.safetyNumber} aria-label="Safety number">${number !== null && number.digits.match(/\d{5}/g).map((g) => html`<span>${g}</span>`)}</div>
    ${number !== null && html`<div class="center"><${Qr} text=${number.digits} label="QR code of the safety number" id=${IDS.safetyQr} /></div>`}
    <${ErrorText} id="verify-error" text=${error} />
    <div class="row">
      ${contact.verified
        ? html`<button onClick=${set(false)}>Remove verification</button>`
        : html`<button class="primary" id=${IDS.markVerified} onClick=${set(true)} disabled=${number === null}>They match: mark as verified</button>`}
      <button id=${IDS.closeVerify} onClick=${onClose}>Close</button>
    </div>
  <//>`
}

// One conversation: header, banners, messages with date separators, the composer. Each
// bubble says honestly where its message is; messages can be copied, quoted in a reply,
// deleted (for me, or for both sides on your own), and resent when they were not sent.
import { signal } from '@preact/signals'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { closePane, deleteMessage, openContact, resend, sendMessage, updateContact } from '../actions.js'
import { attempt } from '../api.js'
import { AttachButton, AttachLimit, Attachments, attachFile, attachmentsOffered, FileChip, fileDraftOf, pasteInto, uploadedIdOf, useAttachmentProbe, useFileDrop } from '../components/attachment.js'
import { Avatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { Counter } from '../components/field.js'
import { dayKey, dayLabel, plural, stateLabel, stateNote, timeOf } from '../format.js'
import { html } from '../html.js'
import { MAX_TEXT } from '../limits.js'
import { Linkified } from '../linkify.js'
import { conversation, has, nameOf, receiptNoteSeen, toast, writeLocal } from '../store.js'
import { RequestBar } from './requests.js'
import { VerifyDialog } from './contact.js'
import { CallButtons, CallLine, useCallLines } from './call.js'
import { withCallLines } from '../calls.js'
import { Countdown, TimerButton, TimerLine, useExpiry } from '../components/timer.js'
import { isTimerEvent } from '../timer.js'

/** Half-written messages and replies, per conversation, kept while you look elsewhere. */
const drafts = new Map()
function draftOf (peer) {
  if (!drafts.has(peer)) drafts.set(peer, { text: signal(''), quote: signal(null) })
  return drafts.get(peer)
}

export function Conversation ({ contact }) {
  const [verifying, setVerifying] = useState(false)
  const draft = draftOf(contact.sessionId)
  const conv = conversation.value
  const messages = conv.peer === contact.sessionId ? conv.messages : []
  const hasOut = messages.some((m) => m.direction === 'out' && !isTimerEvent(m))
  const files = fileDraftOf(contact.sessionId)
  useAttachmentProbe()
  const drop = useFileDrop(attachmentsOffered() && contact.state !== 'blocked', (file, more) => attachFile(files, file, more))
  return html`<section class=${`pane${drop.over ? ' dropping' : ''}`} id=${IDS.conversation} aria-labelledby=${IDS.conversationTitle} ...${drop.props}>
    ${drop.over && html`<div class="drop-zone" id=${IDS.dropZone} aria-hidden="true"><span>Drop the file to attach it</span></div>`}
    <header class="pane-head">
      <button class="back icon" aria-label="Back to conversations" onClick=${closePane}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" d="M15 5l-7 7 7 7"/></svg>
      </button>
      <button class="who" id=${IDS.contactInfoButton} onClick=${() => openContact(contact.sessionId)} aria-label=${`About ${nameOf(contact)}`}>
        <${Avatar} sessionId=${contact.sessionId} name=${nameOf(contact)} size=${36} />
      </button>
      <div class="title">
        <h2 id=${IDS.conversationTitle}>${nameOf(contact)}</h2>
        ${contact.state === 'blocked' && html`<span class="muted">blocked</span>`}
      </div>
      <div class="row tight">
        <${TimerButton} contact=${contact} />
        <${CallButtons} contact=${contact} />
        <button id=${IDS.verifyButton} class=${contact.verified ? 'verified' : ''} onClick=${() => setVerifying(true)}>${contact.verified ? 'Verified ✓' : 'Verify'}</button>
        <button onClick=${() => openContact(contact.sessionId)}>Contact</button>
      </div>
    </header>
    ${contact.identityChanged && html`<div class="banner" id=${IDS.identityBanner}>${nameOf(contact)}'s safety number changed. Verify it before trusting new messages.</div>`}
    ${contact.state === 'request' && html`<${RequestBar} contact=${contact} />`}
    ${contact.state === 'blocked' && html`<div class="note-bar">You blocked ${nameOf(contact)}: their messages are refused. <button class="link" onClick=${attempt(() => updateContact(contact.sessionId, { state: 'accepted' }))}>Unblock</button></div>`}
    ${hasOut && !receiptNoteSeen.value && html`<div class="note-bar" id=${IDS.receiptNote}>
      "Read" arrives a few seconds to half a minute late, on purpose: the exact moment someone reads is not sent.
      <button class="link" onClick=${() => { receiptNoteSeen.value = true; writeLocal('sotto.receiptNoteSeen', 'yes') }}>Got it</button>
    </div>`}
    <${MessageList} contact=${contact} messages=${messages} loaded=${conv.loaded && conv.peer === contact.sessionId} draft=${draft} />
    <${Composer} key=${contact.sessionId} contact=${contact} draft=${draft} files=${files} />
    ${verifying && html`<${VerifyDialog} contact=${contact} onClose=${() => setVerifying(false)} />`}
  </section>`
}

function MessageList ({ contact, messages, loaded, draft }) {
  const list = useRef(null)
  const atBottom = useRef(true)
  const [deleting, setDeleting] = useState(null)
  const calls = useCallLines(contact.sessionId)
  useExpiry(contact.sessionId, messages)
  // Stay at the bottom as messages come, unless the user scrolled up to read.
  useLayoutEffect(() => {
    const el = list.current
    if (el !== null && atBottom.current) el.scrollTop = el.scrollHeight
  }, [messages.length, contact.sessionId])
  const items = []
  let day = null
  for (const m of withCallLines(messages, calls)) {
    const d = dayKey(m.sentAt)
    if (d !== day) {
      day = d
      items.push(html`<div class="day" role="separator" key=${`day-${d}`}><span>${dayLabel(m.sentAt)}</span></div>`)
    }
    if (m.callLine !== undefined) { items.push(html`<${CallLine} key=${m.id} line=${m.callLine} contact=${contact} />`); continue }
    items.push(isTimerEvent(m)
      ? html`<${TimerLine} key=${m.id} m=${m} contact=${contact} />`
      : html`<${Bubble} key=${m.id} m=${m} contact=${contact} draft=${draft} onDelete=${() => setDeleting(m)} />`)
  }
  return html`<div class="messages" id=${IDS.messages} ref=${list} tabIndex="0" aria-label=${`Messages with ${nameOf(contact)}`}
      onScroll=${(e) => { const el = e.currentTarget; atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40 }}>
    ${loaded && messages.length === 0 && !(calls?.length > 0) && html`<p class="placeholder">No messages yet. Say hello.</p>`}
    ${items}
    ${deleting !== null && html`<${DeleteDialog} m=${deleting} onClose=${() => setDeleting(null)} />`}
  </div>`
}

function Bubble ({ m, contact, draft, onDelete }) {
  const [menu, setMenu] = useState(false)
  const label = stateLabel(m)
  const note = stateNote(m)
  const failed = m.direction === 'out' && m.state === 'failed'
  const copy = async () => {
    setMenu(false)
    try { await navigator.clipboard.writeText(m.text); toast.value = { text: 'Copied.' } } catch { toast.value = { text: 'This browser did not allow copying.' } }
  }
  const reply = () => {
    setMenu(false)
    draft.quote.value = { id: m.id, text: m.text, fromMe: m.direction === 'out' }
    document.getElementById(IDS.composer)?.focus()
  }
  // The text comes first in the element (tests and copy-paste read it there); the quote is
  // drawn above it by CSS order.
  return html`<div class=${`bubble ${m.direction}${m.deleted ? ' deleted' : ''}`} data-id=${m.id} data-state=${m.state}>
    <div class="text">${m.deleted ? '' : html`<${Linkified} text=${m.text} />`}</div>
    <${Attachments} m=${m} sender=${nameOf(contact)} />
    ${m.deleted && html`<div class="deleted-note">${m.direction === 'out' ? 'You deleted this message.' : 'This message was deleted.'}</div>`}
    ${m.quote && !m.deleted && html`<blockquote class="quote"><span class="quote-who">${m.quote.fromMe ? 'You' : nameOf(contact)}</span>${m.quote.text}</blockquote>`}
    <span class="meta">${timeOf(m.sentAt)}${label && ` · ${label}`}${!m.deleted && html`<${Countdown} m=${m} />`}</span>
    ${note && html`<span class="state-note">${note}</span>`}
    ${failed && has('resend') && html`<button class="link resend" onClick=${attempt(() => resend(m.peer, m.id))}>Resend</button>`}
    ${!m.deleted && html`<button class="more" aria-label="Message actions" aria-expanded=${menu ? 'true' : 'false'} onClick=${() => setMenu(!menu)}>⋯</button>`}
    ${menu && html`<div class="actions" role="group" aria-label="Message actions">
      <button onClick=${copy}>Copy</button>
      <button onClick=${reply}>Reply</button>
      ${has('delete-message') && html`<button class="danger" onClick=${() => { setMenu(false); onDelete() }}>Delete</button>`}
    </div>`}
  </div>`
}

function DeleteDialog ({ m, onClose }) {
  const mine = m.direction === 'out'
  const run = (everyone) => attempt(async () => { onClose(); await deleteMessage(m.peer, m.id, everyone) })
  return html`<${Dialog} id=${IDS.deleteDialog} title="Delete this message?" onClose=${onClose}>
    <p>${mine ? 'Delete it only here, or for both of you. Their copy goes only if their Sotto receives the deletion.' : 'It is deleted from this computer only.'}</p>
    <div class="row">
      <button class="danger" id=${IDS.deleteForMe} onClick=${run(false)}>Delete for me</button>
      ${mine && html`<button class="danger" id=${IDS.deleteForEveryone} onClick=${run(true)}>Delete for everyone</button>`}
      <button onClick=${onClose}>Cancel</button>
    </div>
  <//>`
}

function Composer ({ contact, draft, files }) {
  const input = useRef(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const [progress, setProgress] = useState(null)
  const text = draft.text.value
  const quote = draft.quote.value
  const chosen = files.chosen.value
  const refused = files.error.value
  const offered = attachmentsOffered()
  const over = text.length > MAX_TEXT
  useEffect(() => { input.current?.focus() }, [])
  const send = async () => {
    const value = draft.text.value.trim()
    const file = files.chosen.value
    if ((value === '' && file === null) || over || busy) return
    setBusy(true)
    setError('')
    files.error.value = ''
    const q = draft.quote.value
    try {
      const attachments = []
      if (file !== null) {
        attachments.push(await uploadedIdOf(file, (sent) => setProgress({ sent })))
      }
      draft.text.value = ''
      draft.quote.value = null
      files.chosen.value = null
      setProgress(null)
      await sendMessage(contact.sessionId, value, q?.id, attachments)
    } catch (err) {
      // Nothing is lost: the text, the quote and the file come back to be sent again.
      if (draft.text.value === '') draft.text.value = value
      draft.quote.value = q
      if (files.chosen.value === null && file !== null) files.chosen.value = file
      if (!err.handled) setError(err.message)
    } finally {
      setProgress(null)
      setBusy(false)
    }
  }
  const onPaste = pasteInto(files, offered)
  const shown = refused || error
  return html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); void send() }} noValidate>
    ${quote && html`<div class="reply" id=${IDS.replyPreview}>
      <span class="quote"><span class="quote-who">Replying to ${quote.fromMe ? 'yourself' : nameOf(contact)}</span>${quote.text}</span>
      <button type="button" class="icon" id=${IDS.cancelReply} aria-label="Cancel the reply" onClick=${() => { draft.quote.value = null }}>✕</button>
    </div>`}
    ${chosen && html`<${FileChip} chosen=${chosen} progress=${progress} onRemove=${() => { files.chosen.value = null; input.current?.focus() }} />`}
    ${shown && html`<p class="error" id="composer-error">${shown}</p>`}
    <div class="composer-row">
      ${offered && html`<${AttachButton} disabled=${busy || contact.state === 'blocked'} onFile=${(file, more) => attachFile(files, file, more)} />`}
      <textarea id=${IDS.composer} ref=${input} aria-label=${`Message to ${nameOf(contact)}`} placeholder=${chosen ? 'Add a message (optional)' : 'Message'} rows="1"
        aria-describedby=${IDS.composerCount} aria-invalid=${over ? 'true' : undefined}
        value=${text} onInput=${(e) => { draft.text.value = e.currentTarget.value }} onPaste=${onPaste}
        onKeyDown=${(e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); void send() } }} />
      <button class="primary" id=${IDS.sendButton} type="submit" disabled=${over}>Send</button>
    </div>
    <div class="composer-foot">${offered && html`<${AttachLimit} />`}<${Counter} id=${IDS.composerCount} length=${text.length} max=${MAX_TEXT} always=${false} />${over && html`<span class="error-inline">Too long to send: ${plural(text.length - MAX_TEXT, 'character')} over the limit.</span>`}</div>
  </form>`
}

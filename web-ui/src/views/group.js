// One group conversation: who said what (the sender's name and avatar on the first of their
// consecutive messages), date separators, the composer, and the group's state said plainly:
// an invite to accept first, or "you were removed" / "you left" with the composer off.
import { signal } from '@preact/signals'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { acceptGroup, canDeleteGroup, closePane, deleteGroup, openGroupInfo, probeDeleteGroup, sendGroupMessage } from '../actions.js'
import { attempt } from '../api.js'
import { AttachButton, AttachLimit, Attachments, attachFile, attachmentsOffered, FileChip, fileDraftOf, pasteInto, uploadedIdOf, useAttachmentProbe, useFileDrop } from '../components/attachment.js'
import { Avatar, GroupAvatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { Countdown, TimerButton, TimerLine, useExpiry } from '../components/timer.js'
import { isTimerEvent } from '../timer.js'
import { Counter } from '../components/field.js'
import { dayKey, dayLabel, plural, stateNote, timeOf } from '../format.js'
import { html } from '../html.js'
import { MAX_TEXT } from '../limits.js'
import { Linkified } from '../linkify.js'
import { avatarName, conversation, memberName, status, toast } from '../store.js'

/** Consecutive messages of one sender within this long share one name and avatar. */
const RUN_MS = 5 * 60_000

const drafts = new Map()
function draftOf (id) {
  if (!drafts.has(id)) drafts.set(id, signal(''))
  return drafts.get(id)
}

/** What the group's state lets this member do, and the sentence that says why not. */
export function standing (g) {
  if (g.left === true) return { active: false, text: 'You left this group. You no longer receive its messages.' }
  if (g.removed === true) return { active: false, text: 'You were removed from this group. You no longer receive its messages.' }
  if (g.state === 'request') return { active: false, text: '' }
  return { active: true, text: '' }
}

export function membersLine (g) {
  return plural(g.members.length, 'member')
}

export function GroupConversation ({ group: g }) {
  const conv = conversation.value
  const messages = conv.peer === g.id ? conv.messages : []
  const { active, text } = standing(g)
  const draft = draftOf(g.id)
  const files = fileDraftOf(g.id)
  useAttachmentProbe()
  const drop = useFileDrop(attachmentsOffered(messages) && active, (file, more) => attachFile(files, file, more))
  return html`<section class=${`pane${drop.over ? ' dropping' : ''}`} id=${IDS.groupView} data-group=${g.id} aria-labelledby=${IDS.groupTitle} ...${drop.props}>
    ${drop.over && html`<div class="drop-zone" id=${IDS.dropZone} aria-hidden="true"><span>Drop the file to attach it</span></div>`}
    <header class="pane-head">
      <button class="back icon" aria-label="Back to conversations" onClick=${closePane}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" d="M15 5l-7 7 7 7"/></svg>
      </button>
      <button class="who" onClick=${() => openGroupInfo(g.id)} aria-label=${`About ${g.name}`}>
        <${GroupAvatar} id=${g.id} name=${g.name} size=${36} />
      </button>
      <div class="title">
        <h2 id=${IDS.groupTitle}>${g.name}</h2>
        <span class="muted">${active ? membersLine(g) : g.state === 'request' ? 'invitation' : g.left ? 'you left' : 'you were removed'}</span>
      </div>
      <div class="row tight">
        ${active && html`<${TimerButton} group=${g} />`}
        <button id=${IDS.groupMembersButton} onClick=${() => openGroupInfo(g.id)}>Members</button>
      </div>
    </header>
    ${text && html`<div class="note-bar ended" id=${IDS.groupBanner} role="status">${text} <${DeleteGroupButton} group=${g} /></div>`}
    ${g.state === 'request' && html`<${GroupRequestBar} group=${g} />`}
    <${GroupMessages} group=${g} messages=${messages} loaded=${conv.loaded && conv.peer === g.id} />
    <${GroupComposer} key=${g.id} group=${g} draft=${draft} files=${files} active=${active} offerFiles=${attachmentsOffered(messages)} />
  </section>`
}

function GroupRequestBar ({ group: g }) {
  const admins = g.admins.map((a) => memberName(a)).join(', ')
  return html`<div class="request-bar" id=${IDS.groupRequestBar}>
    <p>You were added to this group by someone who is not in your contacts (${g.admins.length === 1 ? 'admin' : 'admins'}: ${admins}). The members do not hear from you unless you accept or delete it.</p>
    <div class="row">
      <button class="primary" id=${IDS.acceptGroup} onClick=${attempt(() => acceptGroup(g.id))}>Accept</button>
      <${DeleteGroupButton} group=${g} id=${IDS.deleteGroupRequest} />
    </div>
  </div>`
}

/** Delete, with a confirmation that says what happens: an invite or a live group is left first. */
function DeleteGroupButton ({ group: g, id }) {
  const [deleting, setDeleting] = useState(false)
  useEffect(() => { void probeDeleteGroup() }, [])
  if (!canDeleteGroup()) return null
  const inGroup = g.left !== true && g.removed !== true
  return html`<button class="danger" id=${id} onClick=${() => setDeleting(true)}>Delete</button>
    ${deleting && html`<${Dialog} title=${g.state === 'request' ? 'Delete this invitation?' : 'Delete this group?'} onClose=${() => setDeleting(false)}>
      <p>${inGroup ? 'You leave the group first, so its members see that you left. ' : ''}The group and its messages go from this computer. If an admin adds you again, it shows up as a new invitation.</p>
      <div class="row">
        <button class="danger" onClick=${attempt(async () => { setDeleting(false); await deleteGroup(g.id) })}>Delete</button>
        <button onClick=${() => setDeleting(false)}>Cancel</button>
      </div>
    <//>`}`
}

function GroupMessages ({ group: g, messages, loaded }) {
  const list = useRef(null)
  const atBottom = useRef(true)
  useLayoutEffect(() => {
    const el = list.current
    if (el !== null && atBottom.current) el.scrollTop = el.scrollHeight
  }, [messages.length, g.id])
  // Disappearing messages leave the page at their time, drawn or not.
  useExpiry(g.id, messages)
  const self = status.value?.sessionId
  const items = []
  let day = null
  let prev = null
  for (const m of messages) {
    const d = dayKey(m.sentAt)
    if (d !== day) {
      day = d
      prev = null
      items.push(html`<div class="day" role="separator" key=${`day-${d}`}><span>${dayLabel(m.sentAt)}</span></div>`)
    }
    if (isTimerEvent(m)) {
      // A timer change is a centred line, and the next message starts a new run.
      items.push(html`<${TimerLine} key=${m.id} m=${m} />`)
      prev = null
      continue
    }
    const from = m.direction === 'out' ? self : m.from
    const first = prev === null || prev.direction !== m.direction || prev.from !== m.from || m.sentAt - prev.sentAt > RUN_MS
    items.push(html`<${GroupBubble} key=${m.id} m=${m} from=${from} first=${first} />`)
    prev = m
  }
  return html`<div class="messages" id=${IDS.messages} ref=${list} tabIndex="0" aria-label=${`Messages in ${g.name}`}
      onScroll=${(e) => { const el = e.currentTarget; atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40 }}>
    ${loaded && messages.length === 0 && html`<p class="placeholder">${g.state === 'request' ? 'No messages yet.' : standing(g).active ? 'No messages yet. Say hello to the group.' : 'No messages.'}</p>`}
    ${items}
  </div>`
}

/** What an outgoing group message says about itself: a group has no single "delivered". */
function groupStateLabel (m) {
  switch (m.state) {
    case 'sending': return 'sending…'
    case 'delivered': return 'sent'
    case 'read': return 'sent'
    case 'stored': return 'stored for later'
    case 'failed': return 'not sent'
    default: return m.state ?? ''
  }
}

function GroupBubble ({ m, from, first }) {
  const [menu, setMenu] = useState(false)
  const out = m.direction === 'out'
  const name = typeof from === 'string' ? memberName(from) : 'Someone'
  const label = out ? groupStateLabel(m) : ''
  const note = out && m.state === 'failed' ? 'Not sent: no member and no mailbox could be reached. Write it again later.' : out ? stateNote(m) : ''
  const copy = async () => {
    setMenu(false)
    try { await navigator.clipboard.writeText(m.text); toast.value = { text: 'Copied.' } } catch { toast.value = { text: 'This browser did not allow copying.' } }
  }
  const bubble = html`<div class=${`bubble ${out ? 'out' : 'in'}${m.deleted ? ' deleted' : ''}`} data-id=${m.id} data-state=${m.state} data-from=${from}>
    <div class="text">${m.deleted ? '' : html`<${Linkified} text=${m.text} />`}</div>
    <${Attachments} m=${m} sender=${name} />
    ${!out && first && html`<span class="sender">${name}</span>`}
    ${m.deleted && html`<div class="deleted-note">This message was deleted.</div>`}
    <span class="meta">${!out && !first && html`<span class="sr-only">${name}, </span>`}${timeOf(m.sentAt)}${label && ` · ${label}`}${!m.deleted && html`<${Countdown} m=${m} />`}</span>
    ${note && html`<span class="state-note">${note}</span>`}
    ${!m.deleted && html`<button class="more" aria-label="Message actions" aria-expanded=${menu ? 'true' : 'false'} onClick=${() => setMenu(!menu)}>⋯</button>`}
    ${menu && html`<div class="actions" role="group" aria-label="Message actions"><button onClick=${copy}>Copy</button></div>`}
  </div>`
  if (out) return bubble
  return html`<div class=${`g-row${first ? ' first' : ''}`}>
    ${first ? html`<${Avatar} sessionId=${from} name=${avatarName(from)} size=${32} />` : html`<span class="g-spacer" aria-hidden="true"></span>`}
    ${bubble}
  </div>`
}

function GroupComposer ({ group: g, draft, files, active, offerFiles }) {
  const input = useRef(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const [progress, setProgress] = useState(null)
  const text = draft.value
  const chosen = active ? files.chosen.value : null
  const refused = files.error.value
  const offered = active && offerFiles
  const over = text.length > MAX_TEXT
  useEffect(() => { if (active) input.current?.focus() }, [active])
  const send = async () => {
    const value = draft.value.trim()
    const file = files.chosen.value
    if (!active || (value === '' && file === null) || over || busy) return
    setBusy(true)
    setError('')
    files.error.value = ''
    try {
      const attachments = []
      if (file !== null) {
        attachments.push(await uploadedIdOf(file, (sent) => setProgress({ sent })))
      }
      draft.value = ''
      files.chosen.value = null
      setProgress(null)
      await sendGroupMessage(g.id, value, attachments)
    } catch (err) {
      if (draft.value === '' && err.code !== 'ERR_NO_GROUP_ATTACHMENTS') draft.value = value
      if (files.chosen.value === null && file !== null && err.code !== 'ERR_NO_GROUP_ATTACHMENTS') files.chosen.value = file
      if (!err.handled) setError(err.message)
    } finally {
      setProgress(null)
      setBusy(false)
    }
  }
  const onPaste = pasteInto(files, offered)
  const shown = (active && refused) || error
  const why = g.state === 'request' ? 'Accept the invitation to write to this group.' : g.left ? 'You left this group.' : g.removed ? 'You were removed from this group.' : ''
  return html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); void send() }} noValidate>
    ${chosen && html`<${FileChip} chosen=${chosen} progress=${progress} onRemove=${() => { files.chosen.value = null; input.current?.focus() }} />`}
    ${shown && html`<p class="error" id="composer-error">${shown}</p>`}
    <div class="composer-row">
      ${offered && html`<${AttachButton} disabled=${busy} onFile=${(file, more) => attachFile(files, file, more)} />`}
      <textarea id=${IDS.composer} ref=${input} aria-label=${`Message to ${g.name}`} placeholder=${active ? (chosen ? 'Add a message (optional)' : 'Message') : why} rows="1"
        aria-describedby=${IDS.composerCount} aria-invalid=${over ? 'true' : undefined} disabled=${!active}
        value=${active ? text : ''} onInput=${(e) => { draft.value = e.currentTarget.value }} onPaste=${onPaste}
        onKeyDown=${(e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); void send() } }} />
      <button class="primary" id=${IDS.sendButton} type="submit" disabled=${over || !active}>Send</button>
    </div>
    <div class="composer-foot">${offered && html`<${AttachLimit} />`}<${Counter} id=${IDS.composerCount} length=${text.length} max=${MAX_TEXT} always=${false} />${over && html`<span class="error-inline">Too long to send: ${plural(text.length - MAX_TEXT, 'character')} over the limit.</span>`}</div>
  </form>`
}

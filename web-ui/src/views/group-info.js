// A group's members panel: who is in it and who the admins are. An admin adds a member from
// their contacts, makes a member an admin (or takes it back) and removes one (after a
// confirmation); anyone leaves (after one too).
import { useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { addGroupMember, leaveGroup, openGroup, removeGroupMember, setGroupAdmin } from '../actions.js'
import { attempt } from '../api.js'
import { Avatar, GroupAvatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { ErrorText } from '../components/field.js'
import { html } from '../html.js'
import { MAX_GROUP_MEMBERS } from '../limits.js'
import { avatarName, contacts, memberName, status } from '../store.js'
import { membersLine, standing } from './group.js'
import { MemberPicker, pickable } from './new-group.js'

export function GroupInfo ({ group: g }) {
  const self = status.value?.sessionId
  const { active, text } = standing(g)
  const admin = active && g.admins.includes(self)
  const [adding, setAdding] = useState(false)
  const [removing, setRemoving] = useState(null)
  const [leaving, setLeaving] = useState(false)
  // You first, then admins, then the others by name.
  const members = [...g.members].sort((a, b) => (a === self ? -1 : b === self ? 1 : 0) ||
    (g.admins.includes(b) ? 1 : 0) - (g.admins.includes(a) ? 1 : 0) || memberName(a).localeCompare(memberName(b)))
  return html`<section class="pane" id=${IDS.groupInfo} aria-labelledby="group-info-title">
    <header class="pane-head">
      <button class="back icon" aria-label="Back to the group" onClick=${() => openGroup(g.id)}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" d="M15 5l-7 7 7 7"/></svg>
      </button>
      <div class="title"><h2 id="group-info-title">${g.name}</h2></div>
      <div class="row tight"><button onClick=${() => openGroup(g.id)}>Open the group</button></div>
    </header>
    <div class="page">
      <div class="profile-head">
        <${GroupAvatar} id=${g.id} name=${g.name} size=${72} />
        <div>
          <p class="big">${g.name}</p>
          <p class="muted">${active ? membersLine(g) : text}</p>
        </div>
      </div>
      <div class="group">
        <div class="members-head">
          <h3>Members</h3>
          ${admin && html`<button id=${IDS.addMemberButton} onClick=${() => setAdding(true)} disabled=${g.members.length >= MAX_GROUP_MEMBERS}>Add a member</button>`}
        </div>
        <ul class="members" id=${IDS.groupMembers}>
          ${members.map((m) => html`<li key=${m} data-member=${m}>
            <${Avatar} sessionId=${m} name=${avatarName(m)} size=${36} />
            <span class="member-main">
              <span class="member-name">${memberName(m)}${m !== self && !contacts.value.has(m) && html` <span class="muted">(not in your contacts)</span>`}</span>
              ${g.admins.includes(m) && html`<span class="tag">Admin</span>`}
            </span>
            ${admin && m !== self && html`<button class="small" data-admin=${m} aria-label=${`${g.admins.includes(m) ? 'Take back admin from' : 'Make admin:'} ${memberName(m)}`} onClick=${attempt(() => setGroupAdmin(g.id, m, !g.admins.includes(m)))}>${g.admins.includes(m) ? 'Not admin' : 'Make admin'}</button>`}
            ${admin && m !== self && html`<button class="danger small" data-remove=${m} aria-label=${`Remove ${memberName(m)} from the group`} onClick=${() => setRemoving(m)}>Remove</button>`}
          </li>`)}
        </ul>
        ${!admin && active && html`<p class="hint">Only ${g.admins.length === 1 ? 'the admin' : 'admins'} can add or remove members.</p>`}
      </div>
      ${active && html`<div class="group">
        <h3>Leave</h3>
        <p class="muted">You stop receiving this group's messages; the others see that you left.</p>
        <div class="row"><button class="danger" id=${IDS.leaveGroupButton} onClick=${() => setLeaving(true)}>Leave the group</button></div>
      </div>`}
    </div>
    ${adding && html`<${AddMemberDialog} group=${g} onClose=${() => setAdding(false)} />`}
    ${removing !== null && html`<${Dialog} id=${IDS.removeMemberDialog} title=${`Remove ${memberName(removing)}?`} onClose=${() => setRemoving(null)}>
      <p>${memberName(removing)} stops receiving this group's messages. Everyone's keys change, so nothing sent from now on can be read with the old ones.</p>
      <div class="row">
        <button class="danger" id=${IDS.confirmRemoveMember} onClick=${attempt(async () => { const who = removing; setRemoving(null); await removeGroupMember(g.id, who) })}>Remove</button>
        <button onClick=${() => setRemoving(null)}>Cancel</button>
      </div>
    <//>`}
    ${leaving && html`<${Dialog} id=${IDS.leaveGroupDialog} title=${`Leave ${g.name}?`} onClose=${() => setLeaving(false)}>
      <p>You stop receiving its messages. To come back, an admin has to add you again.</p>
      <div class="row">
        <button class="danger" id=${IDS.confirmLeaveGroup} onClick=${attempt(async () => { setLeaving(false); await leaveGroup(g.id) })}>Leave</button>
        <button onClick=${() => setLeaving(false)}>Cancel</button>
      </div>
    <//>`}
  </section>`
}

function AddMemberDialog ({ group: g, onClose }) {
  const [chosen, setChosen] = useState(new Set())
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const options = pickable(g.members)
  const submit = async (e) => {
    e.preventDefault()
    const [who] = [...chosen]
    if (who === undefined) { setError('Choose a contact to add.'); return }
    setBusy(true)
    try {
      await addGroupMember(g.id, who)
      onClose()
    } catch (err) {
      if (!err.handled) setError(err.message)
      setBusy(false)
    }
  }
  return html`<${Dialog} id=${IDS.addMemberDialog} title=${`Add a member to ${g.name}`} onClose=${onClose}>
    <form onSubmit=${submit} noValidate>
      <${MemberPicker} options=${options} chosen=${chosen} onChange=${setChosen} legend="Contacts not in the group" multiple=${false} />
      <p class="hint">They see the group's members and what is written from now on, not what was written before.</p>
      <${ErrorText} id=${IDS.addMemberError} text=${error} />
      <div class="row">
        <button class="primary" id=${IDS.addMemberConfirm} type="submit" disabled=${busy || options.length === 0}>Add</button>
        <button type="button" onClick=${onClose}>Cancel</button>
      </div>
    </form>
  <//>`
}

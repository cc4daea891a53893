// "New group": a name and members picked from accepted contacts. The picker is shared with the
// members panel's "Add a member".
import { useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { createGroup } from '../actions.js'
import { Avatar } from '../components/avatar.js'
import { Dialog } from '../components/dialog.js'
import { ErrorText, Field } from '../components/field.js'
import { plural } from '../format.js'
import { html } from '../html.js'
import { MAX_GROUP_MEMBERS, MAX_NAME, PICKER_SEARCH_FROM } from '../limits.js'
import { contacts, nameOf } from '../store.js'

/** Accepted contacts, by name, without those in `except`. */
export function pickable (except = []) {
  const skip = new Set(except)
  return [...contacts.value.values()]
    .filter((c) => c.state === 'accepted' && !skip.has(c.sessionId))
    .sort((a, b) => nameOf(a).localeCompare(nameOf(b)))
}

/**
 * Checkboxes with labels, one per contact; a search box when there are many. `multiple`
 * false makes it radio buttons (add one member at a time).
 */
export function MemberPicker ({ options, chosen, onChange, legend, multiple = true, describedBy }) {
  const [filter, setFilter] = useState('')
  const f = filter.trim().toLowerCase()
  const shown = f === '' ? options : options.filter((c) => nameOf(c).toLowerCase().includes(f) || c.sessionId.startsWith(f))
  const toggle = (id, on) => {
    if (!multiple) { onChange(new Set([id])); return }
    const next = new Set(chosen)
    if (on) next.add(id)
    else next.delete(id)
    onChange(next)
  }
  return html`<fieldset class="picker" id=${IDS.memberPicker} aria-describedby=${describedBy}>
    <legend>${legend}</legend>
    ${options.length >= PICKER_SEARCH_FROM && html`<div class="picker-search">
      <label class="sr-only" for=${IDS.memberSearch}>Search contacts</label>
      <input id=${IDS.memberSearch} type="search" placeholder="Search contacts" autocomplete="off" spellcheck="false"
        value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)}
        onKeyDown=${(e) => { if (e.key === 'Escape' && filter !== '') { e.preventDefault(); e.stopPropagation(); setFilter('') } }} />
    </div>`}
    ${options.length === 0 ? html`<p class="empty">No contacts to choose from. Add contacts first; a group is made from people in your contacts.</p>`
      : shown.length === 0 ? html`<p class="empty">No contact matches.</p>` : html`<ul class="picker-list">
      ${shown.map((c) => {
        const inputId = `pick-${c.sessionId}`
        return html`<li key=${c.sessionId}>
          <input id=${inputId} type=${multiple ? 'checkbox' : 'radio'} name="member" value=${c.sessionId} data-member=${c.sessionId}
            checked=${chosen.has(c.sessionId)} onChange=${(e) => toggle(c.sessionId, e.currentTarget.checked)} />
          <label for=${inputId}>
            <${Avatar} sessionId=${c.sessionId} name=${nameOf(c)} size=${32} />
            <span class="picker-name">${nameOf(c)}</span>
          </label>
        </li>`
      })}
    </ul>`}
  </fieldset>`
}

export function NewGroupDialog ({ onClose }) {
  const [name, setName] = useState('')
  const [chosen, setChosen] = useState(new Set())
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const options = pickable()
  const submit = async (e) => {
    e.preventDefault()
    const clean = name.trim()
    if (clean === '') { setError('Give the group a name.'); return }
    if (clean.length > MAX_NAME) { setError(`A group name has 1 to ${MAX_NAME} characters.`); return }
    if (chosen.size === 0) { setError('Choose at least one member.'); return }
    if (chosen.size + 1 > MAX_GROUP_MEMBERS) { setError(`A group has at most ${MAX_GROUP_MEMBERS} members, you included.`); return }
    setBusy(true)
    setError('')
    try {
      await createGroup(clean, [...chosen])
      onClose()
    } catch (err) {
      if (!err.handled) setError(err.message)
      setBusy(false)
    }
  }
  return html`<${Dialog} id=${IDS.newGroupDialog} title="New group" onClose=${onClose}>
    <form onSubmit=${submit} noValidate>
      <${Field} id=${IDS.newGroupName} label="Group name" value=${name} onInput=${setName} limit=${MAX_NAME} autocomplete="off" required=${true} />
      <${MemberPicker} options=${options} chosen=${chosen} onChange=${setChosen} legend="Members" describedBy="new-group-count" />
      <p class="hint" id="new-group-count">${chosen.size === 0 ? 'Nobody chosen yet.' : `${plural(chosen.size, 'member')} chosen, and you.`} Every member sees who else is in the group.</p>
      <${ErrorText} id=${IDS.newGroupError} text=${error} />
      <div class="row">
        <button class="primary" id=${IDS.newGroupCreate} type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create group'}</button>
        <button type="button" onClick=${onClose}>Cancel</button>
      </div>
    </form>
  <//>`
}

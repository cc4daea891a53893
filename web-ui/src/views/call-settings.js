// Settings, "Calls": the optional TURN relay (a coturn URL and its credentials). Calls on a LAN
// need none; without one, media goes straight between the two browsers, and no outside
// server is ever asked (no public STUN either).
import { useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { saveSettings } from '../actions.js'
import { Field } from '../components/field.js'
import { html } from '../html.js'

export function CallSettings ({ settings: s }) {
  const turn = s.turn ?? null
  const [url, setUrl] = useState(turn?.url ?? '')
  const [username, setUsername] = useState(turn?.username ?? '')
  const [credential, setCredential] = useState(turn?.credential ?? '')
  const [note, setNote] = useState('')
  const [error, setError] = useState('')
  if (!('turn' in s)) return null
  const submit = async (e) => {
    e.preventDefault()
    setError('')
    const empty = url.trim() === '' && username === '' && credential === ''
    try {
      await saveSettings({ turn: empty ? null : { url: url.trim(), username, credential } })
      setNote(empty ? 'No relay: calls connect directly.' : 'Saved. The next call may use this relay.')
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  const edit = (set) => (v) => { set(v); setNote('') }
  return html`<form class="group" onSubmit=${submit} noValidate>
    <h3>Calls</h3>
    <p class="muted">Calls go straight between the two browsers. A TURN relay helps only when both sides are behind strict firewalls; leave these empty on a home or office network.</p>
    <${Field} id=${IDS.turnUrl} label="TURN relay (optional)" placeholder="turn:relay.example.org:3478" spellcheck="false" value=${url} onInput=${edit(setUrl)} error=${error} />
    <${Field} id=${IDS.turnUsername} label="Relay user name" autocomplete="off" value=${username} onInput=${edit(setUsername)} />
    <${Field} id=${IDS.turnCredential} label="Relay password" type="password" autocomplete="new-password" value=${credential} onInput=${edit(setCredential)} />
    <div class="row"><button class="primary" id=${IDS.saveTurn} type="submit">Save relay</button>${note && html`<span class="note" id=${IDS.turnNote}>${note}</span>`}</div>
  </form>`
}

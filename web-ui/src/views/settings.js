// Settings: profile, appearance, notifications, security (idle lock, lock now, passphrase,
// recovery phrase) and network. Each section saves on its own, so a change in one never loses
// what is typed in another. A section whose endpoint this node lacks is not shown.
import { useEffect, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { changePassphrase, closePane, loadSettings, lock, recoveryPhrase, saveProfile, saveSettings, setTheme } from '../actions.js'
import { attempt } from '../api.js'
import { ErrorText, Field } from '../components/field.js'
import { formatNumber, plural } from '../format.js'
import { useEditable } from '../editable.js'
import { html } from '../html.js'
import { MAX_NAME, MIN_PASSPHRASE } from '../limits.js'
import { has, profile, readLocal, settings, status, theme, writeLocal } from '../store.js'
import { CallSettings } from './call-settings.js'

export function Settings () {
  useEffect(() => { void loadSettings().catch(() => {}) }, [])
  const s = settings.value
  return html`<section class="pane" id=${IDS.settings} aria-labelledby="settings-title">
    <header class="pane-head">
      <button class="back icon" aria-label="Back to conversations" onClick=${closePane}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" d="M15 5l-7 7 7 7"/></svg>
      </button>
      <div class="title"><h2 id="settings-title">Settings</h2></div>
    </header>
    <div class="page">
      ${has('profile') && html`<${ProfileSection} />`}
      <${Appearance} />
      ${s === null ? html`<p class="muted">Loading…</p>` : html`
        <${Notifications} settings=${s} />
        <${Security} settings=${s} />
        ${has('passphrase') && html`<${PassphraseSection} />`}
        ${has('phrase') && html`<${PhraseSection} />`}
        <${Network} settings=${s} />
        <${CallSettings} settings=${s} />`}
    </div>
  </section>`
}

function ProfileSection () {
  const current = profile.value?.displayName ?? ''
  const field = useEditable(current)
  const name = field.value
  const [note, setNote] = useState('')
  const [error, setError] = useState('')
  const submit = async (e) => {
    e.preventDefault()
    setError('')
    try {
      await saveProfile(name.trim() === '' ? null : name.trim())
      field.saved()
      setNote('Saved. Your contacts see it with your next message.')
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  return html`<form class="group" onSubmit=${submit} noValidate>
    <h3>Your profile</h3>
    <${Field} id=${IDS.profileName} label="Display name (shared with your contacts, inside the encryption)" value=${name} limit=${MAX_NAME}
      onInput=${(v) => { field.edit(v); setNote('') }} autocomplete="nickname" error=${error} />
    <div class="row"><button class="primary" id=${IDS.saveProfile} type="submit">Save name</button>${note && html`<span class="note" id=${IDS.profileNote}>${note}</span>`}</div>
  </form>`
}

function Appearance () {
  return html`<div class="group">
    <h3>Appearance</h3>
    <div class="field">
      <label for=${IDS.themeSelect}>Theme</label>
      <select id=${IDS.themeSelect} value=${theme.value} onChange=${(e) => setTheme(e.currentTarget.value)}>
        <option value="system">Same as the system</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </div>
  </div>`
}

function Notifications ({ settings: s }) {
  const known = typeof s.notifications === 'boolean'
  const on = known ? s.notifications : readLocal('sotto.notifications', 'off') === 'on'
  const [note, setNote] = useState('')
  const permission = typeof Notification === 'undefined' ? 'unsupported' : Notification.permission
  const toggle = async (e) => {
    const want = e.currentTarget.checked
    if (want && permission !== 'granted' && permission !== 'unsupported') {
      const answer = await Notification.requestPermission()
      if (answer !== 'granted') setNote('The browser did not allow notifications; allow them in its site settings.')
    }
    writeLocal('sotto.notifications', want ? 'on' : 'off')
    if (known) await saveSettings({ notifications: want }).catch(() => {})
    else settings.value = { ...s }
  }
  return html`<div class="group">
    <h3>Notifications</h3>
    <div class="check">
      <input type="checkbox" id=${IDS.notifications} checked=${on} onChange=${toggle} />
      <label for=${IDS.notifications}>Notify me of new messages while Sotto is in the background</label>
    </div>
    <p class="hint">A notification says who wrote, never what.${permission === 'unsupported' ? ' This browser has no notifications.' : ''}</p>
    ${note && html`<p class="error">${note}</p>`}
  </div>`
}

function Security ({ settings: s }) {
  const [minutes, setMinutes] = useState(String(s.idleLockMinutes))
  const [note, setNote] = useState('')
  const [error, setError] = useState('')
  const submit = async (e) => {
    e.preventDefault()
    const n = Number(minutes)
    if (!Number.isInteger(n) || n < 1 || n > 1440) { setError('Choose 1 to 1,440 minutes (a day).'); return }
    setError('')
    try {
      await saveSettings({ idleLockMinutes: n })
      setNote(`Saved: Sotto locks after ${plural(n, 'minute')} without use.`)
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  return html`<form class="group" onSubmit=${submit} noValidate>
    <h3>Lock</h3>
    <${Field} id=${IDS.idleMinutes} label="Lock after this many minutes without use (1 to 1,440)" type="number" min="1" max="1440" inputMode="numeric"
      value=${minutes} onInput=${(v) => { setMinutes(v); setNote('') }} error=${error} />
    <div class="row">
      <button class="primary" id=${IDS.saveSettings} type="submit">Save</button>
      <button type="button" id=${IDS.lockNow} onClick=${attempt(lock)}>Lock now</button>
      ${note && html`<span class="note" id=${IDS.settingsNote}>${note}</span>`}
    </div>
  </form>`
}

function PassphraseSection () {
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [again, setAgain] = useState('')
  const [note, setNote] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    setNote('')
    if (next.length < MIN_PASSPHRASE) { setError(`The new passphrase needs at least ${MIN_PASSPHRASE} characters.`); return }
    if (next !== again) { setError('The two new passphrases differ.'); return }
    setError('')
    setBusy(true)
    try {
      await changePassphrase(current, next)
      setCurrent(''); setNext(''); setAgain('')
      setNote('Passphrase changed. Use the new one from now on.')
    } catch (err) {
      if (!err.handled) setError(err.code === 'ERR_WRONG_PASSPHRASE' ? 'The current passphrase is wrong.' : err.message)
    } finally {
      setBusy(false)
    }
  }
  return html`<form class="group" onSubmit=${submit} noValidate>
    <h3>Change the passphrase</h3>
    <${Field} id=${IDS.currentPassphrase} label="Current passphrase" type="password" autocomplete="current-password" value=${current} onInput=${setCurrent} />
    <${Field} id=${IDS.newPassphrase} label="New passphrase" type="password" autocomplete="new-password" value=${next} onInput=${setNext} hint=${`At least ${MIN_PASSPHRASE} characters.`} />
    <${Field} id=${IDS.newPassphrase2} label="Repeat the new passphrase" type="password" autocomplete="new-password" value=${again} onInput=${setAgain} />
    <${ErrorText} id=${IDS.passphraseError} text=${error} />
    <div class="row"><button class="primary" id=${IDS.changePassphrase} type="submit" disabled=${busy}>${busy ? 'Changing…' : 'Change passphrase'}</button>${note && html`<span class="note" id=${IDS.passphraseNote}>${note}</span>`}</div>
  </form>`
}

function PhraseSection () {
  const [pass, setPass] = useState('')
  const [words, setWords] = useState(null)
  const [error, setError] = useState('')
  const submit = async (e) => {
    e.preventDefault()
    setError('')
    try {
      setWords(await recoveryPhrase(pass))
      setPass('')
    } catch (err) {
      if (!err.handled) setError(err.code === 'ERR_WRONG_PASSPHRASE' ? 'Wrong passphrase.' : err.message)
    }
  }
  // The words leave the page when the section does (and on "Hide").
  useEffect(() => () => setWords(null), [])
  return html`<form class="group" onSubmit=${submit} noValidate>
    <h3>Recovery phrase</h3>
    <p>The 12 words that restore your account on another computer. Anyone who sees them can read your messages: show them only where nobody watches.</p>
    ${words === null
      ? html`
        <${Field} id=${IDS.phrasePassphrase} label="Your passphrase, to show the words" type="password" autocomplete="current-password" value=${pass} onInput=${setPass} />
        <${ErrorText} id=${IDS.phraseError} text=${error} />
        <div class="row"><button class="primary" id=${IDS.showPhrase} type="submit">Show the recovery phrase</button></div>`
      : html`
        <ol class="words" id=${IDS.recoveryPhrase}>${words.map((w) => html`<li>${w}</li>`)}</ol>
        <div class="row"><button type="button" onClick=${() => setWords(null)}>Hide</button></div>`}
  </form>`
}

function Network ({ settings: s }) {
  const st = status.value
  const [list, setList] = useState((s.bootstrap ?? []).join('\n'))
  const [note, setNote] = useState('')
  const [error, setError] = useState('')
  const submit = async (e) => {
    e.preventDefault()
    setError('')
    try {
      await saveSettings({ bootstrap: list.split(/\s+/).filter(Boolean) })
      setNote('Saved. Sotto connects to them now and at each start.')
    } catch (err) {
      if (!err.handled) setError(err.message)
    }
  }
  return html`<form class="group" onSubmit=${submit} noValidate>
    <h3>Network</h3>
    ${st !== null && html`<dl class="status" id=${IDS.networkStatus}>
      <dt>Connected to</dt><dd>${plural(st.peers, 'peer')}</dd>
      <dt>Your published keys</dt><dd>${st.dht?.recordPublished ? 'published, so contacts can find you' : 'not published yet'} (${plural(st.dht?.routingTable ?? 0, 'peer')} in the routing table)</dd>
      <dt>Held for others</dt><dd>${st.mailbox ? `${plural(st.mailbox.envelopes, 'sealed message')} (${formatNumber(Math.round(st.mailbox.bytes / 1024))} KiB)` : 'mailbox off'}</dd>
      <dt>Your addresses</dt><dd class="id">${(st.addresses ?? []).join(' ')}</dd>
    </dl>`}
    <${Field} id=${IDS.bootstrapList} label="Bootstrap peers (one address per line)" textarea rows="3" spellcheck="false" value=${list}
      onInput=${(v) => { setList(v); setNote('') }} error=${error} />
    <div class="row"><button class="primary" id=${IDS.saveNetwork} type="submit">Save peers</button>${note && html`<span class="note">${note}</span>`}</div>
  </form>`
}

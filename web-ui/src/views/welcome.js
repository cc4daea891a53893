// First run: welcome, create an account (passphrase, optional display name), the phrase shown
// once and three of its words checked, or restore from a phrase with live word checks.
import { useEffect, useMemo, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { createAccount, finishOnboarding, restoreAccount } from '../actions.js'
import { ApiError } from '../api.js'
import { Field, ErrorText } from '../components/field.js'
import { html } from '../html.js'
import { MAX_NAME, MIN_PASSPHRASE } from '../limits.js'
import { newPhrase, screen } from '../store.js'

export function Welcome () {
  return html`<div class="card" id=${IDS.welcome}>
    <h1>Welcome to Sotto</h1>
    <p>A private messenger with no server. Your account is a key made from 12 words: no phone number, no e-mail.</p>
    <div class="row">
      <button class="primary" id=${IDS.createButton} onClick=${() => { screen.value = 'create' }}>Create a new account</button>
      <button id=${IDS.restoreButton} onClick=${() => { screen.value = 'restore' }}>Restore from recovery phrase</button>
    </div>
  </div>`
}

function usePassphrases () {
  const [p1, setP1] = useState('')
  const [p2, setP2] = useState('')
  const problem = () => {
    if (p1.length < MIN_PASSPHRASE) return `The passphrase needs at least ${MIN_PASSPHRASE} characters.`
    if (p1 !== p2) return 'The two passphrases differ.'
    return undefined
  }
  const fields = html`
    <${Field} id=${IDS.passphrase} label="Passphrase (locks Sotto on this computer)" type="password" autocomplete="new-password"
      value=${p1} onInput=${setP1} hint=${`At least ${MIN_PASSPHRASE} characters.`} />
    <${Field} id=${IDS.passphrase2} label="Repeat the passphrase" type="password" autocomplete="new-password" value=${p2} onInput=${setP2} />`
  return { value: p1, problem, fields }
}

function useBusy () {
  const [busy, setBusy] = useState(false)
  const run = async (fn) => {
    if (busy) return
    setBusy(true)
    try { await fn() } finally { setBusy(false) }
  }
  return [busy, run]
}

const message = (err) => err instanceof ApiError ? err.message : 'Something went wrong.'

/** A form's submit: the passphrase pair checked first, then `action`, its failure shown on the form. */
function passphraseSubmit (pass, setError, run, action) {
  return (e) => {
    e.preventDefault()
    const problem = pass.problem()
    if (problem !== undefined) { setError(problem); return }
    setError('')
    void run(async () => {
      try { await action() } catch (err) { if (!err.handled) setError(message(err)) }
    })
  }
}

export function Create () {
  const pass = usePassphrases()
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  const [busy, run] = useBusy()
  useEffect(() => { document.getElementById(IDS.passphrase)?.focus() }, [])
  const submit = passphraseSubmit(pass, setError, run, async () => { await createAccount(pass.value, name.trim()) })
  return html`<form class="card" onSubmit=${submit} noValidate>
    <h1>Create your account</h1>
    ${pass.fields}
    <${Field} id=${IDS.onboardingName} label="Your name (optional, shared with your contacts)" value=${name} onInput=${setName} limit=${MAX_NAME} autocomplete="nickname" />
    <${ErrorText} id=${IDS.formError} text=${error} />
    <div class="row">
      <button class="primary" id=${IDS.submit} type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create account'}</button>
      <button type="button" onClick=${() => { screen.value = 'welcome' }}>Back</button>
    </div>
  </form>`
}

export function ShowPhrase () {
  const words = newPhrase.value ?? []
  return html`<div class="card">
    <h1>Your recovery phrase</h1>
    <p>Write these 12 words down, in order, and keep them safe. They are the only way back into your account on another computer. Settings can show them again, after your passphrase.</p>
    <ol class="words" id=${IDS.phraseGrid}>${words.map((w) => html`<li>${w}</li>`)}</ol>
    <div class="row"><button class="primary" id=${IDS.phraseDone} onClick=${() => { screen.value = 'confirm' }}>I have written them down</button></div>
  </div>`
}

export function ConfirmPhrase () {
  const words = newPhrase.value ?? []
  // Three words from different parts of the phrase, picked once per visit of this screen.
  const picks = useMemo(() => [2, 6, 10].map((i) => i + Math.floor(Math.random() * 2)), [])
  const [values, setValues] = useState(() => picks.map(() => ''))
  const [error, setError] = useState('')
  useEffect(() => { document.getElementById(`confirm-${picks[0]}`)?.focus() }, [])
  const submit = (e) => {
    e.preventDefault()
    const ok = picks.every((i, k) => values[k].trim().toLowerCase() === words[i])
    if (ok) void finishOnboarding().catch(() => {})
    else setError('That does not match. Check the words you wrote down.')
  }
  return html`<form class="card" id=${IDS.confirmInputs} onSubmit=${submit} noValidate>
    <h1>Check your phrase</h1>
    <p>Type these words from your phrase, to be sure it is written down right.</p>
    ${picks.map((i, k) => html`<div class="field">
      <label for=${`confirm-${i}`}>Word ${i + 1}</label>
      <input id=${`confirm-${i}`} autocomplete="off" spellcheck="false" data-index=${i} value=${values[k]}
        onInput=${(e) => { const next = values.slice(); next[k] = e.currentTarget.value; setValues(next) }} />
    </div>`)}
    <${ErrorText} id=${IDS.formError} text=${error} />
    <div class="row">
      <button class="primary" id=${IDS.confirmButton} type="submit">Continue</button>
      <button type="button" onClick=${() => { screen.value = 'phrase' }}>Show the words again</button>
    </div>
  </form>`
}

let wordlist = null
async function loadWordlist () {
  if (wordlist === null) wordlist = new Set(await fetch('/bip39-english.json').then((r) => r.json()).catch(() => []))
  return wordlist
}

export function Restore () {
  const pass = usePassphrases()
  const [phrase, setPhrase] = useState('')
  const [hint, setHint] = useState('12 or 24 words, separated by spaces.')
  const [error, setError] = useState('')
  const [busy, run] = useBusy()
  useEffect(() => { document.getElementById(IDS.restorePhrase)?.focus() }, [])
  const onPhrase = async (value) => {
    setPhrase(value)
    const list = await loadWordlist()
    const words = value.trim().toLowerCase().split(/\s+/).filter(Boolean)
    // The last word counts only once it is finished (a space after it).
    const bad = words.findIndex((w, i) => list.size > 0 && !list.has(w) && (i < words.length - 1 || /\s$/.test(value)))
    setHint(bad >= 0 ? `Word ${bad + 1} ("${words[bad]}") is not a recovery-phrase word.` : `${words.length} of 12 words`)
  }
  const submit = passphraseSubmit(pass, setError, run, async () => { await restoreAccount(phrase, pass.value) })
  return html`<form class="card" onSubmit=${submit} noValidate>
    <h1>Restore your account</h1>
    <div class="field">
      <label for=${IDS.restorePhrase}>Recovery phrase (12 or 24 words)</label>
      <textarea id=${IDS.restorePhrase} rows="3" autocomplete="off" spellcheck="false" aria-describedby=${IDS.restoreHint}
        value=${phrase} onInput=${(e) => { void onPhrase(e.currentTarget.value) }} />
      <p class="hint" id=${IDS.restoreHint}>${hint}</p>
    </div>
    ${pass.fields}
    <${ErrorText} id=${IDS.formError} text=${error} />
    <div class="row">
      <button class="primary" id=${IDS.submit} type="submit" disabled=${busy}>${busy ? 'Restoring…' : 'Restore'}</button>
      <button type="button" onClick=${() => { screen.value = 'welcome' }}>Back</button>
    </div>
  </form>`
}

// The unlock screen (node started locked, idle lock, "Lock"), and the screen for a browser the
// node no longer knows (its session ended): only `sotto open` can sign it in again.
import { useEffect, useRef, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { unlock } from '../actions.js'
import { ErrorText } from '../components/field.js'
import { html } from '../html.js'

export function Unlock () {
  const [value, setValue] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const input = useRef(null)
  useEffect(() => { input.current?.focus() }, [])
  const submit = async (e) => {
    e.preventDefault()
    if (busy) return
    setBusy(true)
    try {
      await unlock(value)
    } catch (err) {
      // The field is emptied on every refusal, so the next try starts clean.
      setValue('')
      if (!err.handled) setError(err.message)
      input.current?.focus()
    } finally {
      setBusy(false)
    }
  }
  return html`<form class="card" id=${IDS.unlock} onSubmit=${submit} noValidate>
    <h1>Sotto is locked</h1>
    <p>Enter your passphrase to continue. Messages kept arriving while it was locked.</p>
    <div class="field">
      <label for=${IDS.unlockPassphrase}>Passphrase</label>
      <input id=${IDS.unlockPassphrase} ref=${input} type="password" autocomplete="current-password" value=${value}
        aria-describedby=${IDS.unlockError} onInput=${(e) => setValue(e.currentTarget.value)} />
    </div>
    <${ErrorText} id=${IDS.unlockError} text=${error} />
    <div class="row"><button class="primary" id=${IDS.unlockButton} type="submit" disabled=${busy}>${busy ? 'Unlocking…' : 'Unlock'}</button></div>
  </form>`
}

export function SignedOut () {
  return html`<div class="card" id=${IDS.signedOut}>
    <h1>Sign in again</h1>
    <p>This browser is not signed in to your Sotto node any more. Each link Sotto prints signs in one browser, once.</p>
    <p>On this computer, run <code>sotto open</code> and open the link it prints.</p>
  </div>`
}

export function Loading () {
  return html`<p class="loading">Starting…</p>`
}

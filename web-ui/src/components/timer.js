// Disappearing messages in a conversation or a group: the header's timer button and its dialog (off,
// 30 s … 1 week, or a custom time; after sending or after reading), the centred line a timer
// change leaves, and the countdown on a message. The node keeps the timer and deletes what
// expires; the page shows it, and hides a message whose time is up without waiting for the
// node's word (which follows as `messages-expired`).
import { signal } from '@preact/signals'
import { useEffect, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { setGroupTimer, setTimer } from '../actions.js'
import { timeOf } from '../format.js'
import { html } from '../html.js'
import { memberName, nameOf, removeExpired, status, timerNoteSeen, writeLocal } from '../store.js'
import {
  customSeconds, durationShort, durationWords, modeWords, splitDuration, TIMER_CHOICES, TIMER_UNITS, timeLeft, timeLeftWords,
  timerChangeText, timerOn, timerWords
} from '../timer.js'
import { Dialog } from './dialog.js'
import { ErrorText } from './field.js'

/** The time countdowns are drawn at; ticks once a second while one is on screen. */
const clock = signal(Date.now())
const TICK_MS = 1000
let ticking = 0
let ticker

/** Subscribes the component to the clock's ticks (and starts them); answers the last tick. */
function useClock () {
  useEffect(() => {
    if (ticking++ === 0) ticker = setInterval(() => { clock.value = Date.now() }, TICK_MS)
    return () => { if (--ticking === 0) clearInterval(ticker) }
  }, [])
  return clock.value
}

/** Drawn, not the ⏱ character: many system fonts have no glyph for it. */
const Stopwatch = () => html`<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
  <circle cx="12" cy="13" r="8" fill="none" stroke="currentColor" stroke-width="2"/>
  <path d="M12 13V9M9 2h6M19 5l-1.5 1.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
</svg>`

/** The header's button: the stopwatch, and the time when messages disappear; of a contact's conversation or of a group. */
export function TimerButton ({ contact, group }) {
  const [open, setOpen] = useState(false)
  // A node from before disappearing messages (in groups) describes no timer: nothing to offer.
  const t = (contact ?? group)?.timer
  if (t === undefined) return null
  const on = timerOn(t)
  return html`<button id=${IDS.timerButton} class=${`timer-button${on ? ' on' : ''}`} aria-haspopup="dialog"
      title=${on ? `Disappearing messages: ${timerWords(t)}` : 'Disappearing messages: off'} onClick=${() => setOpen(true)}>
    <${Stopwatch} /><span class="sr-only">Disappearing messages: </span>${on
      ? html`<span class="timer-short">${durationShort(t.seconds)}</span><span class="sr-only"> ${modeWords(t.mode)}</span>`
      : html`<span class="sr-only">off</span>`}
  </button>
  ${open && html`<${TimerDialog} contact=${contact} group=${group} onClose=${() => setOpen(false)} />`}`
}

/** What the select shows for a timer: one of the choices, else "custom". */
function choiceOf (timer) {
  if (!timerOn(timer)) return '0'
  return TIMER_CHOICES.includes(timer.seconds) ? String(timer.seconds) : 'custom'
}

/** Who changed the timer last and when, in words; '' when it was never set. In a group, any member may have. */
function changedLine (contact, group) {
  const t = (contact ?? group).timer
  if (t.changedBy === null || t.changedBy === undefined || !t.changedAt) return ''
  const who = group !== undefined
    ? (t.changedBy === status.value?.sessionId ? 'you' : memberName(t.changedBy))
    : (t.changedBy === contact.sessionId ? nameOf(contact) : 'you')
  return `${timerOn(t) ? 'Set' : 'Turned off'} by ${who}, ${new Date(t.changedAt).toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })}.`
}

export function TimerDialog ({ contact, group, onClose }) {
  const t = (contact ?? group).timer
  // Said once, the first time the control is opened; then remembered in this browser.
  const [showNote] = useState(() => !timerNoteSeen.value)
  useEffect(() => {
    if (timerNoteSeen.value) return
    timerNoteSeen.value = true
    writeLocal('sotto.timerNoteSeen', 'yes')
  }, [])
  const [choice, setChoice] = useState(choiceOf(t))
  const initial = splitDuration(timerOn(t) ? t.seconds : 3600)
  const [amount, setAmount] = useState(String(initial.amount))
  const [unit, setUnit] = useState(String(initial.unit.seconds))
  const [mode, setMode] = useState(t.mode === 'after-read' ? 'after-read' : 'after-send')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const off = choice === '0'
  const save = async (e) => {
    e.preventDefault()
    if (busy) return
    let seconds = Number(choice)
    if (choice === 'custom') {
      const custom = customSeconds(amount, Number(unit))
      if (custom.error !== undefined) { setError(custom.error); return }
      seconds = custom.seconds
    }
    setBusy(true)
    setError('')
    try {
      const setting = off ? { mode: 'off', seconds: 0 } : { mode, seconds }
      if (group !== undefined) await setGroupTimer(group.id, setting)
      else await setTimer(contact.sessionId, setting)
      onClose()
    } catch (err) {
      if (!err.handled) setError(err.message)
    } finally {
      setBusy(false)
    }
  }
  const changed = changedLine(contact, group)
  // Whose copies the other side's Sotto deletes, and who else may change it.
  const others = group !== undefined ? 'each member\'s Sotto deletes its copy too, as long as their app is' : `${nameOf(contact)}'s Sotto deletes its copy too, as long as their app is`
  return html`<${Dialog} id=${IDS.timerDialog} title="Disappearing messages" onClose=${onClose}>
    ${showNote && html`<div class="timer-note" id=${IDS.timerNote}>
      <p><strong>What this does:</strong> after the time you pick, each new message is deleted from this computer, and ${others} an unmodified Sotto.</p>
      <p><strong>What it cannot do:</strong> stop a screenshot, a photo of the screen, or a modified app that keeps messages. Use it so old messages do not pile up, not against ${group !== undefined ? 'the people' : 'the person'} you write to.</p>
    </div>`}
    <p id=${IDS.timerCurrent}>Now: ${timerWords(t)}.${changed && html` <span class="muted">${changed}</span>`}</p>
    <form onSubmit=${save} noValidate>
      <div class="field">
        <label for=${IDS.timerChoice}>New messages disappear</label>
        <select id=${IDS.timerChoice} value=${choice} onChange=${(e) => { setChoice(e.currentTarget.value); setError('') }}>
          ${TIMER_CHOICES.map((s) => html`<option value=${String(s)}>${s === 0 ? 'Off' : `After ${durationWords(s)}`}</option>`)}
          <option value="custom">Custom time…</option>
        </select>
      </div>
      ${choice === 'custom' && html`<div class="timer-custom">
        <div class="field">
          <label for=${IDS.timerAmount}>Amount</label>
          <input id=${IDS.timerAmount} type="number" min="1" step="1" inputMode="numeric" value=${amount}
            aria-describedby=${IDS.timerError} aria-invalid=${error ? 'true' : undefined} onInput=${(e) => { setAmount(e.currentTarget.value); setError('') }} />
        </div>
        <div class="field">
          <label for=${IDS.timerUnit}>Unit</label>
          <select id=${IDS.timerUnit} value=${unit} onChange=${(e) => { setUnit(e.currentTarget.value); setError('') }}>
            ${[...TIMER_UNITS].reverse().map((u) => html`<option value=${String(u.seconds)}>${u.one}s</option>`)}
          </select>
        </div>
      </div>`}
      <fieldset class="picker timer-mode" disabled=${off}>
        <legend>The time counts from</legend>
        <div class="check"><input type="radio" name="timer-mode" id=${IDS.timerAfterSend} value="after-send" checked=${mode === 'after-send'} onChange=${() => setMode('after-send')} />
          <label for=${IDS.timerAfterSend}>Sending: the same for both of you</label></div>
        <div class="check"><input type="radio" name="timer-mode" id=${IDS.timerAfterRead} value="after-read" checked=${mode === 'after-read'} onChange=${() => setMode('after-read')} />
          <label for=${IDS.timerAfterRead}>Reading: each copy goes that long after it is first read${group !== undefined ? ' (yours: after sending)' : ''}</label></div>
      </fieldset>
      <p class="hint">${group !== undefined
        ? 'It applies to messages sent from now on, for every member; any member can change it.'
        : 'It applies to messages sent from now on, on both sides; either of you can change it.'}</p>
      <${ErrorText} id=${IDS.timerError} text=${error} />
      <div class="row">
        <button class="primary" id=${IDS.timerSave} type="submit" disabled=${busy}>Save</button>
        <button type="button" onClick=${onClose}>Cancel</button>
      </div>
    </form>
  <//>`
}

/** The centred line a timer change leaves: "You set disappearing messages to … · 10:32"; in a group, named by its member. */
export function TimerLine ({ m, contact }) {
  const who = m.direction === 'out' ? 'You' : typeof m.group === 'string' ? (typeof m.from === 'string' ? memberName(m.from) : 'Someone') : nameOf(contact)
  return html`<div class="timer-line" data-id=${m.id} data-direction=${m.direction}>
    <span><${Stopwatch} /> ${timerChangeText(m.event, who)} · ${timeOf(m.sentAt)}</span>
  </div>`
}

/**
 * The countdown on a disappearing message, once its clock runs (expiresAt); before that (after
 * reading, not read yet) how long it will last. At zero the message leaves the page at once.
 */
export function Countdown ({ m }) {
  if (typeof m.expiresAt === 'number') return html`<${Running} m=${m} />`
  if (!timerOn(m.timer)) return null
  return html`<span class="countdown waiting" data-timer=${m.timer.seconds}>
    <span aria-hidden="true"> · <${Stopwatch} /> ${durationShort(m.timer.seconds)}</span><span class="sr-only">, disappears ${durationWords(m.timer.seconds)} ${modeWords(m.timer.mode)}</span>
  </span>`
}

function Running ({ m }) {
  // Redrawn at each tick; the time is read now, as the clock may have been still until this
  // countdown appeared. Drawn only: useExpiry (below) takes the message away at zero.
  useClock()
  const left = m.expiresAt - Date.now()
  return html`<span class="countdown" data-expires=${m.expiresAt}>
    <span aria-hidden="true"> · <${Stopwatch} /> ${timeLeft(left)}</span><span class="sr-only">, ${timeLeftWords(left)}</span>
  </span>`
}

/**
 * Hides the open conversation's messages at their expiresAt even where no countdown is drawn
 * (a bubble scrolled into a list not shown): one timeout, for the soonest.
 */
export function useExpiry (peer, messages) {
  let soonest = Infinity
  for (const m of messages) if (typeof m.expiresAt === 'number' && m.expiresAt < soonest) soonest = m.expiresAt
  useEffect(() => {
    if (soonest === Infinity) return
    let timer
    const arm = () => {
      // setTimeout takes at most 2^31-1 ms; a week is far below.
      timer = setTimeout(() => {
        // The node deletes it and says so (messages-expired); the page does not wait for that.
        if (Date.now() < soonest) { arm(); return }
        removeExpired(peer, messages.filter((m) => typeof m.expiresAt === 'number' && m.expiresAt <= soonest).map((m) => m.id))
      }, Math.max(0, soonest - Date.now()))
    }
    arm()
    return () => clearTimeout(timer)
  }, [peer, soonest])
}

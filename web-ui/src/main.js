// Entry point: draws the app, reads the node's state, and wires what lives outside any one
// view: theme, tab title, page visibility, keyboard shortcuts.
import { effect } from '@preact/signals'
import { render } from 'preact'
import { IDS } from '../ids.js'
import { contactRemoved, groupGone, loadMain, markGroupRead, markRead, openChat, openGroup, refreshAll, showLocked, signedOut } from './actions.js'
import { onNodeChange } from './api.js'
import { App } from './app.js'
import { setEventHandlers } from './events.js'
import { html } from './html.js'
import { chats, pane, screen, theme, totalUnread, visible } from './store.js'

onNodeChange({
  back: () => { void refreshAll().catch(() => {}) },
  locked: showLocked,
  signedOut
})
setEventHandlers({
  locked: showLocked,
  unlocked: () => { void loadMain().catch(() => {}) },
  markRead: (peer) => { void markRead(peer) },
  markGroupRead: (id) => { void markGroupRead(id) },
  contactRemoved,
  groupRemoved: groupGone
})

effect(() => {
  const t = theme.value
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t
  else delete document.documentElement.dataset.theme
})

effect(() => {
  const n = screen.value === 'main' ? totalUnread.value : 0
  document.title = n > 0 ? `(${n}) Sotto` : 'Sotto'
})

document.addEventListener('visibilitychange', () => {
  visible.value = document.visibilityState === 'visible'
  if (visible.value && pane.value?.kind === 'chat') void markRead(pane.value.peer)
  if (visible.value && pane.value?.kind === 'group') void markGroupRead(pane.value.peer)
})

function typing (target) {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))
}

// Ctrl+K (or / outside a text field) focuses the search; Alt+Up/Down moves between
// conversations. Not while a dialog is open: its keys are its own.
document.addEventListener('keydown', (e) => {
  if (screen.value !== 'main' || document.querySelector('dialog[open]') !== null) return
  if (((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') || (e.key === '/' && !typing(e.target))) {
    e.preventDefault()
    document.getElementById(IDS.search)?.focus()
    return
  }
  if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    const list = chats.value
    if (list.length === 0) return
    e.preventDefault()
    const here = list.findIndex((entry) => pane.value?.peer === entry.id)
    const step = e.key === 'ArrowDown' ? 1 : -1
    const next = list[here === -1 ? (step === 1 ? 0 : list.length - 1) : (here + step + list.length) % list.length]
    if (next.kind === 'group') openGroup(next.id)
    else openChat(next.id)
  }
})

render(html`<${App} />`, document.getElementById('root'))
void refreshAll().catch(() => {})

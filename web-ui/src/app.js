// The app shell: picks the screen, lays out the main one (list + pane), and holds the pieces
// every screen shares: the reconnecting banner, the toast and the live region.
import { useEffect } from 'preact/hooks'
import { IDS } from '../ids.js'
import { html } from './html.js'
import { announcement, connection, currentContact, currentGroup, pane, screen, toast } from './store.js'
import { ChatList } from './views/chat-list.js'
import { CallScreen } from './views/call.js'
import { ContactView } from './views/contact.js'
import { Conversation } from './views/conversation.js'
import { GroupConversation } from './views/group.js'
import { GroupInfo } from './views/group-info.js'
import { Settings } from './views/settings.js'
import { Loading, SignedOut, Unlock } from './views/unlock.js'
import { ConfirmPhrase, Create, Restore, ShowPhrase, Welcome } from './views/welcome.js'

const SCREENS = {
  loading: Loading,
  'signed-out': SignedOut,
  welcome: Welcome,
  create: Create,
  restore: Restore,
  phrase: ShowPhrase,
  confirm: ConfirmPhrase,
  unlock: Unlock,
  main: Main
}

/** How long a toast stays. */
const TOAST_MS = 6000

export function App () {
  const Screen = SCREENS[screen.value] ?? Loading
  return html`
    ${connection.value === 'away' && html`<div class="reconnecting" id=${IDS.reconnecting}>Reconnecting to your Sotto node…</div>`}
    <${Screen} />
    ${screen.value === 'main' && html`<${CallScreen} />`}
    <${Toast} />
    <div class="sr-only" id=${IDS.announcer} aria-live="polite" aria-atomic="true">${announcement.value}</div>`
}

function Main () {
  const p = pane.value
  const contact = currentContact.value
  const group = currentGroup.value
  let right
  if (p?.kind === 'settings') right = html`<${Settings} />`
  else if (p?.kind === 'contact' && contact !== null) right = html`<${ContactView} key=${contact.sessionId} contact=${contact} />`
  else if (p?.kind === 'chat' && contact !== null) right = html`<${Conversation} key=${contact.sessionId} contact=${contact} />`
  else if (p?.kind === 'group' && group !== null) right = html`<${GroupConversation} key=${group.id} group=${group} />`
  else if (p?.kind === 'group-info' && group !== null) right = html`<${GroupInfo} key=${group.id} group=${group} />`
  else right = html`<section class="pane empty-pane"><p class="placeholder">Choose a conversation, or add a contact to start one.</p></section>`
  return html`<div class=${`layout${right !== undefined && p !== null ? ' open' : ''}`} id=${IDS.app}>
    <${ChatList} />
    <main class="main">${right}</main>
  </div>`
}

function Toast () {
  const t = toast.value
  useEffect(() => {
    if (t === null) return
    const timer = setTimeout(() => { if (toast.value === t) toast.value = null }, TOAST_MS)
    return () => clearTimeout(timer)
  }, [t])
  if (t === null) return null
  return html`<div class="toast" id=${IDS.toast}><span>${t.text}</span><button class="link" onClick=${() => { toast.value = null }}>Dismiss</button></div>`
}

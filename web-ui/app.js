// Sotto's web UI: plain modules, no framework, no inline script (strict CSP). Text from
// peers and contacts only ever reaches the page as text nodes (textContent), never as HTML.
import { IDS } from './ids.js'
import qrcode from './qrcode.mjs'

const root = document.getElementById('root')
const state = { status: null, contacts: [], current: null, messages: [], events: null }
const STATE_LABEL = { sending: 'sending…', stored: 'stored for later', delivered: 'delivered', read: 'read', failed: 'not sent', received: '' }

/** h('div', { class: 'x', id, onclick }, 'text', child) — strings become text nodes. */
function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else if (k === 'class') el.className = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(typeof c === 'string' ? document.createTextNode(c) : c)
  return el
}

async function api (method, path, body) {
  const res = await fetch(path, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' })
  const json = await res.json().catch(() => ({}))
  if (!res.ok) {
    const err = new Error(json.error?.message ?? `error ${res.status}`)
    err.code = json.error?.code
    err.retryAfterMs = json.error?.retryAfterMs
    err.status = res.status
    throw err
  }
  return json
}

function show (...nodes) { root.replaceChildren(...nodes) }

/** A QR code as an image (data: URL, allowed by the CSP); the text is not secret. */
function qr (text, label, id) {
  const code = qrcode(0, 'M')
  code.addData(text)
  code.make()
  return h('img', { class: 'qr', id, src: code.createDataURL(4, 8), alt: label, width: 200, height: 200 })
}

async function boot () {
  try {
    state.status = await api('GET', '/api/status')
  } catch (err) {
    show(h('div', { class: 'card' }, h('h1', {}, 'Sotto'), h('p', {}, err.status === 401
      ? 'This browser is not signed in. Each link Sotto prints works once: run "sotto open" on this computer and open the link it prints.'
      : 'The node is not answering. Is "sotto start" still running?')))
    return
  }
  connectEvents()
  if (state.status.state === 'no-account') return welcome()
  if (state.status.state === 'locked') return unlock()
  return main()
}

function connectEvents () {
  if (state.events !== null) return
  const es = new EventSource('/api/events')
  state.events = es
  es.addEventListener('message', (e) => onMessage(JSON.parse(e.data)))
  es.addEventListener('message-state', (e) => onMessageState(JSON.parse(e.data)))
  es.addEventListener('contact', (e) => onContact(JSON.parse(e.data)))
  es.addEventListener('status', (e) => { state.status = JSON.parse(e.data) })
  es.addEventListener('locked', () => unlock())
}

// ---------------------------------------------------------------- welcome, create, restore
function welcome () {
  show(h('div', { class: 'card', id: IDS.welcome },
    h('h1', {}, 'Welcome to Sotto'),
    h('p', {}, 'A private messenger with no server. Your account is a key made from 12 words: no phone number, no e-mail.'),
    h('div', { class: 'row' },
      h('button', { class: 'primary', id: IDS.createButton, onclick: createFlow }, 'Create a new account'),
      h('button', { id: IDS.restoreButton, onclick: restoreFlow }, 'Restore from recovery phrase'))))
}

function passphraseFields () {
  return [
    h('label', { for: IDS.passphrase }, 'Passphrase (locks Sotto on this computer)'),
    h('input', { id: IDS.passphrase, type: 'password', autocomplete: 'new-password', minlength: 8 }),
    h('label', { for: IDS.passphrase2 }, 'Repeat the passphrase'),
    h('input', { id: IDS.passphrase2, type: 'password', autocomplete: 'new-password' })
  ]
}

function readPassphrase (error) {
  const p = document.getElementById(IDS.passphrase).value
  if (p.length < 8) { error.textContent = 'The passphrase needs at least 8 characters.'; return undefined }
  if (p !== document.getElementById(IDS.passphrase2).value) { error.textContent = 'The two passphrases differ.'; return undefined }
  return p
}

function createFlow () {
  const error = h('p', { class: 'error', id: IDS.formError })
  const form = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault()
    const passphrase = readPassphrase(error)
    if (passphrase === undefined) return
    try {
      const { phrase } = await api('POST', '/api/account/create', { passphrase })
      showPhrase(phrase.split(' '))
    } catch (err) { error.textContent = err.message }
  } },
  h('h1', {}, 'Create your account'), ...passphraseFields(), error,
  h('div', { class: 'row' }, h('button', { class: 'primary', id: IDS.submit, type: 'submit' }, 'Create account'), h('button', { type: 'button', onclick: welcome }, 'Back')))
  show(form)
  document.getElementById(IDS.passphrase).focus()
}

function showPhrase (words) {
  show(h('div', { class: 'card' },
    h('h1', {}, 'Your recovery phrase'),
    h('p', {}, 'Write these 12 words down, in order, and keep them safe. They are shown only once; they are the only way back into your account on another computer.'),
    h('ol', { class: 'words', id: IDS.phraseGrid }, words.map((w) => h('li', {}, w))),
    h('div', { class: 'row' }, h('button', { class: 'primary', id: IDS.phraseDone, onclick: () => confirmPhrase(words) }, 'I have written them down'))))
}

function confirmPhrase (words) {
  const picks = [2, 6, 10].map((i) => i + Math.floor(Math.random() * 2))
  const error = h('p', { class: 'error', id: IDS.formError })
  const inputs = picks.map((i) => [h('label', { for: `confirm-${i}` }, `Word ${i + 1}`), h('input', { id: `confirm-${i}`, autocomplete: 'off', 'data-index': i })])
  show(h('form', { class: 'card', id: IDS.confirmInputs, onsubmit: (e) => {
    e.preventDefault()
    const ok = picks.every((i) => document.getElementById(`confirm-${i}`).value.trim().toLowerCase() === words[i])
    if (ok) main()
    else error.textContent = 'That does not match. Check the words you wrote down.'
  } },
  h('h1', {}, 'Check your phrase'), h('p', {}, 'Type these words from your phrase, to be sure it is written down right.'),
  ...inputs.flat(), error,
  h('div', { class: 'row' }, h('button', { class: 'primary', id: IDS.confirmButton, type: 'submit' }, 'Continue'), h('button', { type: 'button', onclick: () => showPhrase(words) }, 'Show the words again'))))
}

let wordlist = null
async function loadWordlist () {
  if (wordlist === null) wordlist = new Set(await fetch('/bip39-english.json').then((r) => r.json()).catch(() => []))
  return wordlist
}

function restoreFlow () {
  const error = h('p', { class: 'error', id: IDS.formError })
  const hint = h('p', { class: 'hint', id: IDS.restoreHint })
  const area = h('textarea', { id: IDS.restorePhrase, rows: 3, autocomplete: 'off', spellcheck: 'false', oninput: async () => {
    const list = await loadWordlist()
    const words = area.value.trim().toLowerCase().split(/\s+/).filter(Boolean)
    const bad = words.findIndex((w, i) => list.size > 0 && !list.has(w) && (i < words.length - 1 || /\s$/.test(area.value)))
    hint.textContent = bad >= 0 ? `Word ${bad + 1} ("${words[bad]}") is not a recovery-phrase word.` : `${words.length} of 12 words`
  } })
  show(h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault()
    const passphrase = readPassphrase(error)
    if (passphrase === undefined) return
    try {
      await api('POST', '/api/account/restore', { phrase: area.value, passphrase })
      main()
    } catch (err) { error.textContent = err.message }
  } },
  h('h1', {}, 'Restore your account'), h('label', { for: IDS.restorePhrase }, 'Recovery phrase (12 or 24 words)'), area, hint,
  ...passphraseFields(), error,
  h('div', { class: 'row' }, h('button', { class: 'primary', id: IDS.submit, type: 'submit' }, 'Restore'), h('button', { type: 'button', onclick: welcome }, 'Back'))))
  area.focus()
}

// ---------------------------------------------------------------- unlock
function unlock () {
  const error = h('p', { class: 'error', id: IDS.unlockError })
  const input = h('input', { id: IDS.unlockPassphrase, type: 'password', autocomplete: 'current-password' })
  show(h('form', { class: 'card', id: IDS.unlock, onsubmit: async (e) => {
    e.preventDefault()
    try {
      await api('POST', '/api/unlock', { passphrase: input.value })
      main()
    } catch (err) {
      input.value = ''
      error.textContent = err.code === 'ERR_WRONG_PASSPHRASE' ? 'Wrong passphrase.'
        : err.code === 'ERR_UNLOCK_THROTTLED' || err.code === 'ERR_UNLOCK_BUSY' ? `Too many tries. Wait ${Math.ceil((err.retryAfterMs ?? 1000) / 1000)} seconds.` : err.message
    }
  } },
  h('h1', {}, 'Sotto is locked'), h('p', {}, 'Enter your passphrase to continue.'),
  h('label', { for: IDS.unlockPassphrase }, 'Passphrase'), input, error,
  h('div', { class: 'row' }, h('button', { class: 'primary', id: IDS.unlockButton, type: 'submit' }, 'Unlock'))))
  input.focus()
}

// ---------------------------------------------------------------- main screen
async function main () {
  state.status = await api('GET', '/api/status')
  if (state.status.state !== 'unlocked') return state.status.state === 'locked' ? unlock() : welcome()
  state.contacts = (await api('GET', '/api/contacts')).contacts
  render()
}

function render () {
  const me = state.status.sessionId
  const idError = h('p', { class: 'error', id: IDS.addContactError })
  const nameInput = h('input', { id: IDS.addContactName, placeholder: 'Name', autocomplete: 'off' })
  const idInput = h('input', { id: IDS.addContactId, placeholder: 'Session ID (05…) or invite', autocomplete: 'off', spellcheck: 'false', oninput: () => {
    const invite = parseInvite(idInput.value)
    if (invite !== undefined) {
      idInput.value = invite.sessionId
      if (nameInput.value === '') nameInput.value = invite.name
    }
    idError.textContent = sessionIdProblem(idInput.value.trim()) ?? ''
  } })
  const requests = state.contacts.filter((c) => c.state === 'request')
  const chats = state.contacts.filter((c) => c.state !== 'request')
  const rollback = state.status.rollback
    ? h('div', { class: 'banner', id: IDS.rollbackBanner, role: 'alert' }, 'This data folder is an older copy than this computer had (restored from a backup?). Your conversations restarted their encryption; messages received after the copy was made may show again.')
    : null
  const sidebar = h('aside', { class: 'sidebar' },
    rollback,
    h('div', { class: 'me' },
      h('strong', {}, 'Your Session ID'),
      h('div', { class: 'id', id: IDS.ownId }, me),
      h('div', { class: 'row' },
        h('button', { id: IDS.copyId, title: 'Copy an invite others can paste', onclick: async (e) => { await navigator.clipboard?.writeText(inviteFor(me)).catch(() => {}); e.target.textContent = 'Invite copied' } }, 'Copy invite'),
        h('button', { id: IDS.showQr, onclick: () => {
          const d = h('dialog', {}, h('h2', {}, 'Your Session ID'), h('p', {}, 'Let a friend scan this to add you.'), qr(inviteFor(me), 'QR code of your invite', IDS.ownQr),
            h('p', { class: 'id' }, me), h('div', { class: 'row' }, h('button', { onclick: () => { d.close(); d.remove() } }, 'Close')))
          document.body.append(d)
          d.showModal()
        } }, 'QR'),
        h('button', { id: IDS.networkButton, onclick: networkDialog }, 'Network'),
        h('button', { id: IDS.lockButton, onclick: async () => { await api('POST', '/api/lock'); unlock() } }, 'Lock'))),
    h('form', { class: 'section', onsubmit: async (e) => {
      e.preventDefault()
      const problem = sessionIdProblem(idInput.value.trim())
      if (problem !== undefined) { idError.textContent = problem; return }
      try {
        const { contact } = await api('POST', '/api/contacts', { sessionId: idInput.value.trim(), name: nameInput.value.trim() || idInput.value.trim().slice(0, 10) })
        upsert(contact)
        open(contact.sessionId)
      } catch (err) { idError.textContent = err.message }
    } }, h('h2', {}, 'Add a contact'), idInput, nameInput, idError, h('button', { class: 'primary', id: IDS.addContactButton, type: 'submit' }, 'Add')),
    requests.length === 0 ? null : h('div', { class: 'section' }, h('h2', {}, 'Message requests'),
      h('ul', { class: 'list', id: IDS.requests }, requests.map((c) => h('li', {},
        h('button', { onclick: () => open(c.sessionId) }, h('span', {}, c.name, h('span', { class: 'preview' }, 'wants to talk to you')), h('span', { class: 'badge' }, String(c.unread))))))),
    h('div', { class: 'section' }, h('h2', {}, 'Conversations'),
      chats.length === 0 ? h('p', { class: 'empty' }, 'No conversations yet. Add a contact with their Session ID.') : null,
      h('ul', { class: 'list', id: IDS.conversations }, chats.map((c) => h('li', {},
        h('button', { 'aria-current': state.current === c.sessionId ? 'true' : 'false', 'data-contact': c.sessionId, onclick: () => open(c.sessionId) },
          h('span', {}, c.name + (c.state === 'blocked' ? ' (blocked)' : ''), h('span', { class: 'preview' }, c.verified ? 'verified' : '')),
          c.unread > 0 ? h('span', { class: 'badge' }, String(c.unread)) : null))))))
  show(h('div', { class: `layout${state.current ? ' chatting' : ''}`, id: IDS.app }, sidebar, pane()))
}

/** An invite is `sotto:<Session ID>?name=<name>`; a pasted invite fills both fields. */
export function parseInvite (text) {
  const m = /^sotto:(05[0-9a-fA-F]{64})(?:\?name=([^&]*))?$/.exec(text.trim())
  if (m === null) return undefined
  let name = ''
  try { name = decodeURIComponent(m[2] ?? '') } catch { name = '' }
  return { sessionId: m[1].toLowerCase(), name: name.slice(0, 64) }
}

function inviteFor (sessionId) { return `sotto:${sessionId}` }

function sessionIdProblem (id) {
  if (id === '') return undefined
  if (parseInvite(id) !== undefined) return undefined
  if (!id.startsWith('05')) return 'A Session ID starts with 05.'
  if (!/^[0-9a-fA-F]*$/.test(id)) return 'A Session ID has only the digits 0-9 and letters a-f.'
  if (id.length !== 66) return `A Session ID has 66 characters; this has ${id.length}.`
  return undefined
}

function pane () {
  const c = state.contacts.find((x) => x.sessionId === state.current)
  if (c === undefined) return h('section', { class: 'pane' }, h('p', { class: 'placeholder' }, 'Choose a conversation, or add a contact to start one.'))
  const list = h('div', { class: 'messages', id: IDS.messages }, state.messages.length === 0 ? h('p', { class: 'placeholder' }, 'No messages yet. Say hello.') : null, state.messages.map(bubble))
  const input = h('textarea', { id: IDS.composer, placeholder: 'Message', 'aria-label': 'Message', onkeydown: (e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send() } } })
  const send = async () => {
    const text = input.value.trim()
    if (text === '') return
    input.value = ''
    try { await api('POST', '/api/messages', { to: c.sessionId, text }) } catch (err) { input.value = text; alertText(err.message) }
  }
  const header = h('header', {},
    h('button', { class: 'back', onclick: () => { state.current = null; render() } }, 'Back'),
    h('h2', { id: IDS.conversationTitle }, c.name),
    h('div', { class: 'row' },
      c.state === 'request' ? h('button', { class: 'primary', onclick: () => setContact(c, { state: 'accepted' }) }, 'Accept') : null,
      h('button', { onclick: () => setContact(c, { state: c.state === 'blocked' ? 'accepted' : 'blocked' }) }, c.state === 'blocked' ? 'Unblock' : 'Block'),
      h('button', { id: IDS.verifyButton, onclick: () => verifyDialog(c) }, c.verified ? 'Verified ✓' : 'Verify')))
  const banner = c.identityChanged ? h('div', { class: 'banner', id: IDS.identityBanner }, `${c.name}'s identity key changed. Verify their safety number before trusting new messages.`) : null
  setTimeout(() => { list.scrollTop = list.scrollHeight; input.focus() }, 0)
  return h('section', { class: 'pane', id: IDS.conversation }, header, banner, list,
    h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); send() } }, input, h('button', { class: 'primary', id: IDS.sendButton, type: 'submit' }, 'Send')))
}

function bubble (m) {
  const time = new Date(m.receivedAt ?? m.sentAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  const label = m.direction === 'out' ? ` · ${STATE_LABEL[m.state] ?? m.state}` : ''
  return h('div', { class: `bubble ${m.direction}`, 'data-id': m.id, 'data-state': m.state }, m.text, h('span', { class: 'meta' }, time + label))
}

function alertText (text) {
  const d = h('dialog', {}, h('p', {}, text), h('button', { onclick: () => d.close() }, 'OK'))
  document.body.append(d)
  d.showModal()
}

async function open (sessionId) {
  state.current = sessionId
  state.messages = (await api('GET', `/api/conversations/${sessionId}/messages`)).messages
  render()
  if (document.visibilityState === 'visible') await api('POST', `/api/conversations/${sessionId}/read`).catch(() => {})
}

async function setContact (c, change) {
  const { contact } = await api('PUT', `/api/contacts/${c.sessionId}`, change)
  upsert(contact)
  render()
}

function upsert (contact) {
  const i = state.contacts.findIndex((c) => c.sessionId === contact.sessionId)
  if (i === -1) state.contacts.unshift(contact)
  else state.contacts[i] = contact
}

async function verifyDialog (c) {
  const { digits } = await api('GET', `/api/contacts/${c.sessionId}/safety-number`)
  const groups = digits.match(/\d{5}/g)
  const d = h('dialog', { id: IDS.verifyDialog },
    h('h2', {}, `Verify ${c.name}`),
    h('p', {}, 'Compare these numbers with the ones on your contact\'s screen, in person or on a call you trust. If they match, nobody is in the middle.'),
    h('div', { class: 'digits', id: IDS.safetyNumber }, groups.map((g) => h('span', {}, g))),
    h('div', { class: 'center' }, qr(digits, 'QR code of the safety number', IDS.safetyQr)),
    h('div', { class: 'row' },
      h('button', { class: 'primary', id: IDS.markVerified, onclick: async () => { await setContact(c, { verified: true }); d.close(); d.remove() } }, 'Mark as verified'),
      h('button', { id: IDS.closeVerify, onclick: () => { d.close(); d.remove() } }, 'Close')))
  document.body.append(d)
  d.showModal()
}

async function networkDialog () {
  const [s, settings] = await Promise.all([api('GET', '/api/status'), api('GET', '/api/settings')])
  const boot = h('textarea', { id: IDS.bootstrapList, rows: 3, spellcheck: 'false' })
  boot.value = settings.bootstrap.join('\n')
  const idle = h('input', { id: IDS.idleMinutes, type: 'number', min: 1, max: 1440 })
  idle.value = String(settings.idleLockMinutes)
  const d = h('dialog', { id: IDS.networkDialog },
    h('h2', {}, 'Network'),
    h('dl', { class: 'status', id: IDS.networkStatus },
      h('dt', {}, 'Peers connected'), h('dd', {}, String(s.peers)),
      h('dt', {}, 'DHT'), h('dd', {}, `${s.dht.routingTable} peers in the routing table; your record is ${s.dht.recordPublished ? 'published' : 'not published yet'}`),
      h('dt', {}, 'Held for others'), h('dd', {}, s.mailbox ? `${s.mailbox.envelopes} sealed messages (${Math.round(s.mailbox.bytes / 1024)} KiB)` : 'mailbox off'),
      h('dt', {}, 'Your addresses'), h('dd', {}, s.addresses.join(' '))),
    h('label', { for: IDS.bootstrapList }, 'Bootstrap peers (one multiaddr per line)'), boot,
    h('label', { for: IDS.idleMinutes }, 'Lock after this many idle minutes'), idle,
    h('div', { class: 'row' },
      h('button', { class: 'primary', id: IDS.saveSettings, onclick: async () => {
        await api('PUT', '/api/settings', { bootstrap: boot.value.split(/\s+/).filter(Boolean), idleLockMinutes: Number(idle.value) })
        d.close(); d.remove()
      } }, 'Save'),
      h('button', { id: IDS.notifyButton, onclick: () => Notification.requestPermission() }, 'Allow notifications'),
      h('button', { onclick: () => { d.close(); d.remove() } }, 'Close')))
  document.body.append(d)
  d.showModal()
}

// ---------------------------------------------------------------- live events
function onMessage (m) {
  if (m.peer === state.current) {
    state.messages.push(m)
    const list = document.getElementById(IDS.messages)
    if (list !== null) {
      list.querySelector('.placeholder')?.remove()
      list.append(bubble(m))
      list.scrollTop = list.scrollHeight
    }
    if (m.direction === 'in' && document.visibilityState === 'visible') api('POST', `/api/conversations/${m.peer}/read`).catch(() => {})
  }
  if (m.direction === 'in' && document.visibilityState !== 'visible' && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
    const c = state.contacts.find((x) => x.sessionId === m.peer)
    new Notification(c?.name ?? 'New message', { body: 'New message' })
  }
}

function onMessageState ({ id, state: s }) {
  const m = state.messages.find((x) => x.id === id)
  if (m !== undefined) m.state = s
  const el = document.querySelector(`.bubble[data-id="${CSS.escape(id)}"]`)
  if (el !== null && m !== undefined) el.replaceWith(bubble(m))
}

function onContact (contact) {
  upsert(contact)
  if (document.getElementById(IDS.app) !== null && document.activeElement?.id !== IDS.composer) render()
}

boot()

// Files in a conversation. The composer's side: the attach button (with the limit said before
// anything is chosen), drag and drop, a pasted picture, the chip of the chosen file and the
// upload's progress. The bubble's side: a picture's thumbnail first and the picture itself
// once its bytes are here (full size in a dialog), other files with their name, size and a
// Download link; a progress bar while bytes move, who is awaited, a failed download's Retry.
import { signal } from '@preact/signals'
import { useEffect, useRef, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { attachmentUrl, probeAttachments, retryAttachment, uploadAttachment } from '../actions.js'
import { attempt } from '../api.js'
import { formatSize, isImage } from '../format.js'
import { html } from '../html.js'
import { ATTACHMENT_LIMIT_TEXT, MAX_ATTACHMENT } from '../limits.js'
import { has, status } from '../store.js'
import { makeThumbnail } from '../thumbnail.js'
import { Dialog } from './dialog.js'

/** Whether the node was asked and takes files (until then the button stays away). */
const nodeTakesFiles = signal(false)

/**
 * Whether the composer offers files. In a group only where the node is known to carry them
 * there: its status lists `group-attachments` among its `features`, or the group already has
 * a message with a file (a node that does not know files in groups would send the text alone).
 */
export function attachmentsOffered (groupMessages) {
  if (!nodeTakesFiles.value || !has('attachments')) return false
  if (groupMessages === undefined) return true
  if (!has('group-attachments')) return false
  const features = status.value?.features
  return (Array.isArray(features) && features.includes('group-attachments')) || groupMessages.some((m) => Array.isArray(m.attachments))
}

/** Asks the node once whether it takes files (a node without the route: the feature hides). */
export function useAttachmentProbe () {
  useEffect(() => { void probeAttachments().then((yes) => { nodeTakesFiles.value = yes }) }, [])
}

/**
 * The chosen file of each conversation, kept like its half-written text: `chosen` is
 * { file, thumbnail: Promise<string|undefined>, preview? } or null; `error` says why a file
 * was refused.
 */
const fileDrafts = new Map()
export function fileDraftOf (peer) {
  if (!fileDrafts.has(peer)) fileDrafts.set(peer, { chosen: signal(null), error: signal('') })
  return fileDrafts.get(peer)
}

/** Why a file cannot be sent, said before any byte moves; '' when it can. */
export function refusal (file) {
  if (file.size > MAX_ATTACHMENT) return `"${file.name}" (${formatSize(file.size)}) is too large. ${ATTACHMENT_LIMIT_TEXT} can be sent.`
  if (file.size === 0) return `"${file.name}" is empty.`
  return ''
}

/**
 * Puts a file in the draft, or says why not (a file over the limit never starts uploading).
 * A picture's thumbnail is made meanwhile; `thumbnail` is a promise the send waits for.
 */
export function attachFile (draft, file, more = false) {
  const why = refusal(file)
  draft.error.value = why !== '' ? why : more ? 'One file per message: the first one is attached.' : ''
  if (why !== '') return
  const chosen = { file, thumbnail: makeThumbnail(file).catch(() => undefined), preview: undefined }
  draft.chosen.value = chosen
  void chosen.thumbnail.then((url) => { if (draft.chosen.value === chosen && url !== undefined) draft.chosen.value = { ...chosen, preview: url } })
}

/** The first file of a drop or a paste, and whether there were more. */
function firstFile (list) {
  const files = [...(list ?? [])]
  return { file: files[0], more: files.length > 1 }
}

/**
 * Drag and drop onto the whole conversation. Answers the props for its element and whether a
 * file is being dragged over it (the page shows where to drop).
 */
export function useFileDrop (enabled, onFile) {
  const [over, setOver] = useState(false)
  const depth = useRef(0)
  const carriesFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files')
  if (!enabled) return { over: false, props: {} }
  return {
    over,
    props: {
      onDragEnter: (e) => { if (!carriesFiles(e)) return; e.preventDefault(); depth.current++; setOver(true) },
      onDragOver: (e) => { if (!carriesFiles(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = 'copy' },
      onDragLeave: (e) => { if (!carriesFiles(e)) return; depth.current = Math.max(0, depth.current - 1); if (depth.current === 0) setOver(false) },
      onDrop: (e) => {
        if (!carriesFiles(e)) return
        e.preventDefault()
        depth.current = 0
        setOver(false)
        const { file, more } = firstFile(e.dataTransfer.files)
        if (file !== undefined) onFile(file, more)
      }
    }
  }
}

/** A picture pasted into the composer is attached (text pastes as usual). */
export function pastedImage (e) {
  const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'))
  return files[0]
}

const PAPERCLIP = html`<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"/></svg>`
const FILE_ICON = html`<svg class="att-icon" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round" d="M14 3H6.5A1.5 1.5 0 0 0 5 4.5v15A1.5 1.5 0 0 0 6.5 21h11a1.5 1.5 0 0 0 1.5-1.5V8z M14 3v5h5"/></svg>`

/** The attach button and its file picker; the limit is its description. */
export function AttachButton ({ disabled, onFile }) {
  const input = useRef(null)
  return html`<button type="button" class="icon attach" id=${IDS.attachButton} aria-label="Attach a file" aria-describedby=${IDS.attachLimit}
      disabled=${disabled} onClick=${() => input.current?.click()}>${PAPERCLIP}</button>
    <input type="file" id=${IDS.attachInput} ref=${input} hidden tabIndex="-1"
      onChange=${(e) => { const { file, more } = firstFile(e.currentTarget.files); e.currentTarget.value = ''; if (file !== undefined) onFile(file, more) }} />`
}

/** "Files up to 100 MB", in the composer's foot while files can be sent. */
export function AttachLimit () {
  return html`<span class="attach-limit" id=${IDS.attachLimit}>${ATTACHMENT_LIMIT_TEXT}</span>`
}

/** The chosen file before sending: its name, size, a remove button, the upload's progress. */
export function FileChip ({ chosen, progress, onRemove }) {
  const f = chosen.file
  return html`<div class="file-chip" id=${IDS.fileChip}>
    ${chosen.preview !== undefined ? html`<img class="chip-thumb" src=${chosen.preview} alt="" />` : FILE_ICON}
    <span class="chip-main">
      <span class="att-name">${f.name}</span>
      <span class="att-size">${progress === null ? formatSize(f.size) : `Uploading: ${formatSize(progress.sent)} of ${formatSize(f.size)}`}</span>
      ${progress !== null && html`<progress id=${IDS.uploadProgress} max=${f.size} value=${progress.sent} aria-label=${`Uploading ${f.name}`}></progress>`}
    </span>
    <button type="button" class="icon" id=${IDS.removeFile} aria-label=${`Remove ${f.name}`} disabled=${progress !== null} onClick=${onRemove}>✕</button>
  </div>`
}

/** The files a message carries, in its bubble. `sender`: whose node the bytes come from. */
export function Attachments ({ m, sender }) {
  if (!Array.isArray(m.attachments) || m.attachments.length === 0 || m.deleted) return null
  return html`<div class="files">${m.attachments.map((a) => html`<${FileView} key=${a.id} a=${a} m=${m} sender=${sender} />`)}</div>`
}

/** A file we sent is on our node whatever its recipients did (its state says how far they got). */
function isReady (a, m) { return a.state === 'ready' || m.direction === 'out' }

function FileView ({ a, m, sender }) {
  const ready = isReady(a, m)
  return isImage(a) ? html`<${ImageView} a=${a} m=${m} ready=${ready} sender=${sender} />` : html`<div class="att-file" data-attachment=${a.id} data-state=${a.state}>
    <div class="att-row">
      ${FILE_ICON}
      <span class="chip-main"><span class="att-name">${a.name}</span><span class="att-size">${formatSize(a.size)}</span></span>
      ${ready && html`<a class="button att-download" href=${attachmentUrl(a.id)} download=${a.name}>Download<span class="sr-only"> ${a.name}</span></a>`}
    </div>
    <${Transfer} a=${a} m=${m} sender=${sender} />
  </div>`
}

function ImageView ({ a, m, ready, sender }) {
  const [loaded, setLoaded] = useState(false)
  const [viewing, setViewing] = useState(false)
  const thumb = a.thumbnail !== undefined && a.thumbnail !== ''
    ? html`<img class="att-thumb" src=${a.thumbnail} alt=${ready ? '' : `Preview of ${a.name}`} />`
    : html`<span class="att-thumb att-blank">${!ready && html`<span class="sr-only">Picture ${a.name}</span>`}</span>`
  return html`<div class="att-image" data-attachment=${a.id} data-state=${a.state} data-phase=${ready && loaded ? 'full' : 'thumb'}>
    ${ready
      ? html`<button type="button" class="att-open" aria-label=${`Open the picture ${a.name}`} onClick=${() => setViewing(true)}>
          ${!loaded && thumb}<img class="att-full" src=${attachmentUrl(a.id)} alt="" onLoad=${() => setLoaded(true)} />
        </button>`
      : html`<div class="att-open">${thumb}</div>`}
    <${Transfer} a=${a} m=${m} sender=${sender} />
    ${viewing && html`<${ImageViewer} a=${a} onClose=${() => setViewing(false)} />`}
  </div>`
}

/** Where a file's bytes are: moving (a bar), awaited (whose node), failed (Retry). */
function Transfer ({ a, m, sender }) {
  const incoming = m.direction === 'in'
  const size = a.size ?? 0
  if (!incoming && (a.state === 'uploading' || a.state === 'delivered')) return html`<${Sending} a=${a} />`
  if (incoming && a.state === 'failed') {
    return html`<div class="att-status failed"><span>Download failed</span>
      ${has('attachments') && html`<button type="button" class="link" onClick=${attempt(() => retryAttachment(m.peer, m.id, a.id))}>Retry<span class="sr-only"> ${a.name}</span></button>`}</div>`
  }
  if (incoming && a.waitingFor === 'sender-online') return html`<div class="att-status">Waiting for ${sender} to come online</div>`
  const received = a.received ?? 0
  const moving = incoming ? (a.state === 'pending' || a.state === 'downloading') : received > 0 && received < size && a.state !== 'failed'
  if (!moving) return null
  const verb = incoming ? 'Receiving' : 'Sending'
  return html`<div class="att-status">
    <progress class="att-progress" max=${Math.max(size, 1)} value=${Math.min(received, size)} aria-label=${`${verb} ${a.name}`}></progress>
    <span>${formatSize(received)} of ${formatSize(size)}</span>
  </div>`
}

/**
 * A file we sent, as its recipients fetch it from our node: a bar while the furthest one is
 * fetching, and in a group how many members have it all ("Sent to 1 of 2") until all do.
 */
function Sending ({ a }) {
  const size = a.size ?? 0
  const sent = Math.min(a.sent ?? 0, size)
  const moving = a.state === 'uploading' && sent < size
  const recipients = a.recipients ?? 1
  const count = recipients > 1 && a.state !== 'delivered' && (a.delivered ?? 0) > 0 ? `Sent to ${a.delivered} of ${recipients}` : ''
  if (!moving && count === '') return null
  return html`<div class="att-status" data-sent=${sent}>
    ${moving && html`<progress class="att-progress" max=${Math.max(size, 1)} value=${sent} aria-label=${`Sending ${a.name}`}></progress>`}
    <span>${moving ? `${formatSize(sent)} of ${formatSize(size)}` : ''}${moving && count !== '' ? ' · ' : ''}${count}</span>
  </div>`
}

/** The picture at full size, from the node, in a dialog (focus moves in; Escape closes). */
function ImageViewer ({ a, onClose }) {
  return html`<${Dialog} id=${IDS.imageViewer} title=${a.name} onClose=${onClose} wide=${true}>
    <img class="viewer-image" src=${attachmentUrl(a.id)} alt=${a.name} />
    <div class="row">
      <span class="muted">${formatSize(a.size)}</span>
      <a class="button" href=${attachmentUrl(a.id)} download=${a.name}>Download</a>
      <button type="button" id=${IDS.closeViewer} onClick=${onClose}>Close</button>
    </div>
  <//>`
}

/** A thumbnail still being drawn after this long is left out: the file itself must not wait on it. */
const THUMBNAIL_WAIT_MS = 5_000

/** `promise`'s value, or undefined if it has not settled within `ms`. */
async function settledWithin (promise, ms) {
  let timer
  try {
    return await Promise.race([promise, new Promise((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The id of a composer's chosen file on the node, uploading it first unless an earlier try
 * already did (only the message failed then): a composer's send, 1:1 or group.
 */
export async function uploadedIdOf (file, onProgress) {
  if (file.uploaded === undefined) {
    onProgress(0)
    const thumbnail = await settledWithin(file.thumbnail, THUMBNAIL_WAIT_MS)
    file.uploaded = (await uploadAttachment(file.file, thumbnail, onProgress)).id
  }
  return file.uploaded
}

/** A composer's paste handler: a pasted picture becomes the chosen file when files are offered. */
export function pasteInto (files, offered) {
  return (e) => {
    if (!offered) return
    const image = pastedImage(e)
    if (image === undefined) return
    e.preventDefault()
    attachFile(files, image)
  }
}

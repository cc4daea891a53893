// Every call to the node goes through api() (a file's bytes through upload()), and every
// failure is sorted here, once:
//   401 (not a wrong passphrase): this browser's session is gone -> the "sign in again" screen
//   423: the node is locked -> the unlock screen
//   network failure: the node is away -> the "reconnecting…" banner, polling until it answers
//   404 ERR_NOT_FOUND on a route: the node predates the feature -> the feature hides
// What is left is thrown as an ApiError whose message is already in plain words, for the
// form that made the call to show. `handled` says the app already reacted (callers may stop).
import { errorText } from './format.js'
import { connection, markMissing, screen, toast } from './store.js'

export class ApiError extends Error {
  constructor (status, code, message, extra = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.retryAfterMs = extra.retryAfterMs
    this.handled = extra.handled === true
  }
}

const RETRY_FIRST_MS = 500
const RETRY_MAX_MS = 5000

let reconnecting = false
let onBack = () => {}
let onLocked = () => {}
let onSignedOut = () => {}

/** What to do when the node answers again, locks, or no longer knows this browser. */
export function onNodeChange (handlers) {
  onBack = handlers.back ?? onBack
  onLocked = handlers.locked ?? onLocked
  onSignedOut = handlers.signedOut ?? onSignedOut
}

/**
 * @param {string} method
 * @param {string} path under /api/
 * @param {unknown} [body] sent as JSON
 * @param {{ feature?: string, keepalive?: boolean }} [options] feature: the name to hide when the route is missing;
 *   keepalive: the request may outlive the page (a call hung up as the page closes)
 */
export async function api (method, path, body, options = {}) {
  let res
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      keepalive: options.keepalive === true
    })
  } catch {
    nodeAway()
    throw new ApiError(0, 'ERR_OFFLINE', errorText('ERR_OFFLINE'), { handled: true })
  }
  const json = await res.json().catch(() => ({}))
  if (res.ok) return json
  throw failure(res.status, json, options)
}

/** Sorts a refusal (see the top of this file) and answers the ApiError to throw. */
function failure (status, json, options = {}) {
  const code = json?.error?.code ?? `HTTP_${status}`
  const extra = { retryAfterMs: json?.error?.retryAfterMs }
  const message = errorText(code, json?.error?.message, extra)
  if (status === 401 && code !== 'ERR_WRONG_PASSPHRASE') {
    signedOut()
    return new ApiError(401, code, 'This browser is no longer signed in.', { handled: true })
  }
  if (status === 423) {
    onLocked()
    return new ApiError(423, code, message, { handled: true })
  }
  if (status === 404 && code === 'ERR_NOT_FOUND' && options.feature !== undefined) markMissing(options.feature)
  return new ApiError(status, code, message, extra)
}

/**
 * Sends a file's bytes to the node (POST /api/attachments), as they are: no JSON, so this is
 * the one call that is not api()'s; its failures are sorted the same way. XMLHttpRequest,
 * because it reports upload progress: onProgress(sentBytes, totalBytes).
 * @param {Blob} file
 * @param {{ name: string, mime: string, thumbnail?: string, onProgress?: (sent: number, total: number) => void, signal?: AbortSignal }} meta
 * @returns {Promise<{ id: string, name: string, size: number, mime: string }>}
 */
export function upload (file, meta) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/attachments')
    xhr.withCredentials = true
    xhr.responseType = 'text'
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.setRequestHeader('X-Sotto-Name', encodeURIComponent(meta.name))
    xhr.setRequestHeader('X-Sotto-Mime', meta.mime || 'application/octet-stream')
    if (typeof meta.thumbnail === 'string' && meta.thumbnail !== '') xhr.setRequestHeader('X-Sotto-Thumbnail', meta.thumbnail)
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) meta.onProgress?.(e.loaded, e.total) }
    xhr.onerror = () => {
      nodeAway()
      reject(new ApiError(0, 'ERR_OFFLINE', errorText('ERR_OFFLINE'), { handled: true }))
    }
    xhr.onabort = () => reject(new ApiError(0, 'ERR_ABORTED', 'The upload was cancelled.', { handled: true }))
    xhr.onload = () => {
      let json = {}
      try { json = JSON.parse(xhr.responseText) } catch { /* not JSON: sorted by status below */ }
      if (xhr.status >= 200 && xhr.status < 300 && json?.attachment !== undefined) resolve(json.attachment)
      else reject(failure(xhr.status, json, { feature: 'attachments' }))
    }
    meta.signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(file)
  })
}

function signedOut () {
  screen.value = 'signed-out'
  onSignedOut()
}

/** The node stopped answering: show the banner and ask again, slower each time, until it does. */
export function nodeAway () {
  connection.value = 'away'
  if (reconnecting) return
  reconnecting = true
  let wait = RETRY_FIRST_MS
  const attempt = async () => {
    try {
      const res = await fetch('/api/status', { credentials: 'same-origin' })
      reconnecting = false
      connection.value = 'online'
      if (res.status === 401) { signedOut(); return }
      onBack()
    } catch {
      wait = Math.min(wait * 2, RETRY_MAX_MS)
      setTimeout(() => { void attempt() }, wait)
    }
  }
  setTimeout(() => { void attempt() }, wait)
}

/** Runs an action whose failure has no form to land in: the error shows as a toast. */
export function attempt (fn) {
  return async (...args) => {
    try {
      return await fn(...args)
    } catch (err) {
      if (!(err instanceof ApiError && err.handled)) toast.value = { text: err instanceof Error ? err.message : String(err) }
      return undefined
    }
  }
}

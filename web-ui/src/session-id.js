// What the Add form can tell about a Session ID while it is typed. Only the shape: whether it
// is a real public key is the node's to say (and errorText puts that in plain words).
import { MAX_NAME } from './limits.js'

/** An invite is `sotto:<Session ID>` with an optional `?name=`; pasting one fills both fields. */
export function parseInvite (text) {
  const m = /^sotto:(05[0-9a-fA-F]{64})(?:\?name=([^&]*))?$/.exec(text.trim())
  if (m === null) return undefined
  let name = ''
  try { name = decodeURIComponent(m[2] ?? '') } catch { name = '' }
  return { sessionId: m[1].toLowerCase(), name: name.slice(0, MAX_NAME) }
}

export function inviteFor (sessionId) { return `sotto:${sessionId}` }

/** A sentence saying what is wrong with the ID as typed so far, or undefined. */
export function sessionIdProblem (id) {
  if (id === '') return undefined
  if (parseInvite(id) !== undefined) return undefined
  if (!id.startsWith('05')) return 'A Session ID starts with 05.'
  if (!/^[0-9a-fA-F]*$/.test(id)) return 'A Session ID has only the digits 0-9 and letters a-f.'
  if (id.length !== 66) return `A Session ID has 66 characters; this has ${id.length}.`
  return undefined
}

export function shortId (sessionId) { return `${sessionId.slice(0, 8)}…${sessionId.slice(-4)}` }

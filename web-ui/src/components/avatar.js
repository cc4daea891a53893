// A generated avatar: two colours and the initials, all derived from the Session ID and the
// name, drawn as SVG by the app (no image is fetched, so nothing leaves the node).
import { html } from '../html.js'
import { initials } from '../format.js'

/** 0-359 from four hex digits of the ID: the same contact always gets the same colour. */
function hue (sessionId, at) {
  return parseInt(sessionId.slice(at, at + 4), 16) % 360
}

export function Avatar ({ sessionId, name, size = 40 }) {
  const id = typeof sessionId === 'string' && sessionId.length >= 12 ? sessionId : '05000000000000'
  const h1 = hue(id, 2)
  const h2 = (h1 + 40 + (hue(id, 6) % 80)) % 360
  // Lightness 30% keeps white initials readable on every hue (contrast above 4.5:1).
  return html`<svg class="avatar" width=${size} height=${size} viewBox="0 0 40 40" aria-hidden="true" focusable="false">
    <circle cx="20" cy="20" r="20" fill=${`hsl(${h1} 55% 30%)`} />
    <path d="M40 20 A20 20 0 0 1 20 40 L40 40 Z" fill=${`hsl(${h2} 55% 30%)`} />
    <text x="20" y="20" dy="0.35em" text-anchor="middle" fill="#ffffff" font-size="15" font-weight="600" font-family="system-ui, sans-serif">${initials(name, id)}</text>
  </svg>`
}

/** A group's avatar: a rounded square (a person's is round), coloured from the group id, with the name's initials. */
export function GroupAvatar ({ id, name, size = 40 }) {
  const gid = typeof id === 'string' && id.length >= 12 ? id : '000000000000'
  const h1 = parseInt(gid.slice(0, 4), 16) % 360
  const h2 = (h1 + 30 + (parseInt(gid.slice(4, 8), 16) % 60)) % 360
  return html`<svg class="avatar group-avatar" width=${size} height=${size} viewBox="0 0 40 40" aria-hidden="true" focusable="false">
    <rect width="40" height="40" rx="11" fill=${`hsl(${h1} 50% 30%)`} />
    <path d="M0 29 L40 17 L40 29 A11 11 0 0 1 29 40 L11 40 A11 11 0 0 1 0 29 Z" fill=${`hsl(${h2} 50% 30%)`} />
    <text x="20" y="20" dy="0.35em" text-anchor="middle" fill="#ffffff" font-size="15" font-weight="600" font-family="system-ui, sans-serif">${initials(name, '05' + gid)}</text>
  </svg>`
}

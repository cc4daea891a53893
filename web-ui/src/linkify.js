// Message text as text nodes, with web addresses made into links. Only http(s) addresses,
// opened in a new tab with no opener and no referrer; nothing is fetched to preview them
// (a preview would tell the linked site that, and when, this message was read).
import { html } from './html.js'

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi
// Punctuation that usually ends the sentence, not the address.
const TRAILING = new Set(['.', ',', ';', ':', '!', '?', "'", '"', '»', ']', '}'])

/** The address without the sentence's punctuation after it; a ")" stays when it closes a "(" inside. */
function trimAddress (url) {
  let end = url.length
  for (;;) {
    const ch = url[end - 1]
    if (TRAILING.has(ch)) { end--; continue }
    if (ch === ')') {
      const head = url.slice(0, end)
      if (head.split('(').length < head.split(')').length) { end--; continue }
    }
    return url.slice(0, end)
  }
}

export function splitLinks (text) {
  const parts = []
  let last = 0
  for (const m of text.matchAll(URL_RE)) {
    const url = trimAddress(m[0])
    if (m.index > last) parts.push({ text: text.slice(last, m.index) })
    parts.push({ text: url, href: url })
    last = m.index + url.length
  }
  if (last < text.length) parts.push({ text: text.slice(last) })
  return parts
}

export function Linkified ({ text }) {
  return splitLinks(text).map((p) => p.href === undefined
    ? p.text
    : html`<a href=${p.href} target="_blank" rel="noopener noreferrer">${p.text}</a>`)
}

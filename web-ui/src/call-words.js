// What the call screen and the conversation's call lines say, from a call's state and how it
// ended (docs/API.md "Calls"). Pure, so the tests read it without a browser.

const kindOf = (video) => video ? 'video call' : 'voice call'
const Cap = (s) => s[0].toUpperCase() + s.slice(1)

/** "3:07", "1:02:09". */
export function duration (ms) {
  const s = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

/** The call screen's status line. */
export function statusText (c, name) {
  switch (c.state) {
    case 'starting': return c.direction === 'in' ? 'Connecting…' : 'Starting the call…'
    case 'calling': return `Calling ${name}…`
    case 'ringing': return c.direction === 'in' ? `${name} is calling you (${kindOf(c.video)})` : `Ringing ${name}…`
    case 'connecting': return 'Connecting…'
    case 'active': return `In a ${kindOf(c.video)} with ${name}`
    case 'ended': return endedText(c, name)
    default: return ''
  }
}

/** Why a call ended, said to the person on this side. */
export function endedText (c, name) {
  switch (c.reason) {
    case 'unavailable': return `${name} is unavailable: their Sotto could not be reached directly. Calls never wait in a mailbox.`
    case 'declined': return c.direction === 'out' ? `${name} declined the call.` : 'You declined the call.'
    case 'busy': return `${name} is in another call.`
    case 'no-answer': return `${name} did not answer.`
    case 'missed': return `Missed call from ${name}.`
    case 'cancelled': return 'Call cancelled.'
    case 'failed': return c.error ? `The call failed: ${c.error}` : 'The call failed: the connection was lost.'
    default: return 'Call ended.'
  }
}

/** A finished call as one line in the conversation. */
export function lineText (l, name) {
  const kind = kindOf(l.video)
  const talked = typeof l.answeredAt === 'number' && (l.reason === 'hangup' || l.reason === 'failed')
  if (talked) return `${l.direction === 'out' ? 'Outgoing' : 'Incoming'} ${kind} · ${duration(l.endedAt - l.answeredAt)}`
  switch (l.reason) {
    case 'missed': return `Missed ${kind}`
    case 'declined': return l.direction === 'in' ? `Declined ${kind}` : `${Cap(kind)} declined by ${name}`
    case 'unavailable': return `${Cap(kind)}: ${name} was unavailable`
    case 'busy': return `${Cap(kind)}: ${name} was in another call`
    case 'no-answer': return `${Cap(kind)}: no answer`
    case 'cancelled': return `Cancelled ${kind}`
    case 'failed': return `${Cap(kind)} failed`
    default: return `${Cap(kind)} ended`
  }
}

/** Connection quality in words, from RTT (seconds) and the share of packets lost. */
export function qualityText (q) {
  if (q === undefined || q === null || q.level === 'unknown') return 'Measuring the connection…'
  const rtt = typeof q.rtt === 'number' ? `${Math.round(q.rtt * 1000)} ms` : '?'
  const loss = `${(q.loss * 100).toFixed(q.loss > 0 && q.loss < 0.01 ? 1 : 0)}% lost`
  return `${Cap(q.level)} connection (${rtt}, ${loss})`
}

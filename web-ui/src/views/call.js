// Calls on screen: the two buttons in a 1:1 conversation's header, the call screen (ringing
// with Accept / Decline; then the videos, duration, quality, the short code and the controls;
// then how it ended), and a finished call's line in the conversation.
import { useEffect, useRef, useState } from 'preact/hooks'
import { IDS } from '../../ids.js'
import { attempt } from '../api.js'
import { acceptCall, call, callLines, closeCallScreen, declineCall, hangUp, loadCallLines, resumeCalls, startCall, streams, toggleCamera, toggleMute } from '../calls.js'
import { duration, lineText, qualityText, statusText } from '../call-words.js'
import { Avatar } from '../components/avatar.js'
import { timeOf } from '../format.js'
import { html } from '../html.js'
import { contacts, has, nameOf } from '../store.js'

/** "Call" and "Video call" in a conversation's header; only for accepted contacts. */
export function CallButtons ({ contact }) {
  if (!has('calls') || contact.state !== 'accepted' || typeof RTCPeerConnection === 'undefined') return null
  const busy = call.value !== null && call.value.state !== 'ended'
  return html`<button class="call-btn" id=${IDS.callVoiceButton} disabled=${busy} onClick=${attempt(() => startCall(contact.sessionId, false))} aria-label=${`Call ${nameOf(contact)}`}>
      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor" d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1z"/></svg>
      <span class="label">Call</span>
    </button>
    <button class="call-btn" id=${IDS.callVideoButton} disabled=${busy} onClick=${attempt(() => startCall(contact.sessionId, true))} aria-label=${`Video call ${nameOf(contact)}`}>
      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="currentColor" d="M4 6h11a2 2 0 0 1 2 2v1.5l4-2.5v10l-4-2.5V16a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z"/></svg>
      <span class="label">Video call</span>
    </button>`
}

/** The finished calls of a conversation, loaded when it opens. */
export function useCallLines (peer) {
  useEffect(() => { void loadCallLines(peer) }, [peer])
  return callLines.value.get(peer)
}

/** One finished call in the conversation. */
export function CallLine ({ line, contact }) {
  const missed = line.direction === 'in' && line.reason === 'missed'
  return html`<div class=${`call-line${missed ? ' missed' : ''}`} data-call=${line.id} data-reason=${line.reason} data-direction=${line.direction} role="note">
    <span>${lineText(line, nameOf(contact))}</span><span class="meta">${timeOf(line.startedAt)}</span>
  </div>`
}

function Video ({ stream, muted, id, label }) {
  const ref = useRef(null)
  useEffect(() => {
    const el = ref.current
    if (el !== null && el.srcObject !== stream) el.srcObject = stream
  }, [stream])
  return html`<video id=${id} ref=${ref} autoplay playsinline muted=${muted} aria-label=${label} />`
}

function Audio ({ stream }) {
  const ref = useRef(null)
  useEffect(() => {
    const el = ref.current
    if (el !== null && el.srcObject !== stream) el.srcObject = stream
  }, [stream])
  return html`<audio ref=${ref} autoplay />`
}

function Duration ({ since }) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [since])
  return html`<span id=${IDS.callDuration}>${duration(now - since)}</span>`
}

/** The call screen, over everything else, while there is a call. */
export function CallScreen () {
  const c = call.value
  const accept = useRef(null)
  useEffect(() => { void resumeCalls() }, [])
  useEffect(() => { if (c?.state === 'ringing' && c.direction === 'in') accept.current?.focus() }, [c?.id, c?.state])
  if (c === null) return null
  const contact = contacts.value.get(c.peer)
  const name = nameOf(contact) || `${c.peer.slice(0, 10)}…`
  const s = streams.value
  const ringingHere = c.direction === 'in' && c.state === 'ringing'
  const live = c.state === 'connecting' || c.state === 'active'
  const showVideo = c.video && (live || (c.direction === 'out' && c.state !== 'ended'))
  const remoteShown = showVideo && s.remote !== null
  // Until their video comes, your own camera fills the screen (as a mirror).
  const selfMain = showVideo && s.remote === null && s.local !== null
  return html`<div class=${`call-screen ${c.state}${c.video ? ' video' : ' voice'}`} id=${IDS.callScreen} data-state=${c.state} data-reason=${c.reason ?? ''}
      role="dialog" aria-modal="true" aria-labelledby=${IDS.callTitle}>
    <div class="call-stage">
      ${remoteShown && html`<${Video} id=${IDS.remoteVideo} stream=${s.remote} muted=${false} label=${`${name}'s video`} />`}
      ${!c.video && s.remote !== null && html`<${Audio} stream=${s.remote} />`}
      ${!remoteShown && !selfMain && html`<div class="call-avatar"><${Avatar} sessionId=${c.peer} name=${nameOf(contact)} size=${96} /></div>`}
      ${showVideo && s.local !== null && html`<div class=${selfMain ? 'call-self main' : 'call-self'}><${Video} id=${IDS.localVideo} stream=${s.local} muted=${true} label="Your camera" /></div>`}
    </div>
    <div class="call-info">
      <h2 id=${IDS.callTitle}>${name}</h2>
      <p id=${IDS.callStatus} role="status">${statusText(c, name)}</p>
      ${c.state === 'active' && html`<p class="call-meta">${c.connectedAt && html`<${Duration} since=${c.connectedAt} />`} · <span id=${IDS.callQuality}>${qualityText(c.quality)}</span></p>`}
      ${live && c.code && html`<p class="call-code">Call code <strong id=${IDS.callCode}>${c.code}</strong><br/><span class="muted">${name}'s screen shows the same digits if no one is in between.</span></p>`}
      ${contact !== undefined && !contact.verified && c.state !== 'ended' && html`<p class="call-warning" id=${IDS.callUnverified}>${live && c.code
        ? `You have not verified ${name}'s safety number: read the call code to each other to be sure no one is in between.`
        : `You have not verified ${name}'s safety number, so Sotto cannot be sure who is on the other end.`}</p>`}
    </div>
    <div class="call-controls">
      ${ringingHere && html`
        <button class="primary" id=${IDS.callAccept} ref=${accept} onClick=${attempt(acceptCall)}>Accept</button>
        <button class="danger" id=${IDS.callDecline} onClick=${attempt(declineCall)}>Decline</button>`}
      ${live && html`
        <button id=${IDS.callMute} aria-pressed=${c.muted ? 'true' : 'false'} onClick=${attempt(toggleMute)}>${c.muted ? 'Unmute' : 'Mute'}</button>
        ${c.video && html`<button id=${IDS.callCamera} aria-pressed=${c.cameraOff ? 'true' : 'false'} onClick=${attempt(toggleCamera)}>${c.cameraOff ? 'Camera on' : 'Camera off'}</button>`}`}
      ${!ringingHere && c.state !== 'ended' && html`<button class="danger" id=${IDS.callHangup} onClick=${attempt(() => hangUp())}>${live ? 'Hang up' : 'Cancel'}</button>`}
      ${c.state === 'ended' && html`<button id=${IDS.callClose} onClick=${closeCallScreen}>Close</button>`}
    </div>
  </div>`
}

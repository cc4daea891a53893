// Voice and video calls in the page: WebRTC between the two browsers (DTLS-SRTP), with the
// signalling relayed by the node inside the encrypted session (docs/API.md "Calls"). The
// camera and microphone are asked for only when a call starts or is accepted. One call at a
// time; its state is one signal, `call`, which the call screen draws.
//
// For the browser tests the current RTCPeerConnection is on `window.__sottoCall` (the page's
// own scripts could reach it anyway; it carries no secret the page does not have).
import { signal } from '@preact/signals'
import { api, ApiError } from './api.js'
import { callCode } from './call-code.js'
import { contacts, nameOf, readLocal, settings, toast, visible } from './store.js'

/**
 * The call on screen, or null: { id?, peer, direction, video, state, reason?, muted, cameraOff,
 * code?, quality?, connectedAt?, error? }. States: starting (getting the camera, making the
 * offer), calling (the offer is on its way), ringing, connecting (answered, media not yet
 * flowing), active, ended.
 */
export const call = signal(null)
/** Finished calls per peer, for the lines in the conversation: Map(peer -> CallRecord[]). */
export const callLines = signal(new Map())
/** The local and remote media streams, for the call screen's video elements. */
export const streams = signal({ local: null, remote: null })

/** How long gathering may take before the SDP goes anyway (later candidates trickle). */
const GATHER_WAIT_MS = 1000
/** How often the connection quality is read during a call. */
const STATS_EVERY_MS = 2000
/** How long the ended state stays on screen before the call screen closes. */
const ENDED_SHOWN_MS = 4000

let pc = null
let local = null
/** The RTP senders by kind, kept so a muted (trackless) sender is still found. */
let senders = {}
/** Remote candidates that came before the remote description was set. */
let pendingRemote = []
/** Local candidates found before the call had an id, or while the answer is on its way. */
let pendingLocal = []
let canTrickle = false
let statsTimer = null
let endedTimer = null
let ringer = null
let notice = null
let lastStats = null

function update (change) {
  if (call.value === null) return
  call.value = { ...call.value, ...change }
}

function contactName (peer) {
  return nameOf(contacts.value.get(peer)) || `${peer.slice(0, 10)}…`
}

// ------------------------------------------------------------------ lines in the conversation

/** Reads a conversation's finished calls (the conversation view calls it when it opens). */
export async function loadCallLines (peer) {
  try {
    const { calls } = await api('GET', `/api/calls?peer=${peer}`, undefined, { feature: 'calls' })
    const next = new Map(callLines.value)
    next.set(peer, calls)
    callLines.value = next
  } catch { /* hidden when the node has no calls; other failures are api()'s */ }
}

function addLine (c) {
  const list = callLines.value.get(c.peer)
  if (list === undefined || list.some((l) => l.id === c.id)) return
  const next = new Map(callLines.value)
  next.set(c.peer, [...list, { id: c.id, peer: c.peer, direction: c.direction, video: c.video, reason: c.reason, startedAt: c.startedAt, answeredAt: c.answeredAt, endedAt: c.endedAt }])
  callLines.value = next
}

/**
 * Messages and call lines in one list, by time: a call line is { id: 'call-…', callLine, sentAt }.
 * Messages keep their own order.
 */
export function withCallLines (messages, lines) {
  if (lines === undefined || lines.length === 0) return messages
  const out = []
  let j = 0
  const sorted = [...lines].sort((a, b) => a.startedAt - b.startedAt)
  for (const m of messages) {
    while (j < sorted.length && sorted[j].startedAt < m.sentAt) { out.push(lineItem(sorted[j])); j++ }
    out.push(m)
  }
  while (j < sorted.length) { out.push(lineItem(sorted[j])); j++ }
  return out
}

function lineItem (l) {
  return { id: `call-${l.id}`, callLine: l, sentAt: l.startedAt }
}

// ------------------------------------------------------------------ media and connection

async function iceServers () {
  const { iceServers } = await api('GET', '/api/calls/config', undefined, { feature: 'calls' })
  return Array.isArray(iceServers) ? iceServers : []
}

/** The microphone, and the camera for a video call: asked for now, not before. */
async function media (video) {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video })
  } catch (err) {
    const what = video ? 'camera and microphone' : 'microphone'
    throw new ApiError(0, 'ERR_MEDIA', err?.name === 'NotAllowedError' ? `Sotto was not allowed to use the ${what}.` : `Sotto could not use the ${what}.`)
  }
}

function connect (servers, peer) {
  const conn = new RTCPeerConnection({ iceServers: servers })
  pc = conn
  window.__sottoCall = { pc: conn, get id () { return call.value?.id }, get state () { return call.value?.state } }
  senders = {}
  for (const track of local.getTracks()) senders[track.kind] = conn.addTrack(track, local)
  conn.onicecandidate = (e) => {
    if (pc !== conn || e.candidate === null || e.candidate.candidate === '') return
    pendingLocal.push({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid ?? undefined, sdpMLineIndex: e.candidate.sdpMLineIndex ?? undefined })
    void flushLocal()
  }
  conn.ontrack = (e) => {
    if (pc !== conn) return
    const remote = e.streams[0] ?? new MediaStream([e.track])
    streams.value = { ...streams.value, remote }
  }
  conn.onconnectionstatechange = () => {
    if (pc !== conn) return
    if (conn.connectionState === 'connected' && call.value?.state === 'connecting') {
      update({ state: 'active', connectedAt: Date.now() })
      startStats()
    }
    if (conn.connectionState === 'failed' && call.value !== null && call.value.state !== 'ended') {
      void hangUp('failed')
    }
  }
  return conn
}

/** Waits until ICE gathering completes, or GATHER_WAIT_MS: the SDP then carries what was found. */
async function gathered (conn) {
  if (conn.iceGatheringState === 'complete') return
  await new Promise((resolve) => {
    const timer = setTimeout(done, GATHER_WAIT_MS)
    function done () {
      clearTimeout(timer)
      conn.removeEventListener('icegatheringstatechange', check)
      resolve()
    }
    function check () { if (conn.iceGatheringState === 'complete') done() }
    conn.addEventListener('icegatheringstatechange', check)
  })
}

/** Sends the local candidates found since the SDP went (the SDP carried the earlier ones). */
async function flushLocal () {
  const id = call.value?.id
  if (!canTrickle || id === undefined || pendingLocal.length === 0) return
  const batch = pendingLocal.splice(0, 32)
  try {
    await api('POST', `/api/calls/${id}/candidates`, { candidates: batch })
  } catch { /* the SDP's candidates may be enough; a lost call ends by its own events */ }
  if (pendingLocal.length > 0) void flushLocal()
}

async function addRemote (candidates) {
  if (pc === null || pc.remoteDescription === null) { pendingRemote.push(...candidates); return }
  for (const c of candidates) await pc.addIceCandidate(c).catch(() => {})
}

async function remoteSet (sdp, type) {
  await pc.setRemoteDescription({ type, sdp })
  const waiting = pendingRemote
  pendingRemote = []
  await addRemote(waiting)
  const code = await callCode(pc.localDescription?.sdp, sdp).catch(() => null)
  update({ code })
}

// ------------------------------------------------------------------ what the user does

/** Calls a contact: camera/microphone, the offer, then the node delivers it directly. */
export async function startCall (peer, video) {
  if (call.value !== null && call.value.state !== 'ended') { toast.value = { text: 'You are already in a call.' }; return }
  reset()
  const clickedAt = performance.now()
  call.value = { peer, direction: 'out', video, state: 'starting', muted: false, cameraOff: false, clickedAt }
  try {
    const servers = await iceServers()
    local = await media(video)
    streams.value = { local, remote: null }
    if (call.value?.state !== 'starting') { release(); return }
    const conn = connect(servers, peer)
    await conn.setLocalDescription(await conn.createOffer())
    await gathered(conn)
    update({ state: 'calling' })
    const { call: c } = await api('POST', '/api/calls', { to: peer, video, sdp: conn.localDescription.sdp })
    if (pc !== conn) {
      // Cancelled here while the offer was on its way: the callee must stop ringing.
      if (c.state !== 'ended') void api('POST', `/api/calls/${c.id}/hangup`, {}).catch(() => {})
      return
    }
    if (c.state === 'ended') { ended(c); return }
    // Events may have moved the call on meanwhile (its id, ringing, even answered).
    update({ id: c.id, startedAt: c.startedAt, ...(call.value?.state === 'calling' ? { state: c.state } : {}) })
    canTrickle = true
    void flushLocal()
  } catch (err) {
    failLocally(err)
  }
}

/** Accepts the ringing call: camera/microphone now, then the answer. */
export async function acceptCall () {
  const c = call.value
  if (c === null || c.direction !== 'in' || c.state !== 'ringing') return
  stopRinging()
  update({ state: 'connecting' })
  try {
    const servers = await iceServers()
    local = await media(c.video)
    streams.value = { local, remote: null }
    if (call.value?.id !== c.id || call.value.state === 'ended') { release(); return }
    const conn = connect(servers, c.peer)
    await conn.setRemoteDescription({ type: 'offer', sdp: c.remoteSdp })
    const waiting = pendingRemote
    pendingRemote = []
    await addRemote(waiting)
    await conn.setLocalDescription(await conn.createAnswer())
    await gathered(conn)
    const code = await callCode(conn.localDescription.sdp, c.remoteSdp).catch(() => null)
    update({ code })
    const { call: done } = await api('POST', `/api/calls/${c.id}/answer`, { sdp: conn.localDescription.sdp })
    if (done.state === 'ended') { ended(done); return }
    canTrickle = true
    void flushLocal()
  } catch (err) {
    if (call.value?.id === c.id) await api('POST', `/api/calls/${c.id}/hangup`, {}).catch(() => {})
    failLocally(err)
  }
}

export async function declineCall () {
  const c = call.value
  if (c === null || c.id === undefined) return
  stopRinging()
  try {
    const { call: done } = await api('POST', `/api/calls/${c.id}/decline`, {})
    ended(done)
  } catch {
    ended({ ...c, state: 'ended', reason: 'declined' })
  }
}

/** Ends the call from this side, in whatever state it is. */
export async function hangUp (reason = 'hangup') {
  const c = call.value
  if (c === null || c.state === 'ended') return
  if (c.id === undefined) { ended({ ...c, state: 'ended', reason: 'cancelled' }); return }
  try {
    const { call: done } = await api('POST', `/api/calls/${c.id}/hangup`, {})
    ended(reason === 'failed' ? { ...done, reason: 'failed' } : done)
  } catch {
    ended({ ...c, state: 'ended', reason })
  }
}

/**
 * Mute: the microphone's track leaves its sender, so no audio packet is sent at all (a
 * disabled track would still send silence).
 */
export async function toggleMute () {
  const c = call.value
  if (c === null || pc === null || local === null) return
  const muted = !c.muted
  await swapTrack('audio', muted)
  update({ muted })
}

export async function toggleCamera () {
  const c = call.value
  if (c === null || pc === null || local === null || !c.video) return
  const cameraOff = !c.cameraOff
  await swapTrack('video', cameraOff)
  update({ cameraOff })
}

async function swapTrack (kind, off) {
  const track = local.getTracks().find((t) => t.kind === kind)
  const sender = senders[kind]
  if (track === undefined || sender === undefined) return
  track.enabled = !off
  await sender.replaceTrack(off ? null : track)
}

export function closeCallScreen () {
  if (call.value?.state === 'ended') reset()
}

// ------------------------------------------------------------------ from the node

/** A `call` event: a call rings here, was answered, or ended. */
export function onCallEvent (c) {
  const mine = call.value
  if (c.direction === 'in' && c.state === 'ringing') {
    if (mine !== null && mine.state !== 'ended' && mine.id !== c.id) {
      // The node rang while this page was still starting a call of its own: one call at a time.
      void api('POST', `/api/calls/${c.id}/decline`, {}).catch(() => {})
      return
    }
    if (mine?.id === c.id) return
    reset()
    call.value = { id: c.id, peer: c.peer, direction: 'in', video: c.video, state: 'ringing', startedAt: c.startedAt, remoteSdp: c.sdp, muted: false, cameraOff: false }
    ring(c)
    return
  }
  if (c.state === 'ended') addLine(c)
  if (mine === null || mine.state === 'ended') return
  // Our own outgoing call before the node answered the POST with its id.
  const ours = mine.id === c.id || (mine.id === undefined && c.direction === 'out' && c.peer === mine.peer && mine.direction === 'out')
  if (!ours) return
  if (mine.id === undefined) update({ id: c.id })
  if (c.state === 'ended') { ended(c); return }
  // Answered in another tab of this browser (or another browser on this node): stop ringing here.
  if (c.direction === 'in' && c.state === 'active' && mine.state === 'ringing') { reset(); return }
  if (c.state === 'active' && c.direction === 'out' && typeof c.sdp === 'string' && pc !== null && pc.remoteDescription === null) {
    update({ state: 'connecting', answeredAt: c.answeredAt })
    void remoteSet(c.sdp, 'answer').then(() => { if (pc?.connectionState === 'connected' && call.value?.state === 'connecting') { update({ state: 'active', connectedAt: Date.now() }); startStats() } }).catch((err) => failLocally(err))
    return
  }
  if (c.state === 'ringing' && mine.state === 'calling') update({ state: 'ringing' })
}

/**
 * A call that rang before this page was open (or while it reconnected): read from the node,
 * with the caller's offer and candidates, so it can still be answered here.
 */
export async function resumeCalls () {
  if (call.value !== null) return
  try {
    const { calls } = await api('GET', '/api/calls', undefined, { feature: 'calls' })
    const ringing = calls.find((c) => c.direction === 'in' && c.state === 'ringing')
    if (ringing === undefined || call.value !== null) return
    const { call: detail } = await api('GET', `/api/calls/${ringing.id}`)
    if (call.value !== null || detail.state !== 'ringing') return
    onCallEvent({ ...detail, sdp: detail.remoteSdp })
    if (call.value?.id === detail.id) pendingRemote.push(...detail.candidates)
  } catch { /* nothing to resume */ }
}

/** A `call-candidates` event: the peer's late ICE candidates. */
export function onCallCandidates ({ id, candidates }) {
  if (call.value?.id !== id || !Array.isArray(candidates)) return
  void addRemote(candidates)
}

// ------------------------------------------------------------------ endings

// A page that goes away (closed, reloaded) takes its media with it: the call ends, so the
// node and the contact are not left with a call nobody is in. keepalive lets the request
// outlive the page.
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => {
    const c = call.value
    if (c === null || c.id === undefined || c.state === 'ended' || c.state === 'ringing') return
    void api('POST', `/api/calls/${c.id}/hangup`, {}, { keepalive: true }).catch(() => {})
  })
}

function ended (c) {
  stopRinging()
  release()
  if (call.value === null) return
  update({ ...c, state: 'ended', reason: c.reason ?? 'hangup' })
  if (c.id !== undefined && c.peer !== undefined && c.endedAt !== undefined) addLine(c)
  clearTimeout(endedTimer)
  endedTimer = setTimeout(() => { if (call.value?.state === 'ended') reset() }, ENDED_SHOWN_MS)
}

function failLocally (err) {
  const c = call.value
  if (c === null) return
  if (!(err instanceof ApiError && err.handled)) update({ error: err instanceof Error ? err.message : String(err) })
  if (c.id !== undefined && c.state !== 'ended') void api('POST', `/api/calls/${c.id}/hangup`, {}).catch(() => {})
  ended({ ...call.value, state: 'ended', reason: 'failed' })
}

/** Stops the media and the connection; the call's state stays for the screen. */
function release () {
  clearInterval(statsTimer)
  statsTimer = null
  lastStats = null
  if (pc !== null) { pc.onicecandidate = null; pc.ontrack = null; pc.close() }
  pc = null
  senders = {}
  for (const t of local?.getTracks() ?? []) t.stop()
  local = null
  pendingLocal = []
  pendingRemote = []
  canTrickle = false
  streams.value = { local: null, remote: null }
}

function reset () {
  clearTimeout(endedTimer)
  stopRinging()
  release()
  call.value = null
}

// ------------------------------------------------------------------ quality

function startStats () {
  if (statsTimer !== null) return
  statsTimer = setInterval(() => { void readStats() }, STATS_EVERY_MS)
  void readStats()
}

/** Round-trip time (the selected candidate pair) and packet loss since the last reading. */
async function readStats () {
  if (pc === null) return
  const report = await pc.getStats()
  let rtt = null
  let received = 0
  let lost = 0
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && typeof s.currentRoundTripTime === 'number') rtt = s.currentRoundTripTime
    if (s.type === 'inbound-rtp') { received += s.packetsReceived ?? 0; lost += s.packetsLost ?? 0 }
  })
  const before = lastStats ?? { received: 0, lost: 0 }
  lastStats = { received, lost }
  const dReceived = received - before.received
  const dLost = Math.max(0, lost - before.lost)
  const loss = dReceived + dLost > 0 ? dLost / (dReceived + dLost) : 0
  const level = rtt === null ? 'unknown' : rtt < 0.3 && loss < 0.02 ? 'good' : rtt < 0.6 && loss < 0.08 ? 'fair' : 'poor'
  update({ quality: { rtt, loss, level } })
}

// ------------------------------------------------------------------ ringing

function ring (c) {
  stopRinging()
  ringer = startTone()
  const enabled = settings.value?.notifications ?? readLocal('sotto.notifications', 'off') === 'on'
  if (!visible.value && enabled && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
    notice = new Notification('Sotto', { body: `Incoming ${c.video ? 'video' : 'voice'} call from ${contactName(c.peer)}`, tag: `sotto-call-${c.id}`, requireInteraction: true })
    notice.onclick = () => { window.focus(); notice?.close() }
  }
}

function stopRinging () {
  ringer?.()
  ringer = null
  notice?.close()
  notice = null
}

/** A ring made with WebAudio (no sound file to load): two short tones every 3 s. Returns stop(). */
function startTone () {
  let ctx
  try { ctx = new AudioContext() } catch { return () => {} }
  const beep = (at) => {
    const osc = ctx.createOscillator()
    const gain = ctx.createGain()
    osc.frequency.value = 480
    gain.gain.setValueAtTime(0, at)
    gain.gain.linearRampToValueAtTime(0.15, at + 0.02)
    gain.gain.setValueAtTime(0.15, at + 0.35)
    gain.gain.linearRampToValueAtTime(0, at + 0.4)
    osc.connect(gain).connect(ctx.destination)
    osc.start(at)
    osc.stop(at + 0.45)
  }
  const pattern = () => { const t = ctx.currentTime; beep(t); beep(t + 0.6) }
  void ctx.resume().catch(() => {})
  pattern()
  const timer = setInterval(pattern, 3000)
  return () => { clearInterval(timer); void ctx.close().catch(() => {}) }
}

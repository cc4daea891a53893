/**
 * What a payload from a peer does to the store, decided inside the session commit: the
 * writes returned here land in the same batch as the ratchet state that opened it. Whatever
 * a peer claims, it only ever changes its own conversation and its own contact record.
 */
import { createHash } from 'node:crypto'
import type { SessionId } from '../identity/session-id.js'
import type { StoreOp } from '../store/types.js'
import { currentContact, newContact, previewOf, type Contact, type ContactBook } from './contacts.js'
import type { ExpiryIndex } from './expiry-index.js'
import type { Message, MessageLog, Quote } from './message-log.js'
import { MAX_QUOTE_LENGTH, type Payload, type ProfilePayload, type ReplyTo, type TextPayload, type TimerPayload } from './payload.js'
import type { ProfileStore } from './profile.js'
import { messageTimerOf, TIMER_OFF, timerWins, type TimerSetting } from './timer.js'
import type { CallSignal } from '../calls/signal.js'

/** How long the guard of an expired message is kept: a mailbox copy cannot come later (its TTL). */
export const GUARD_KEEP_MS = 14 * 24 * 60 * 60 * 1000

export type Incoming =
  | { kind: 'text', message: Message, contact: Contact, timerRow?: Message }
  /** A timer change from the peer: the contact with the new setting and the row that shows it. */
  | { kind: 'timer', contact: Contact, row?: Message }
  | { kind: 'receipt', from: SessionId, payload: Extract<Payload, { t: 'receipt' }> }
  | { kind: 'contact', contact: Contact }
  | { kind: 'deleted', peer: SessionId, ids: string[], contact?: Contact }
  | { kind: 'duplicate' }
  | { kind: 'ignored' }
  | { kind: 'group', after?: () => void }
  /** Call signalling (node/calls): nothing is written with the session step; the call layer decides after the commit. */
  | { kind: 'call', from: SessionId, call: CallSignal }

/**
 * What a group control payload does (node/groups): the writes to commit with the session
 * step, and what to do once they landed. Throwing refuses the envelope, nothing committed.
 */
export type GroupControlHandler = (from: SessionId, body: Record<string, unknown>) => Promise<{ ops: StoreOp[], after?: () => void }>

export interface IncomingDeps {
  groups?: GroupControlHandler
  contacts: ContactBook
  log: MessageLog
  profiles: ProfileStore
  expiry: ExpiryIndex
  now: number
}

/** The outcome of one decoded payload from `from`, and the writes that record it. */
export async function applyIncoming (deps: IncomingDeps, from: SessionId, payload: Payload): Promise<{ outcome: Incoming, ops: StoreOp[] }> {
  const existing = await deps.contacts.get(from)
  if (existing?.state === 'blocked') return { outcome: { kind: 'ignored' }, ops: [] }
  switch (payload.t) {
    case 'receipt': return { outcome: { kind: 'receipt', from, payload }, ops: [] }
    case 'text': return await text(deps, from, existing, payload)
    case 'profile': return await profile(deps, from, existing, payload)
    case 'delete': return await deletion(deps, from, existing, payload.ids)
    case 'timer': return await timerChange(deps, from, existing, payload)
    case 'call': return { outcome: { kind: 'call', from, call: payload.call }, ops: [] }
    case 'group': {
      if (deps.groups === undefined) return { outcome: { kind: 'ignored' }, ops: [] }
      const done = await deps.groups(from, payload.group)
      return { outcome: { kind: 'group', after: done.after }, ops: done.ops }
    }
  }
}

async function text (deps: IncomingDeps, from: SessionId, existing: Contact | undefined, payload: TextPayload): Promise<{ outcome: Incoming, ops: StoreOp[] }> {
  const { contacts, log, profiles, expiry, now } = deps
  if (await log.known(from, payload.id)) return { outcome: { kind: 'duplicate' }, ops: [] }
  // A text sent under a newer setting than ours brings that setting (its own change may come later, by mailbox).
  const setting = payload.timer === undefined || existing === undefined
    ? undefined
    : await peerTimer(deps, from, existing, { ...payload.timer, changedAt: payload.sentAt }, true)
  const timer = payload.timer === undefined ? undefined : messageTimerOf({ ...TIMER_OFF, ...payload.timer })
  // The sender's clock may run ahead: the clock never starts later than the arrival.
  const expiresAt = timer?.mode === 'after-send' ? Math.min(payload.sentAt, now) + timer.seconds * 1000 : undefined
  if (expiresAt !== undefined && expiresAt <= now) {
    // Its time was over before it came (the recipient was offline): acknowledged, never shown.
    const ops = [log.goneOp(from, payload.id, now + GUARD_KEEP_MS), ...(setting?.ops ?? [])]
    return { outcome: setting === undefined ? { kind: 'ignored' } : { kind: 'timer', contact: setting.contact, row: setting.row }, ops }
  }
  const quote = payload.replyTo === undefined ? undefined : await quoteOf(log, from, payload.replyTo)
  const { message, ops } = await log.prepareAppend({
    id: payload.id, peer: from, direction: 'in', text: payload.text, sentAt: payload.sentAt, receivedAt: now, state: 'received', ...(quote === undefined ? {} : { quote }),
    ...(payload.attachments === undefined ? {} : { attachments: payload.attachments }),
    ...(timer === undefined ? {} : { timer, timerVersion: payload.timer?.version }),
    ...(expiresAt === undefined ? {} : { expiresAt })
  }, { after: setting?.row })
  if (expiresAt !== undefined) ops.push(expiry.expireOp(from, message.id, expiresAt))
  else if (timer !== undefined) ops.push(expiry.waitOp(from, message.id))
  let contact: Contact
  if (setting !== undefined) {
    ops.unshift(...setting.ops.filter((op) => op.key[0] !== 'contact'))
    contact = setting.contact
  } else if (existing === undefined) {
    // A stranger's first message is a message request (R16), kept apart until accepted; a
    // profile it sent before the text is applied now.
    contact = newContact(from, '', 'request', now)
    const pending = await profiles.peer(from)
    if (pending !== undefined) {
      contact = withProfile(contact, pending.name, pending.version)
      ops.push(profiles.peerDelOp(from))
    }
  } else {
    contact = existing
  }
  if (existing === undefined && payload.timer !== undefined && payload.timer.version > 0) {
    // A request's first text sets the setting it was sent under (nothing of ours to weigh it against).
    contact = { ...contact, timer: { mode: payload.timer.mode, seconds: payload.timer.seconds, version: payload.timer.version, changedAt: payload.sentAt, changedBy: from } }
  }
  contact = currentContact({ ...contact, unread: contact.unread + 1, lastMessageAt: now, lastMessage: previewOf(message) })
  ops.push(contacts.putOp(contact))
  return { outcome: { kind: 'text', message, contact, ...(setting?.row === undefined ? {} : { timerRow: setting.row }) }, ops }
}

/**
 * A timer change the peer made (its own payload, or the setting a text of theirs carried):
 * applied when it wins over ours (timer.ts), with a row in the conversation. The same change
 * seen twice (first from a text, then its own payload) only takes the author's changedAt.
 * From a text (`fromText`) only a higher version applies: its sentAt stands in for changedAt.
 */
async function peerTimer (deps: IncomingDeps, from: SessionId, existing: Contact, change: Pick<TimerSetting, 'mode' | 'seconds' | 'version' | 'changedAt'>, fromText = false): Promise<{ contact: Contact, row?: Message, ops: StoreOp[] } | undefined> {
  const current = existing.timer ?? TIMER_OFF
  const candidate: TimerSetting = { mode: change.mode, seconds: change.seconds, version: change.version, changedAt: change.changedAt, changedBy: from }
  // A text knows the version, not when the change was made: only a newer version is news.
  if (fromText && candidate.version <= current.version) return undefined
  if (candidate.version === current.version && current.changedBy === from && candidate.mode === current.mode && candidate.seconds === current.seconds) {
    if (candidate.changedAt === current.changedAt) return undefined
    const contact = currentContact({ ...existing, timer: candidate })
    return { contact, ops: [deps.contacts.putOp(contact)] }
  }
  if (!timerWins(candidate, current)) return undefined
  const contact = currentContact({ ...existing, timer: candidate })
  const { message: row, ops } = await deps.log.prepareAppend({
    id: timerRowId(from, candidate), peer: from, direction: 'in', text: '', sentAt: candidate.changedAt, receivedAt: deps.now, state: 'read',
    event: { type: 'timer', mode: candidate.mode, seconds: candidate.seconds }
  })
  return { contact, row, ops: [...ops, deps.contacts.putOp(contact)] }
}

/** A timer row's id: fixed by the change, so seeing the same change again cannot add a second row. */
export function timerRowId (author: SessionId, setting: Pick<TimerSetting, 'version' | 'changedAt'>): string {
  return createHash('sha256').update(`sotto/timer-row\0${author}\0${setting.version}\0${setting.changedAt}`).digest('hex').slice(0, 32)
}

async function timerChange (deps: IncomingDeps, from: SessionId, existing: Contact | undefined, payload: TimerPayload): Promise<{ outcome: Incoming, ops: StoreOp[] }> {
  // From a stranger, nothing to set: its first text carries the setting it was sent under.
  if (existing === undefined) return { outcome: { kind: 'ignored' }, ops: [] }
  const applied = await peerTimer(deps, from, existing, payload)
  if (applied === undefined) return { outcome: { kind: 'ignored' }, ops: [] }
  return { outcome: { kind: 'timer', contact: applied.contact, row: applied.row }, ops: applied.ops }
}

/**
 * What a reply quotes. A message we have decides the text and who wrote it (a peer cannot
 * put words in our mouth by quoting our message id with other text); one we do not have
 * (never came, or its row is gone) shows the peer's text, as the peer's own.
 */
async function quoteOf (log: MessageLog, peer: SessionId, replyTo: ReplyTo): Promise<Quote> {
  const local = await log.find(peer, replyTo.id)
  if (local === undefined) return { id: replyTo.id, text: replyTo.text, fromMe: false }
  return { id: local.id, text: local.deleted === true ? '' : local.text.slice(0, MAX_QUOTE_LENGTH), fromMe: local.direction === 'out' }
}

function withProfile (contact: Contact, name: string | null, version: number): Contact {
  const next: Contact = { ...contact, profileVersion: version }
  if (name === null) delete next.profileName
  else next.profileName = name
  return currentContact(next)
}

async function profile (deps: IncomingDeps, from: SessionId, existing: Contact | undefined, payload: ProfilePayload): Promise<{ outcome: Incoming, ops: StoreOp[] }> {
  const { contacts, profiles } = deps
  if (existing === undefined) {
    // Not a request by itself: kept aside, and applied if a message from them follows.
    const pending = await profiles.peer(from)
    if (pending !== undefined && pending.version >= payload.version) return { outcome: { kind: 'ignored' }, ops: [] }
    return { outcome: { kind: 'ignored' }, ops: [profiles.peerOp(from, { name: payload.name, version: payload.version })] }
  }
  if (payload.version <= (existing.profileVersion ?? 0)) return { outcome: { kind: 'ignored' }, ops: [] }
  const contact = withProfile(existing, payload.name, payload.version)
  return { outcome: { kind: 'contact', contact }, ops: [contacts.putOp(contact)] }
}

/**
 * The peer deletes messages for everyone: only messages this same peer sent (the ratchet
 * authenticated it) become tombstones. Ids not seen yet are remembered, so a copy that
 * arrives later (from a mailbox, out of order) is dropped.
 */
async function deletion (deps: IncomingDeps, from: SessionId, existing: Contact | undefined, ids: string[]): Promise<{ outcome: Incoming, ops: StoreOp[] }> {
  const { contacts, log } = deps
  const ops: StoreOp[] = []
  const theirs: Message[] = []
  for (const id of new Set(ids)) {
    const m = await log.find(from, id)
    if (m === undefined) {
      if (!await log.known(from, id)) ops.push(log.goneOp(from, id))
    } else if (m.direction === 'in' && m.deleted !== true) {
      theirs.push(m)
    }
  }
  if (theirs.length === 0) return { outcome: { kind: 'ignored' }, ops }
  ops.push(...await log.prepareDelete(from, theirs))
  // Tombstones carry no text: an unread after-read one no longer holds the unread key.
  for (const m of theirs) if (m.timer !== undefined && m.expiresAt === undefined) ops.push(deps.expiry.unwaitOp(from, m.id))
  let contact: Contact | undefined
  if (existing !== undefined) {
    const gone = new Set(theirs.map((m) => m.id))
    const unreadGone = theirs.filter((m) => m.state === 'received').length
    const latest = await log.latest(from, gone)
    contact = currentContact({ ...existing, unread: Math.max(0, existing.unread - unreadGone), lastMessage: latest === undefined ? undefined : previewOf(latest) })
    if (contact.lastMessage === undefined) delete contact.lastMessage
    ops.push(contacts.putOp(contact))
  }
  return { outcome: { kind: 'deleted', peer: from, ids: theirs.map((m) => m.id), contact }, ops }
}

/**
 * What a payload from a peer does to the store, decided inside the session commit: the
 * writes returned here land in the same batch as the ratchet state that opened it. Whatever
 * a peer claims, it only ever changes its own conversation and its own contact record.
 */
import type { SessionId } from '../identity/session-id.js'
import type { StoreOp } from '../store/types.js'
import { currentContact, newContact, previewOf, type Contact, type ContactBook } from './contacts.js'
import type { Message, MessageLog, Quote } from './message-log.js'
import { MAX_QUOTE_LENGTH, type Payload, type ProfilePayload, type ReplyTo, type TextPayload } from './payload.js'
import type { ProfileStore } from './profile.js'

export type Incoming =
  | { kind: 'text', message: Message, contact: Contact }
  | { kind: 'receipt', from: SessionId, payload: Extract<Payload, { t: 'receipt' }> }
  | { kind: 'contact', contact: Contact }
  | { kind: 'deleted', peer: SessionId, ids: string[], contact?: Contact }
  | { kind: 'duplicate' }
  | { kind: 'ignored' }
  | { kind: 'group', after?: () => void }

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
    case 'group': {
      if (deps.groups === undefined) return { outcome: { kind: 'ignored' }, ops: [] }
      const done = await deps.groups(from, payload.group)
      return { outcome: { kind: 'group', after: done.after }, ops: done.ops }
    }
  }
}

async function text (deps: IncomingDeps, from: SessionId, existing: Contact | undefined, payload: TextPayload): Promise<{ outcome: Incoming, ops: StoreOp[] }> {
  const { contacts, log, profiles, now } = deps
  if (await log.known(from, payload.id)) return { outcome: { kind: 'duplicate' }, ops: [] }
  const quote = payload.replyTo === undefined ? undefined : await quoteOf(log, from, payload.replyTo)
  const { message, ops } = await log.prepareAppend({
    id: payload.id, peer: from, direction: 'in', text: payload.text, sentAt: payload.sentAt, receivedAt: now, state: 'received', ...(quote === undefined ? {} : { quote }),
    ...(payload.attachments === undefined ? {} : { attachments: payload.attachments })
  })
  let contact: Contact
  if (existing === undefined) {
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
  contact = currentContact({ ...contact, unread: contact.unread + 1, lastMessageAt: now, lastMessage: previewOf(message) })
  ops.push(contacts.putOp(contact))
  return { outcome: { kind: 'text', message, contact }, ops }
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

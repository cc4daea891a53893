/**
 * The API's endpoints (docs/API.md), as a table over the node's controller. Input from the
 * request body is parsed here, into typed values or a 400 with a code.
 */
import { ApiError } from './errors.js'
import { uiSettingsChange, type UiSettings } from './account-routes.js'
import type { Route } from './server.js'
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import { formatSafetyNumber, safetyNumber } from '../identity/safety-number.js'
import type { Messenger } from '../messaging/messenger.js'
import type { Contact } from '../messaging/contacts.js'
import type { Message } from '../messaging/message-log.js'
import type { AttachmentService, AttachmentView } from '../attachments/service.js'
import { callSettingsChange, type CallSettings } from '../calls/settings.js'

export interface NodeStatus {
  state: 'no-account' | 'locked' | 'unlocked'
  sessionId?: string
  peerId: string
  addresses: string[]
  peers: number
  dht: { routingTable: number, recordPublished: boolean, publishedAt?: number }
  mailbox?: { envelopes: number, bytes: number }
  /**
   * Set when the data folder was found, at unlock, to be an older copy than this machine had
   * seen (restored from a backup): sessions were restarted, and messages received after the
   * copy was taken may show again. Only while unlocked.
   */
  rollback?: { detectedAt: number }
  /** What this node can do that an older one could not, for the web UI (e.g. `group-attachments`). */
  features?: string[]
}

export interface Settings extends UiSettings, CallSettings { idleLockMinutes: number, bootstrap: string[] }

/** What the API needs of the running node. */
export interface NodeController {
  status: () => Promise<NodeStatus>
  createAccount: (passphrase: string) => Promise<{ sessionId: string, phrase: string }>
  restoreAccount: (phrase: string, passphrase: string) => Promise<{ sessionId: string }>
  unlock: (passphrase: string) => Promise<{ sessionId: string }>
  lock: () => Promise<void>
  /** The messenger of the unlocked account, or an ApiError 423 when locked. */
  messenger: () => Messenger
  /** The unlocked account's attachments (node/attachments); omitted -> messages carry no files. */
  attachments?: () => AttachmentService
  selfId: () => SessionId
  settings: () => Promise<Settings>
  updateSettings: (change: Partial<Settings>) => Promise<Settings>
}

function field (body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined
}

function stringField (body: unknown, name: string, max = 10_000): string {
  const v = field(body, name)
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ApiError(400, 'ERR_BAD_REQUEST', `"${name}" must be a non-empty string`)
  return v
}

function sessionIdParam (value: string): SessionId {
  try {
    return parseSessionId(value)
  } catch (err) {
    throw new ApiError(400, (err as { code: string }).code, (err as Error).message)
  }
}

const MESSAGE_ID_RE = /^[0-9a-f]{32}$/

function messageIdParam (value: string): string {
  if (!MESSAGE_ID_RE.test(value)) throw new ApiError(400, 'ERR_BAD_REQUEST', 'a message id is 32 hex digits')
  return value
}

/** The messenger's "no such message" is a 404 and "not failed" a 409, as docs/API.md says. */
async function withMessageStatus<T> (work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ERR_UNKNOWN_MESSAGE') throw new ApiError(404, code, (err as Error).message)
    if (code === 'ERR_NOT_FAILED') throw new ApiError(409, code, (err as Error).message)
    throw err
  }
}

/** Contacts are shown as the messenger keeps them, the same as in the `contact` event. */
function contactView (c: Contact): Contact { return c }
/** A message as the API (and its event stream) shows it: its files without their keys, with their transfer state. */
export function messageViewOf (node: NodeController, m: Message): Omit<Message, 'attachments' | 'timerVersion'> & { attachments?: AttachmentView[] } {
  // timerVersion is the protocol's business (a resend carries it), not the UI's.
  const { attachments, timerVersion: _version, ...rest } = m
  if (attachments === undefined) return rest
  const service = node.attachments?.()
  return { ...rest, attachments: attachments.map((a) => service?.view(a) ?? { id: a.manifestId, name: a.name, size: a.size, mime: a.mime, state: 'pending' as const }) }
}

/** `attachments` of POST /api/messages: ids of files uploaded with POST /api/attachments. */
export async function attachmentRefs (node: NodeController, raw: unknown): Promise<{ attachments?: Awaited<ReturnType<AttachmentService['ref']>>[] }> {
  if (raw === undefined) return {}
  if (!Array.isArray(raw) || raw.length > 10 || !raw.every((id) => typeof id === 'string' && /^[0-9a-f]{64}$/.test(id))) throw new ApiError(400, 'ERR_BAD_REQUEST', '"attachments" is a list of attachment ids')
  if (raw.length === 0) return {}
  const service = node.attachments?.()
  if (service === undefined) throw new ApiError(400, 'ERR_BAD_REQUEST', 'this node does not take attachments')
  try {
    return { attachments: await Promise.all(raw.map(async (id: string) => await service.ref(id))) }
  } catch (err) {
    throw new ApiError(404, (err as { code?: string }).code ?? 'ERR_UNKNOWN_ATTACHMENT', (err as Error).message)
  }
}

export function apiRoutes (node: NodeController): Route[] {
  const messageView = (m: Message): ReturnType<typeof messageViewOf> => messageViewOf(node, m)
  return [
    { method: 'GET', path: '/api/status', handler: async () => await node.status() },
    { method: 'POST', path: '/api/account/create', handler: async (req) => await node.createAccount(stringField(req.body, 'passphrase', 1024)) },
    { method: 'POST', path: '/api/account/restore', handler: async (req) => await node.restoreAccount(stringField(req.body, 'phrase', 1024), stringField(req.body, 'passphrase', 1024)) },
    { method: 'POST', path: '/api/unlock', handler: async (req) => await node.unlock(stringField(req.body, 'passphrase', 1024)) },
    { method: 'POST', path: '/api/lock', handler: async () => { await node.lock(); return {} } },
    { method: 'GET', path: '/api/settings', handler: async () => await node.settings() },
    {
      method: 'PUT',
      path: '/api/settings',
      handler: async (req) => {
        const change: Partial<Settings> = {}
        const minutes = field(req.body, 'idleLockMinutes')
        if (minutes !== undefined) {
          if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60) throw new ApiError(400, 'ERR_BAD_REQUEST', 'idleLockMinutes is 1 to 1440')
          change.idleLockMinutes = minutes
        }
        const bootstrap = field(req.body, 'bootstrap')
        if (bootstrap !== undefined) {
          if (!Array.isArray(bootstrap) || bootstrap.length > 32 || !bootstrap.every((b) => typeof b === 'string' && b.length < 512)) throw new ApiError(400, 'ERR_BAD_REQUEST', 'bootstrap is a list of multiaddrs')
          change.bootstrap = bootstrap as string[]
        }
        Object.assign(change, uiSettingsChange(req.body))
        Object.assign(change, callSettingsChange(req.body))
        return await node.updateSettings(change)
      }
    },
    { method: 'GET', path: '/api/contacts', handler: async () => ({ contacts: (await node.messenger().contacts.list()).map(contactView) }) },
    {
      method: 'POST',
      path: '/api/contacts',
      handler: async (req) => {
        const id = sessionIdParam(stringField(req.body, 'sessionId', 200))
        if (id === node.selfId()) throw new ApiError(400, 'ERR_SELF', 'that is your own Session ID')
        const { contact, existed } = await node.messenger().addContact(id, field(req.body, 'name') ?? '')
        return { contact: contactView(contact), existed }
      }
    },
    {
      method: 'PUT',
      path: '/api/contacts/:id',
      handler: async (req) => {
        const change: Record<string, unknown> = {}
        for (const k of ['name', 'state', 'verified']) if (field(req.body, k) !== undefined) change[k] = field(req.body, k)
        return { contact: contactView(await node.messenger().updateContact(sessionIdParam(req.params.id), change)) }
      }
    },
    { method: 'DELETE', path: '/api/contacts/:id', handler: async (req) => { await node.messenger().removeContact(sessionIdParam(req.params.id)); return {} } },
    { method: 'GET', path: '/api/profile', handler: async () => await node.messenger().profile() },
    {
      method: 'PUT',
      path: '/api/profile',
      handler: async (req) => {
        const displayName = field(req.body, 'displayName')
        if (displayName === undefined) throw new ApiError(400, 'ERR_PROFILE_NAME', '"displayName" is a name or null')
        return await node.messenger().setProfile(displayName)
      }
    },
    {
      method: 'GET',
      path: '/api/search',
      handler: async (req) => {
        const { contacts, messages } = await node.messenger().search(req.query.get('q') ?? '')
        return { contacts: contacts.map(contactView), messages: messages.map(messageView) }
      }
    },
    {
      method: 'GET',
      path: '/api/contacts/:id/safety-number',
      handler: async (req) => {
        const digits = safetyNumber(node.selfId(), sessionIdParam(req.params.id))
        return { digits, formatted: formatSafetyNumber(digits) }
      }
    },
    {
      method: 'GET',
      path: '/api/conversations/:id/messages',
      handler: async (req) => {
        const limit = Number(req.query.get('limit') ?? '100')
        const before = req.query.has('before') ? Number(req.query.get('before')) : undefined
        const messages = await node.messenger().log.conversation(sessionIdParam(req.params.id), { limit: Number.isInteger(limit) && limit > 0 ? limit : 100, before })
        return { messages: messages.map(messageView) }
      }
    },
    { method: 'POST', path: '/api/conversations/:id/read', handler: async (req) => { await node.messenger().markRead(sessionIdParam(req.params.id)); return {} } },
    {
      method: 'POST',
      path: '/api/messages',
      handler: async (req) => {
        const quote = field(req.body, 'quote')
        if (quote !== undefined && (typeof quote !== 'string' || !MESSAGE_ID_RE.test(quote))) throw new ApiError(400, 'ERR_BAD_REQUEST', '"quote" is the id of a message')
        const files = await attachmentRefs(node, field(req.body, 'attachments'))
        // With files the text may be empty (or left out).
        const text = files.attachments !== undefined && (field(req.body, 'text') === undefined || field(req.body, 'text') === '') ? '' : stringField(req.body, 'text', 100_000)
        const message = await withMessageStatus(node.messenger().send(stringField(req.body, 'to', 200), text, { ...(quote === undefined ? {} : { quote }), ...files }))
        return { message: messageView(message) }
      }
    },
    {
      method: 'DELETE',
      path: '/api/conversations/:id/messages/:messageId',
      handler: async (req) => {
        const everyone = req.query.get('everyone')
        if (everyone !== null && everyone !== 'true' && everyone !== 'false') throw new ApiError(400, 'ERR_BAD_REQUEST', 'everyone is true or false')
        await withMessageStatus(node.messenger().deleteMessage(sessionIdParam(req.params.id), messageIdParam(req.params.messageId), { everyone: everyone === 'true' }))
        return {}
      }
    },
    {
      method: 'POST',
      path: '/api/conversations/:id/messages/:messageId/resend',
      handler: async (req) => ({ message: messageView(await withMessageStatus(node.messenger().resend(sessionIdParam(req.params.id), messageIdParam(req.params.messageId)))) })
    },
    {
      method: 'GET',
      path: '/api/inbox',
      handler: async (req) => {
        const after = Number(req.query.get('after') ?? '0')
        const limit = Number(req.query.get('limit') ?? '100')
        const page = await node.messenger().log.inboxPage(Number.isInteger(after) && after >= 0 ? after : 0, Number.isInteger(limit) && limit > 0 ? Math.min(limit, 500) : 100)
        return { messages: page.messages.map(messageView), cursor: page.cursor }
      }
    }
  ]
}

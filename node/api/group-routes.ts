/**
 * The group endpoints (docs/API.md "Groups"), mounted beside the account routes. Input is
 * checked here or by the group layer; every refusal is a typed error with its status.
 */
import { ApiError, withStatus as withStatusOf } from './errors.js'
import type { Route } from './server.js'
import type { GroupManager, GroupView } from '../groups/group-manager.js'
import type { Message } from '../messaging/message-log.js'
import type { AttachmentRef } from '../attachments/refs.js'

export interface GroupRoutesInit {
  /** The unlocked account's groups (423 ERR_LOCKED otherwise). */
  groups: () => GroupManager
  /** A message as the API shows it (routes.ts messageViewOf); default: its files without their keys. */
  messageView?: (m: Message) => object
  /** `attachments` of a send: uploaded ids to references (routes.ts); omitted -> files are refused. */
  attachmentRefs?: (raw: unknown) => Promise<{ attachments?: AttachmentRef[] }>
}

/** A file's key never leaves the node: without a view from the node, files show their name and size only. */
function withoutKeys (m: Message): object {
  const { attachments, ...rest } = m
  return attachments === undefined ? rest : { ...rest, attachments: attachments.map((a) => ({ id: a.manifestId, name: a.name, size: a.size, mime: a.mime })) }
}

const GROUP_ID = /^[0-9a-f]{64}$/
/** Statuses for the group layer's codes (the rest are 400, see server.ts). */
const STATUS: Record<string, number> = { ERR_UNKNOWN_GROUP: 404, ERR_GROUP_NOT_ADMIN: 403, ERR_NOT_MEMBER: 409, ERR_GROUP_REQUEST: 409, ERR_NOT_REQUEST: 409, ERR_ALREADY_MEMBER: 409, ERR_LAST_ADMIN: 409 }

function field (body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined
}

function groupId (value: string): string {
  if (!GROUP_ID.test(value)) throw new ApiError(400, 'ERR_BAD_REQUEST', 'a group id is 64 hex digits')
  return value
}

async function withStatus<T> (work: Promise<T>): Promise<T> {
  return await withStatusOf(work, STATUS)
}

const view = (g: GroupView): GroupView => g

export function groupRoutes (init: GroupRoutesInit): Route[] {
  const messageView = init.messageView ?? withoutKeys
  return [
    { method: 'GET', path: '/api/groups', handler: async () => ({ groups: (await init.groups().list()).map(view) }) },
    {
      method: 'POST',
      path: '/api/groups',
      handler: async (req) => ({ group: view(await withStatus(init.groups().create(field(req.body, 'name'), field(req.body, 'members')))) })
    },
    { method: 'GET', path: '/api/groups/:id', handler: async (req) => ({ group: view(await withStatus(init.groups().get(groupId(req.params.id)))) }) },
    {
      method: 'POST',
      path: '/api/groups/:id/members',
      handler: async (req) => ({ group: view(await withStatus(init.groups().addMember(groupId(req.params.id), field(req.body, 'sessionId')))) })
    },
    {
      method: 'DELETE',
      path: '/api/groups/:id/members/:sessionId',
      handler: async (req) => ({ group: view(await withStatus(init.groups().removeMember(groupId(req.params.id), req.params.sessionId))) })
    },
    { method: 'DELETE', path: '/api/groups/:id', handler: async (req) => { await withStatus(init.groups().remove(groupId(req.params.id))); return {} } },
    {
      method: 'PUT',
      path: '/api/groups/:id/admins/:sessionId',
      handler: async (req) => ({ group: view(await withStatus(init.groups().setAdmin(groupId(req.params.id), req.params.sessionId, true))) })
    },
    {
      method: 'DELETE',
      path: '/api/groups/:id/admins/:sessionId',
      handler: async (req) => ({ group: view(await withStatus(init.groups().setAdmin(groupId(req.params.id), req.params.sessionId, false))) })
    },
    { method: 'POST', path: '/api/groups/:id/leave', handler: async (req) => ({ group: view(await withStatus(init.groups().leave(groupId(req.params.id)))) }) },
    { method: 'POST', path: '/api/groups/:id/accept', handler: async (req) => ({ group: view(await withStatus(init.groups().accept(groupId(req.params.id)))) }) },
    {
      // The group's disappearing-message timer (any member may change it): 400 ERR_TIMER, 409 as sending.
      method: 'PUT',
      path: '/api/groups/:id/timer',
      handler: async (req) => ({ group: view(await withStatus(init.groups().setTimer(groupId(req.params.id), req.body))) })
    },
    { method: 'POST', path: '/api/groups/:id/read', handler: async (req) => ({ group: view(await withStatus(init.groups().markRead(groupId(req.params.id)))) }) },
    {
      method: 'GET',
      path: '/api/groups/:id/messages',
      handler: async (req) => {
        const limit = Number(req.query.get('limit') ?? '100')
        const before = req.query.has('before') ? Number(req.query.get('before')) : undefined
        const messages = await withStatus(init.groups().messages(groupId(req.params.id), { limit: Number.isInteger(limit) && limit > 0 ? limit : 100, ...(before !== undefined && Number.isInteger(before) ? { before } : {}) }))
        return { messages: messages.map(messageView) }
      }
    },
    {
      method: 'POST',
      path: '/api/groups/:id/messages',
      handler: async (req) => {
        const id = groupId(req.params.id)
        const raw = field(req.body, 'attachments')
        if (raw !== undefined && init.attachmentRefs === undefined) throw new ApiError(400, 'ERR_BAD_REQUEST', 'this node does not take attachments')
        // With files (as POST /api/messages) the text may be empty or left out.
        const files = raw === undefined || init.attachmentRefs === undefined ? {} : await init.attachmentRefs(raw)
        const given = field(req.body, 'text')
        const text = files.attachments !== undefined && (given === undefined || given === '') ? '' : given
        if (typeof text !== 'string' || (text.length === 0 && files.attachments === undefined)) throw new ApiError(400, 'ERR_BAD_REQUEST', '"text" must be a non-empty string')
        return { message: messageView(await withStatus(init.groups().send(id, text, files))) }
      }
    }
  ]
}

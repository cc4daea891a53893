/**
 * The disappearing-message timer of a conversation (docs/API.md "Disappearing messages"):
 * `PUT /api/contacts/:id/timer` with `{ mode, seconds }`. The body is checked by the messaging
 * layer (400 ERR_TIMER); an unknown contact is 404 ERR_UNKNOWN_CONTACT, as everywhere.
 */
import { ApiError } from './errors.js'
import type { Route } from './server.js'
import { parseSessionId, type SessionId } from '../identity/session-id.js'
import type { Contact } from '../messaging/contacts.js'
import type { Messenger } from '../messaging/messenger.js'

export interface TimerRoutesInit {
  /** The unlocked account's messenger (423 ERR_LOCKED otherwise). */
  messenger: () => Messenger
}

function sessionIdParam (value: string): SessionId {
  try {
    return parseSessionId(value)
  } catch (err) {
    throw new ApiError(400, (err as { code: string }).code, (err as Error).message)
  }
}

export function timerRoutes (init: TimerRoutesInit): Route[] {
  return [
    {
      method: 'PUT',
      path: '/api/contacts/:id/timer',
      handler: async (req): Promise<{ contact: Contact }> => ({ contact: await init.messenger().setTimer(sessionIdParam(req.params.id), req.body) })
    }
  ]
}

/**
 * Acceptance: disappearing messages as a user's programs see them. Three `sotto start`
 * processes of the real bin (a hub, Alice, Bob), and from then on only HTTP calls to their
 * local APIs with the token each wrote to api.json: accounts, contacts, a 2 s timer, one
 * message each way, and both gone from both inboxes (waited for by polling the API).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readApiFile } from '../../node/daemon/api-file.js'
import { tempDir } from '../helpers/cli.js'
import { startSotto, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'

const PASS = 'disappearing acceptance passphrase'
let root: { path: string, remove: () => Promise<void> }
const nodes: Record<'hub' | 'alice' | 'bob', SottoProcess> = {} as any
const ids = { alice: '', bob: '' }

async function api (who: keyof typeof nodes, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const file = await readApiFile(nodes[who].dataDir)
  if (file === undefined) throw new Error(`${who}'s node wrote no api.json`)
  const res = await fetch(`http://127.0.0.1:${file.port}${path}`, {
    method,
    headers: { Authorization: `Bearer ${file.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, json: await res.json().catch(() => ({})) }
}

beforeAll(async () => {
  root = await tempDir('sotto-disappearing-acceptance-')
  nodes.hub = await startSotto({ dataDir: join(root.path, 'hub') })
  const hubStatus = await until('the hub\'s address', async () => (await api('hub', 'GET', '/api/status')).json.addresses?.find((a: string) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.includes('/p2p/')))
  for (const who of ['alice', 'bob'] as const) {
    nodes[who] = await startSotto({ dataDir: join(root.path, who), bootstrap: [hubStatus] })
    const created = await api(who, 'POST', '/api/account/create', { passphrase: PASS })
    expect(created.status, JSON.stringify(created.json)).toBe(200)
    ids[who] = created.json.sessionId
  }
  for (const who of ['alice', 'bob'] as const) await until(`${who}'s record published`, async () => (await api(who, 'GET', '/api/status')).json.dht?.recordPublished === true, 60_000)
  expect((await api('alice', 'POST', '/api/contacts', { sessionId: ids.bob, name: 'Bob' })).status).toBe(200)
  expect((await api('bob', 'POST', '/api/contacts', { sessionId: ids.alice, name: 'Alice' })).status).toBe(200)
}, 180_000)

afterAll(async () => {
  await stopAllSotto()
  await root?.remove()
})

describe('a 2 s timer, through the HTTP API of sotto start processes', () => {
  it('X1: set the timer, send, and the messages vanish from both inboxes', async () => {
    const put = await api('alice', 'PUT', `/api/contacts/${ids.bob}/timer`, { mode: 'after-send', seconds: 2 })
    expect(put.status).toBe(200)
    expect(put.json.contact.timer).toMatchObject({ mode: 'after-send', seconds: 2, changedBy: ids.alice })
    const text = `vanishing ${Date.now()}`
    const sent = await api('alice', 'POST', '/api/messages', { to: ids.bob, text })
    expect(sent.status).toBe(200)
    expect(sent.json.message).toMatchObject({ timer: { mode: 'after-send', seconds: 2 } })
    // Bob's node got the setting with the message, so his reply runs under the same timer.
    const atBob = await until('the message in Bob\'s inbox', async () => (await api('bob', 'GET', '/api/inbox')).json.messages.find((m: any) => m.text === text), 30_000)
    expect(atBob.expiresAt).toBe(sent.json.message.expiresAt)
    expect((await api('bob', 'GET', '/api/contacts')).json.contacts.find((c: any) => c.sessionId === ids.alice).timer).toMatchObject({ mode: 'after-send', seconds: 2, changedBy: ids.alice })
    const reply = await api('bob', 'POST', '/api/messages', { to: ids.alice, text: `${text} reply` })
    expect(reply.json.message).toMatchObject({ timer: { mode: 'after-send', seconds: 2 } })
    await until('the reply in Alice\'s inbox', async () => (await api('alice', 'GET', '/api/inbox')).json.messages.some((m: any) => m.text === `${text} reply`), 30_000)

    await until('both gone from both inboxes', async () => {
      const [a, b] = await Promise.all([api('alice', 'GET', '/api/inbox'), api('bob', 'GET', '/api/inbox')])
      return ![...a.json.messages, ...b.json.messages].some((m: any) => m.text.startsWith(text))
    }, 20_000)
    for (const [who, other] of [['alice', ids.bob], ['bob', ids.alice]] as const) {
      const conv = (await api(who, 'GET', `/api/conversations/${other}/messages`)).json.messages
      expect(conv.filter((m: any) => m.text.startsWith(text))).toEqual([])
      // What stays is the row saying the timer changed.
      expect(conv.some((m: any) => m.event?.type === 'timer' && m.event.seconds === 2)).toBe(true)
    }
  }, 90_000)
})

/**
 * Acceptance: disappearing messages from the command line, as people use it. Nodes are child
 * processes of the real bin (`sotto start`), accounts come from `sotto init`, and the rest is
 * the CLI: `sotto contacts timer Bob 5m --after-read`, `... off`, `... 2s`, then `sotto send`
 * and `sotto inbox` (--json with "timer" and "expiresAt", the human form with "⏱"). Under a
 * 2 s timer the message reaches Bob with its end (`inbox --follow`, running before it is
 * sent, prints it, and then that it disappeared), then is gone from both nodes: waited for by
 * polling the CLI and the API, never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readApiFile } from '../../node/daemon/api-file.js'
import { NODE, runSotto, SOTTO_BIN, tempDir } from '../helpers/cli.js'
import { bootstrapAddress, inboxOf, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'

const PASS = 'disappearing e2e passphrase'
type Who = 'Alice' | 'Bob'
let root: { path: string, remove: () => Promise<void> }
const users: Record<Who, { node: SottoProcess, id: string }> = {} as any
const followers: ChildProcess[] = []

interface Timer { mode: string, seconds: number, version: number, changedAt: number, changedBy: string | null }
interface Line { id: string, from: string, text: string, sentAt: number, state: string, timer?: { mode: string, seconds: number }, expiresAt?: number }

async function cli (who: Who, args: string[], expected = 0): Promise<string> {
  const r = await users[who].node.cli(args, { timeoutMs: 60_000 })
  expect(r.code, `sotto ${args.join(' ')} (${who}): ${r.stderr}`).toBe(expected)
  return expected === 0 ? r.stdout : r.stderr
}

/** `sotto send` with the text on stdin, the private way. */
async function send (who: Who, to: string, text: string): Promise<string> {
  const r = await runSotto(['send', to, '--data-dir', users[who].node.dataDir], { input: text + '\n', timeoutMs: 60_000 })
  expect(r.code, `sotto send (${who}): ${r.stderr}`).toBe(0)
  return r.stdout.trim()
}

/** The API as the CLI calls it (the token from api.json): for what the CLI has no command for. */
async function api (who: Who, path: string): Promise<any> {
  const file = await readApiFile(users[who].node.dataDir)
  if (file === undefined) throw new Error(`${who}'s node wrote no api.json`)
  const res = await fetch(`http://127.0.0.1:${file.port}${path}`, { headers: { Authorization: `Bearer ${file.token}` } })
  expect(res.status, path).toBe(200)
  return await res.json()
}

async function contactOf (who: Who, other: Who): Promise<{ sessionId: string, timer?: Timer }> {
  const list = JSON.parse(await cli(who, ['contacts', 'list', '--json'])) as Array<{ sessionId: string, timer?: Timer }>
  const c = list.find((x) => x.sessionId === users[other].id)
  if (c === undefined) throw new Error(`${other} is not among ${who}'s contacts`)
  return c
}

/** `sotto inbox --follow --json` running beside the test: each line it printed, as it came. */
function follow (who: Who): { next: (what: string, pred: (l: Line) => boolean, timeoutMs?: number) => Promise<Line> } {
  return followLines(who, ['--json'], (line) => JSON.parse(line) as Line)
}

/** `sotto inbox --follow` for people: the lines as printed. */
function followText (who: Who): { next: (what: string, pred: (l: string) => boolean, timeoutMs?: number) => Promise<string> } {
  return followLines(who, [], (line) => line)
}

function followLines<T> (who: Who, args: string[], parse: (line: string) => T): { next: (what: string, pred: (l: T) => boolean, timeoutMs?: number) => Promise<T> } {
  const child = spawn(NODE, [SOTTO_BIN, 'inbox', '--follow', ...args, '--data-dir', users[who].node.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  followers.push(child)
  const lines: T[] = []
  let buffer = ''
  const waiters = new Set<() => void>()
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString()
    let end: number
    while ((end = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, end).trim()
      buffer = buffer.slice(end + 1)
      if (line !== '') lines.push(parse(line))
    }
    for (const w of waiters) w()
  })
  const next = async (what: string, pred: (l: T) => boolean, timeoutMs = 30_000): Promise<T> => await new Promise((resolve, reject) => {
    const check = () => {
      const hit = lines.find(pred)
      if (hit === undefined) return
      clearTimeout(timer)
      waiters.delete(check)
      resolve(hit)
    }
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`sotto inbox --follow printed no line for ${what} within ${timeoutMs} ms`)) }, timeoutMs)
    waiters.add(check)
    check()
  })
  return { next }
}

beforeAll(async () => {
  root = await tempDir('sotto-disappearing-e2e-')
  const hub = await startSotto({ dataDir: join(root.path, 'hub') })
  const hubAddr = await bootstrapAddress(hub)
  for (const name of ['Alice', 'Bob'] as const) {
    const dataDir = join(root.path, name.toLowerCase())
    const init = await runSotto(['init', '--json', '--data-dir', dataDir], { env: { SOTTO_PASSPHRASE: PASS } })
    expect(init.code, init.stderr).toBe(0)
    users[name] = { id: JSON.parse(init.stdout).sessionId, node: await startSotto({ dataDir, passphrase: PASS, bootstrap: [hubAddr] }) }
  }
  for (const name of ['Alice', 'Bob'] as const) await until(`${name}'s record published`, async () => (await statusOf(users[name].node)).dht.recordPublished, 60_000)
  await cli('Alice', ['contacts', 'add', users.Bob.id, '--name', 'Bob'])
  await cli('Bob', ['contacts', 'add', users.Alice.id, '--name', 'Alice'])
  // A first message each way opens the sessions, so the timer changes below travel at once.
  expect(await send('Alice', 'Bob', 'hello Bob')).toBe('delivered')
  expect(await send('Bob', 'Alice', 'hello Alice')).toBe('delivered')
  await until('Bob has the first message', async () => (await inboxOf(users.Bob.node)).some((m) => m.text === 'hello Bob'), 30_000)
  await until('Alice has the first message', async () => (await inboxOf(users.Alice.node)).some((m) => m.text === 'hello Alice'), 30_000)
}, 180_000)

afterAll(async () => {
  for (const child of followers) if (child.exitCode === null) child.kill('SIGTERM')
  await stopAllSotto()
  await root?.remove()
})

describe('disappearing messages from the CLI, against sotto start processes', () => {
  it('contacts timer: a bad duration is one line and exit 1; the setting is said in words, or as JSON, and reaches the contact', async () => {
    for (const bad of ['90x', '8d', '0s']) {
      const stderr = await cli('Alice', ['contacts', 'timer', 'Bob', bad], 1)
      expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1)
      expect(stderr).toMatch(/^sotto: "[^"]+" is (not a duration|out of range)/)
    }
    expect((await cli('Alice', ['contacts', 'timer', 'Nobody', '5m'], 2)).trim()).toBe('sotto: no contact called "Nobody" (and it is not a Session ID)')

    expect((await cli('Alice', ['contacts', 'timer', 'Bob', '5m', '--after-read'])).trim()).toBe('Messages with Bob now disappear 5 minutes after reading.')
    expect((await contactOf('Alice', 'Bob')).timer).toMatchObject({ mode: 'after-read', seconds: 300, changedBy: users.Alice.id })
    // The change travels inside the session: Bob's node holds the same setting, set by Alice.
    const atBob = await until('Bob has the 5 minute timer', async () => {
      const t = (await contactOf('Bob', 'Alice')).timer
      return t?.mode === 'after-read' && t.seconds === 300 ? t : undefined
    }, 30_000)
    expect(atBob.changedBy).toBe(users.Alice.id)
    expect(await cli('Bob', ['contacts', 'list'])).toMatch(/Alice .*⏱ 5 minutes after reading/)

    const off = JSON.parse(await cli('Alice', ['contacts', 'timer', 'Bob', 'off', '--json'])) as Timer
    expect(off).toMatchObject({ mode: 'off', seconds: 0, changedBy: users.Alice.id })
    expect(off.version).toBeGreaterThan(atBob.version)
    expect(typeof off.changedAt).toBe('number')
    await until('Bob has the timer off', async () => (await contactOf('Bob', 'Alice')).timer?.mode === 'off', 30_000)
    expect((await cli('Bob', ['contacts', 'timer', 'Alice', 'off'])).trim()).toBe('Messages with Alice no longer disappear.')
  }, 120_000)

  it('inbox shows a disappearing message with its timer and end: --json "expiresAt", the human form "⏱"', async () => {
    expect((await cli('Alice', ['contacts', 'timer', 'Bob', '1h'])).trim()).toBe('Messages with Bob now disappear 1 hour after sending.')
    const marker = `an hour to live ${randomBytes(4).toString('hex')}`
    expect(await send('Alice', 'Bob', marker)).toBe('delivered')
    const line = await until('the message in Bob\'s inbox', async () => (await inboxOf(users.Bob.node) as Line[]).find((m) => m.text === marker), 30_000)
    expect(line.timer).toEqual({ mode: 'after-send', seconds: 3600 })
    expect(typeof line.expiresAt).toBe('number')
    // After sending: the clock runs from the send, give or take the two clocks of this machine.
    expect(Math.abs((line.expiresAt ?? 0) - (line.sentAt + 3_600_000))).toBeLessThan(5_000)
    const human = await cli('Bob', ['inbox'])
    const row = human.split('\n').find((l) => l.includes(marker)) ?? ''
    expect(row, human).toMatch(/Alice: an hour to live [0-9a-f]{8} {2}⏱ (60 min|1 h)$/)
    // A timer change is a line of the conversation, not a message: it is not in the inbox.
    expect(human).not.toMatch(/disappearing/i)
  }, 90_000)

  it('under a 2 s timer the message reaches Bob with its end, then is gone from both nodes; so is his reply', async () => {
    const timer = JSON.parse(await cli('Alice', ['contacts', 'timer', 'Bob', '2s', '--json'])) as Timer
    expect(timer).toMatchObject({ mode: 'after-send', seconds: 2, changedBy: users.Alice.id })
    await until('Bob has the 2 s timer', async () => (await contactOf('Bob', 'Alice')).timer?.seconds === 2, 30_000)

    // Bob's `inbox --follow --json` is running before the message is sent: it prints the
    // message as it arrives, however short its life.
    const bob = follow('Bob')
    const bobReads = followText('Bob')
    await bob.next('the message sent before (the catch-up ran)', (l) => l.text === 'hello Bob')
    await bobReads.next('the message sent before, for people', (l) => l.endsWith('Alice: hello Bob'))
    const marker = `vanishing ${randomBytes(4).toString('hex')}`
    const sentAt = Date.now()
    expect(await send('Alice', 'Bob', marker)).toBe('delivered')
    const line = await bob.next('the 2 s message', (l) => l.text === marker)
    expect(line.timer).toEqual({ mode: 'after-send', seconds: 2 })
    expect(typeof line.expiresAt).toBe('number')
    expect(line.expiresAt).toBeGreaterThanOrEqual(line.sentAt + 2000 - 1000)
    expect(line.expiresAt).toBeLessThanOrEqual(Date.now() + 2000)

    const shown = await bobReads.next('the 2 s message, for people', (l) => l.includes(marker))
    expect(shown).toMatch(/Alice: vanishing [0-9a-f]{8} {2}⏱ [12] s$/)
    // The node says when it deleted it, and so does the command.
    await bobReads.next('its disappearance', (l) => l === '(1 message with Alice disappeared)', 20_000)
    await until('the message gone from Bob\'s inbox', async () => !(await inboxOf(users.Bob.node)).some((m) => m.text === marker), 20_000)
    await until('the message gone from Alice\'s conversation', async () => {
      const { messages } = await api('Alice', `/api/conversations/${users.Bob.id}/messages?limit=200`) as { messages: Line[] }
      return !messages.some((m) => m.text === marker)
    }, 20_000)
    await until('the message gone from Bob\'s conversation', async () => {
      const { messages } = await api('Bob', `/api/conversations/${users.Alice.id}/messages?limit=200`) as { messages: Line[] }
      return !messages.some((m) => m.text === marker)
    }, 20_000)
    // Gone by its timer, not by anything slow: well within a few seconds of the send.
    expect(Date.now() - sentAt).toBeLessThan(40_000)

    // Bob answers under the same timer: it reaches Alice's inbox and leaves it too.
    const reply = `gone too ${randomBytes(4).toString('hex')}`
    const alice = follow('Alice')
    await alice.next('the message sent before (the catch-up ran)', (l) => l.text === 'hello Alice')
    expect(await send('Bob', 'Alice', reply)).toBe('delivered')
    const got = await alice.next('the reply', (l) => l.text === reply)
    expect(typeof got.expiresAt).toBe('number')
    await until('the reply gone from Alice\'s inbox', async () => !(await inboxOf(users.Alice.node)).some((m) => m.text === reply), 20_000)
    await until('the reply gone from Bob\'s conversation', async () => {
      const { messages } = await api('Bob', `/api/conversations/${users.Alice.id}/messages?limit=200`) as { messages: Line[] }
      return !messages.some((m) => m.text === reply)
    }, 20_000)
  }, 120_000)
})

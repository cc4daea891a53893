/**
 * Acceptance: groups from the command line, as people use it. Every node is a child process of
 * the real bin (`sotto start`); accounts are made with `sotto init`; everything else is the CLI
 * (`contacts`, `groups`, `send`, `inbox`) run against the same data dirs.
 *
 * Nodes: H (no account; a plain DHT and mailbox peer), and Alice, Bob and Carol (--bootstrap H).
 * Alice creates a group with Bob and Carol, everyone reads it with `inbox --json` ("group"
 * beside "from"), a name that is both a contact and a group is refused, Alice removes Carol,
 * and Carol gets nothing sent to the group after that.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deriveIdentity } from '../../node/identity/keys.js'
import { runSotto, tempDir } from '../helpers/cli.js'
import { bootstrapAddress, inboxOf, startSotto, statusOf, stopAllSotto, until, type SottoProcess } from '../helpers/sotto-process.js'

const PASS = 'groups e2e passphrase'
const NAMES = ['Alice', 'Bob', 'Carol'] as const

let root: { path: string, remove: () => Promise<void> }
const users: Record<string, { node: SottoProcess, id: string }> = {}
let groupId = ''

/** Runs the CLI for a user; fails the test on an unexpected exit code. */
async function cli (who: string, args: string[], expected = 0): Promise<string> {
  const r = await users[who].node.cli(args, { timeoutMs: 60_000 })
  expect(r.code, `sotto ${args.join(' ')} (${who}): ${r.stderr}`).toBe(expected)
  return expected === 0 ? r.stdout : r.stderr
}

const groupsOf = async (who: string): Promise<any[]> => JSON.parse(await cli(who, ['groups', 'list', '--json']))
const groupLines = async (who: string) => (await inboxOf(users[who].node)).filter((l: any) => l.group === groupId)

beforeAll(async () => {
  root = await tempDir('sotto-groups-e2e-')
  const hub = await startSotto({ dataDir: join(root.path, 'hub') })
  const hubAddr = await bootstrapAddress(hub)
  for (const name of NAMES) {
    const dataDir = join(root.path, name.toLowerCase())
    const init = await runSotto(['init', '--json', '--data-dir', dataDir], { env: { SOTTO_PASSPHRASE: PASS } })
    expect(init.code, init.stderr).toBe(0)
    users[name] = { id: JSON.parse(init.stdout).sessionId, node: await startSotto({ dataDir, passphrase: PASS, bootstrap: [hubAddr] }) }
  }
  for (const name of NAMES) await until(`${name}'s record published`, async () => (await statusOf(users[name].node)).dht.recordPublished, 60_000)
  for (const name of NAMES) {
    for (const other of NAMES) if (other !== name) await cli(name, ['contacts', 'add', users[other].id, '--name', other])
  }
}, 180_000)

afterAll(async () => {
  await stopAllSotto()
  await root?.remove()
})

describe('groups from the CLI, against sotto start processes', () => {
  it('groups create prints the group as the JSON contract says; the members see it', async () => {
    const out = await cli('Alice', ['groups', 'create', 'Climbers', '--member', 'Bob', '--member', users.Carol.id, '--json'])
    const group = JSON.parse(out)
    expect(Object.keys(group)).toEqual(['id', 'name', 'members', 'admins'])
    expect(group).toMatchObject({ name: 'Climbers', members: NAMES.map((n) => users[n].id).sort(), admins: [users.Alice.id] })
    groupId = group.id
    for (const name of ['Bob', 'Carol']) {
      await until(`${name} has the group`, async () => (await groupsOf(name)).find((g) => g.id === groupId && g.state === 'member'))
    }
    expect(await cli('Alice', ['groups', 'list'])).toMatch(new RegExp(`^Climbers\\s+${groupId}\\s+\\[3 members\\]$`, 'm'))
  }, 60_000)

  it('send GROUP reaches every member; inbox --json has "group" beside "from"; the human inbox names the group', async () => {
    expect((await cli('Alice', ['send', 'Climbers', 'hello climbers'])).trim()).toMatch(/^(delivered|stored)/)
    for (const name of ['Bob', 'Carol']) {
      const line = await until(`${name} reads it`, async () => (await groupLines(name)).find((l: any) => l.text === 'hello climbers'))
      expect(line).toMatchObject({ from: users.Alice.id, group: groupId, text: 'hello climbers' })
      expect(Object.keys(line).slice(0, 3)).toEqual(['id', 'from', 'group'])
    }
    expect(await cli('Bob', ['inbox'])).toContain('[Climbers] Alice: hello climbers')
    // By id too, from another member (once Bob's sender key reached the others).
    await until('Bob can send', async () => (await users.Bob.node.cli(['send', groupId, 'bob here'])).code === 0)
    await until('Alice reads Bob', async () => (await groupLines('Alice')).find((l: any) => l.text === 'bob here' && l.from === users.Bob.id))
  }, 60_000)

  it('a name that is both a contact and a group is refused with a hint (exit 2)', async () => {
    const someone = deriveIdentity(new Uint8Array(16).fill(91)).sessionId
    await cli('Alice', ['contacts', 'add', someone, '--name', 'climbers'])
    const err = await cli('Alice', ['send', 'Climbers', 'which one?'], 2)
    expect(err).toContain('both a contact and a group')
    expect(err).toContain(groupId)
  }, 30_000)

  it('after groups remove, the removed member gets nothing sent to the group', async () => {
    const out = JSON.parse(await cli('Alice', ['groups', 'remove', 'Climbers', 'Carol', '--json']))
    expect(out.members).toEqual([users.Alice.id, users.Bob.id].sort())
    await until('Carol sees she was removed', async () => (await groupsOf('Carol')).find((g) => g.id === groupId && g.state === 'removed'))
    await until('Bob has the new members', async () => (await groupsOf('Bob')).find((g) => g.id === groupId && g.members.length === 2))
    await cli('Alice', ['send', groupId, 'after carol'])
    await until('Bob reads it', async () => (await groupLines('Bob')).find((l: any) => l.text === 'after carol'))
    // Carol's node is up and reachable: a 1:1 message sent after the group one reaches her.
    await cli('Alice', ['send', 'Carol', 'just to you'])
    await until('Carol reads the 1:1 message', async () => (await inboxOf(users.Carol.node)).find((l) => l.text === 'just to you'))
    expect((await groupLines('Carol')).map((l: any) => l.text)).toEqual(['hello climbers', 'bob here'])
    expect(await cli('Carol', ['send', groupId, 'still here?'], 2)).toContain('no longer a member')
  }, 90_000)

  it('groups admin makes Bob an admin (and --remove takes it back); groups delete removes the group Carol was removed from', async () => {
    const made = JSON.parse(await cli('Alice', ['groups', 'admin', 'Climbers', 'Bob', '--json']))
    expect(made.admins).toEqual([users.Alice.id, users.Bob.id].sort())
    await until('Bob sees he is an admin', async () => (await groupsOf('Bob')).find((g) => g.id === groupId && g.admins.includes(users.Bob.id)))
    const back = JSON.parse(await cli('Bob', ['groups', 'admin', 'Climbers', users.Bob.id, '--remove', '--json']))
    expect(back.admins).toEqual([users.Alice.id])
    expect(await cli('Carol', ['groups', 'delete', 'Climbers'])).toContain('Deleted the group Climbers')
    expect((await groupsOf('Carol')).find((g) => g.id === groupId)).toBeUndefined()
    expect((await groupLines('Carol').catch(() => [])).length).toBe(0)
  }, 60_000)
})

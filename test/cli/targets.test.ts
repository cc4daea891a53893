/** What a CONTACT or GROUP on the command line names (cli/targets.ts), as tables. */
import { describe, expect, it } from 'vitest'
import { CliError } from '../../cli/errors.js'
import { groupStanding, matchContact, matchGroup, sendTarget, type ContactEntry, type GroupEntry } from '../../cli/targets.js'

const ID = (n: number): string => '05' + n.toString(16).padStart(2, '0').repeat(32)
const GID = (n: number): string => n.toString(16).padStart(2, '0').repeat(32)

const contacts: ContactEntry[] = [
  { sessionId: ID(1), name: 'Bob', state: 'accepted' },
  { sessionId: ID(2), name: '', profileName: 'Dana', state: 'accepted' },
  { sessionId: ID(3), name: '', profileName: 'Eve', state: 'request' },
  { sessionId: ID(4), name: 'Twin', state: 'accepted' },
  { sessionId: ID(5), name: 'twin', state: 'accepted' },
  { sessionId: ID(6), name: 'Climbers', state: 'accepted' }
]
const group = (n: number, name: string, extra: Partial<GroupEntry> = {}): GroupEntry => ({ id: GID(n), name, members: [], admins: [], ...extra })
const groups: GroupEntry[] = [
  group(1, 'Climbers'),
  group(2, 'Chess'),
  group(3, 'Chess', { removed: true }),
  group(4, 'Old', { removed: true, left: true }),
  group(5, 'Pair'),
  group(6, 'pair'),
  group(7, 'Invited', { state: 'request' })
]

describe('contact names', () => {
  it.each([
    ['Bob', ID(1)],
    ['  bob ', ID(1)],
    ['Dana', ID(2)],
    ['Eve', undefined],
    [ID(9), ID(9)],
    [ID(9).toUpperCase().replace(/^05/, '05'), ID(9)],
    ['nobody', undefined]
  ])('matchContact(%j) is %j', (input, expected) => {
    expect(matchContact(contacts, input)).toBe(expected)
  })

  it('a name two contacts share is refused (exit 2), naming the way out', () => {
    expect(() => matchContact(contacts, 'TWIN')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('use the Session ID') }))
  })
})

describe('group names', () => {
  it.each([
    ['Climbers', 1],
    ['chess', 2],
    [GID(3), 3],
    ['Old', 4],
    ['Invited', 7],
    [GID(9), undefined]
  ])('matchGroup(%j) is group %j', (input, n) => {
    expect(matchGroup(groups, input)?.id).toBe(n === undefined ? undefined : GID(n))
  })

  it('a name two groups share is refused (exit 2)', () => {
    expect(() => matchGroup(groups, 'Pair')).toThrow(CliError)
    expect(() => matchGroup(groups, 'Pair')).toThrow(expect.objectContaining({ exitCode: 2 }))
  })

  it.each([
    [group(1, 'a'), 'member'],
    [group(1, 'a', { state: 'request' }), 'request'],
    [group(1, 'a', { removed: true }), 'removed'],
    [group(1, 'a', { removed: true, left: true }), 'left']
  ])('groupStanding(%j) is %s', (g, standing) => {
    expect(groupStanding(g)).toBe(standing)
  })
})

describe('sotto send TARGET', () => {
  it.each([
    ['Chess', { group: GID(2) }],
    [GID(2), { group: GID(2) }],
    ['Bob', { contact: 'Bob' }],
    [ID(9), { contact: ID(9) }],
    ['nobody', { contact: 'nobody' }]
  ])('%j goes to %j', (target, expected) => {
    const r = sendTarget(contacts, groups, target)
    expect('group' in r ? { group: r.group.id } : r).toEqual(expected)
  })

  it('a name that is a contact and a group is refused, with the group id and the way to name the contact', () => {
    expect(() => sendTarget(contacts, groups, 'climbers')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(new RegExp(`both a contact and a group.*${GID(1)}.*Session ID`)) }))
  })
})

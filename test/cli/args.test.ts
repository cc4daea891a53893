import { describe, expect, it } from 'vitest'
import { parseFlags, splitCommand } from '../../cli/args.js'
import { CliError } from '../../cli/errors.js'

describe('argument parsing', () => {
  it.each([
    [['init'], 'init', []],
    [['--data-dir', 'x', 'id', '--json'], 'id', ['--data-dir', 'x', '--json']],
    [[], undefined, []],
    [['--help'], undefined, ['--help']]
  ])('splitCommand(%j)', (argv, command, rest) => {
    expect(splitCommand(argv)).toEqual({ command, rest })
  })

  it.each([
    [['--data-dir', '/d', '--json'], { 'data-dir': '/d', json: true }, []],
    [['--data-dir=/d'], { 'data-dir': '/d' }, []],
    [['--listen', 'a', '--listen', 'b'], { listen: ['a', 'b'] }, []],
    [['--no-mdns'], { mdns: false }, []],
    [['05ab', 'hello world'], {}, ['05ab', 'hello world']],
    [['--', '--json'], {}, ['--json']],
    [['-h'], { help: true }, []]
  ])('parseFlags(%j)', (args, flags, positionals) => {
    expect(parseFlags(args, { listen: 'strings', mdns: 'boolean' })).toEqual({ flags, positionals })
  })

  it.each([
    [['--bogus'], /unknown option --bogus/],
    [['--data-dir'], /--data-dir needs a value/],
    [['--json=yes'], /--json takes no value/],
    [['--data-dir', '--json'], /--data-dir needs a value/]
  ])('refuses %j', (args, message) => {
    expect(() => parseFlags(args, {})).toThrow(CliError)
    expect(() => parseFlags(args, {})).toThrow(message)
  })

  it('C5: there is no flag that takes a phrase or a passphrase on the command line', () => {
    for (const flag of ['--phrase', '--passphrase', '--mnemonic', '--password']) {
      expect(() => parseFlags([flag, 'secret'], {})).toThrow(/unknown option/)
    }
  })
})

import { describe, expect, it } from 'vitest'
import { safeForTerminal } from '../../cli/terminal-text.js'

describe('text from peers printed in a terminal', () => {
  it.each([
    ['\u001b[2J\u001b[Hcleared', 'cleared'],
    ['\u001b]0;pwned title\u0007hi', 'hi'],
    ['\u001b]8;;http://evil\u001b\\link\u001b]8;;\u001b\\', 'link'],
    ['red \u001b[31mtext\u001b[0m', 'red text'],
    ['bell\u0007 and backspace\u0008', 'bell and backspace'],
    ['\u009b31mC1 CSI', 'C1 CSI'],
    ['plain text, émoji 🎉', 'plain text, émoji 🎉'],
    ['two\nlines\tok', 'two\nlines\tok']
  ])('C6: %j prints as %j', (input, expected) => {
    expect(safeForTerminal(input)).toBe(expected)
  })
})

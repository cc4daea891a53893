/**
 * docs/SECURITY.md maps every checklist id to the tests that cover it. This keeps the map
 * honest both ways: every id a test names in its title has a row listing that test file,
 * and every file a row lists has a test whose title names that id.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/cli.js'

/** A checklist id: a family letter and a number (K1, H17, …). */
const ID = /^[KHREDMTLACGFXV]\d{1,2}$/
/** A test title that cites ids: `it('K2: …')`, `it('M1/M7: …')`, `it('D2 and D6: …')`, `it.fails('R14/L7: …')`, `it.each([…])('C6: …')`. */
const TITLE = /(?:\b(?:it|test|describe)(?:\.\w+)*|\]\))\(\s*['"`]((?:[KHREDMTLACGFXV]\d{1,2})(?:(?:\/| and |, )[KHREDMTLACGFXV]\d{1,2})*):/g

async function testFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await testFiles(full))
    else if (/\.(test|soak)\.ts$/.test(entry.name)) out.push(full)
  }
  return out
}

async function citedByTests (): Promise<Map<string, Set<string>>> {
  const cited = new Map<string, Set<string>>()
  for (const file of await testFiles(join(ROOT, 'test'))) {
    // This file's own comments show the title pattern; they cite nothing.
    if (file.includes(join('test', 'docs'))) continue
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(TITLE)) {
      for (const id of m[1].split(/\/| and |, /)) {
        if (!cited.has(id)) cited.set(id, new Set())
        cited.get(id)?.add(relative(ROOT, file))
      }
    }
  }
  return cited
}

async function documented (): Promise<Map<string, string[]>> {
  const doc = await readFile(join(ROOT, 'docs', 'SECURITY.md'), 'utf8')
  const rows = new Map<string, string[]>()
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((c) => c.trim())
    if (cells.length < 5 || !ID.test(cells[1])) continue
    rows.set(cells[1], [...cells[3].matchAll(/`(test\/[^`]+)`/g)].map((m) => m[1]))
  }
  return rows
}

describe('docs/SECURITY.md', () => {
  it('has a row for every id a test cites, listing that test file', async () => {
    const rows = await documented()
    const missing: string[] = []
    for (const [id, files] of await citedByTests()) {
      for (const f of files) if (!(rows.get(id) ?? []).includes(f)) missing.push(`${id} ${f}`)
    }
    expect(missing).toEqual([])
  })

  it('lists only test files that have a test citing the id', async () => {
    const cited = await citedByTests()
    const wrong: string[] = []
    for (const [id, files] of await documented()) {
      for (const f of files) if (!(cited.get(id)?.has(f) ?? false)) wrong.push(`${id} ${f}`)
    }
    expect(wrong).toEqual([])
  })
})

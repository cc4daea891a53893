// Runs around every test file (vitest setupFiles): removes the temp folders of the in-process
// nodes the file started, and gives the file's nodes (in-process and child processes, which
// inherit the environment) a state folder of their own instead of the user's. Registered
// first, so it runs after the file's own afterAll hooks have stopped those nodes. It must
// import no node module (see temp-dirs.ts).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { removeTempDirs } from './temp-dirs.js'

const stateDir = mkdtempSync(join(tmpdir(), 'sotto-state-'))
process.env.SOTTO_STATE_DIR = stateDir

afterAll(async () => {
  await removeTempDirs()
  rmSync(stateDir, { recursive: true, force: true })
})

// Runs around every test file (vitest setupFiles): removes the temp folders of the in-process
// nodes the file started. Registered first, so it runs after the file's own afterAll hooks
// have stopped those nodes. It must import no node module (see temp-dirs.ts).
import { afterAll } from 'vitest'
import { removeTempDirs } from './temp-dirs.js'

afterAll(async () => { await removeTempDirs() })

// Runs around every test file (vitest setupFiles): removes the temp folders of the in-process
// nodes the file started. Registered first, so it runs after the file's own afterAll hooks
// have stopped those nodes.
import { afterAll } from 'vitest'
import { removeTestNodeDirs } from './nodes.js'

afterAll(async () => { await removeTestNodeDirs() })

// Builds dist/ (tsc, then the web UI) only when a source is newer than the last build, so
// `npm start` on a current checkout goes straight to the node. `--force` always builds.
import { spawnSync } from 'node:child_process'
import { readdir, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = join(root, 'dist', '.build-stamp')
const sources = ['node', 'cli', 'bench', 'web-ui', 'scripts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']

async function newest (path) {
  let s
  try { s = await stat(path) } catch { return 0 }
  if (!s.isDirectory()) return s.mtimeMs
  let m = s.mtimeMs // a deleted or renamed file changes its folder's time
  for (const entry of await readdir(path)) m = Math.max(m, await newest(join(path, entry)))
  return m
}

async function built () {
  try { return (await stat(stamp)).mtimeMs } catch { return -1 }
}

const force = process.argv.includes('--force')
const sourceTime = Math.max(...await Promise.all(sources.map((s) => newest(join(root, s)))))
if (!force && await built() >= sourceTime) process.exit(0)

const run = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
run([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'])
run([join(root, 'scripts', 'build-web-ui.mjs')])
// The stamp carries the newest source time seen before the build, so an edit made during it
// still counts as newer next time.
await writeFile(stamp, '')
await utimes(stamp, sourceTime / 1000, sourceTime / 1000)

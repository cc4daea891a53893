#!/usr/bin/env node
// The `sotto` command. All logic lives in cli/ (compiled to dist/ by `npm install`/`npm run build`).
// Kept to syntax every Node.js can parse, so an old one gets one clear line, not a stack.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 24 || (major === 24 && minor < 7)) {
  process.stderr.write(`sotto: needs Node.js 24.7 or newer (ML-KEM in node:crypto); this is ${process.versions.node}. "npm start" in the sotto folder brings its own.\n`)
  process.exit(1)
}
// A node mostly waits: 1 MiB semi-spaces (V8's young generation) and its size-over-speed mode
// keep an idle node's resident memory about 30 MB lower (measured 142 -> 108 MB) with no
// measurable change in sustained messages per second. Set before anything else is loaded.
import('node:v8')
  .then((v8) => {
    v8.setFlagsFromString('--max-semi-space-size=1')
    v8.setFlagsFromString('--optimize-for-size')
  })
  .then(() => import('../dist/cli/main.js'))
  .then((cli) => cli.runMain(process.argv.slice(2)))
  .catch((err) => {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write('sotto: not built yet; run "npm install" (or "npm run build") in the sotto folder\n')
      process.exit(1)
    }
    throw err
  })

#!/usr/bin/env node
// The `sotto` command. All logic lives in cli/ (compiled to dist/ by `npm install`/`npm run build`).
import('../dist/cli/main.js')
  .then((cli) => cli.runMain(process.argv.slice(2)))
  .catch((err) => {
    if (err?.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write('sotto: not built yet; run "npm install" (or "npm run build") in the sotto folder\n')
      process.exit(1)
    }
    throw err
  })

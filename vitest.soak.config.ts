import { defineConfig } from 'vitest/config'

// Slow, bounded soak tests: `npm run test:soak`, never part of `npm test`.
export default defineConfig({
  test: { setupFiles: ['test/helpers/cleanup.ts'], include: ['test/soak/**/*.soak.ts'], testTimeout: 300_000, hookTimeout: 120_000, maxWorkers: 1 }
})

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    setupFiles: ['test/helpers/cleanup.ts'],
    include: ['test/**/*.test.ts'],
    // Real nodes, real disks, real KDFs: generous, but every test still stops itself.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files run in two workers; the network tests bound their own parallelism.
    maxWorkers: 2,
    fileParallelism: true
  }
})

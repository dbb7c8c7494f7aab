import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real processes on fixed-free ports; run files in parallel
    // workers but keep each file's tests in order. Two files at a time even on two cores
    // (vitest's default is one fewer worker than cores, so one here): most files spend
    // their time waiting on sockets, timers and child processes, not on a core.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});

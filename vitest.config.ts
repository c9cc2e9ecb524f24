import { defineConfig } from 'vitest/config';

// Real sockets and real processes: give tests room, and run files in separate forks so a crash stays contained.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});

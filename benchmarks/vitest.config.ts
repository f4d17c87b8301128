import { defineConfig } from 'vitest/config';

// Generous timeout: CI runs every package's tests at once on 2 cores; a timeout only guards against hangs.
export default defineConfig({ test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 } });

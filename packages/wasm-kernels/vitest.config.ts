import { defineConfig } from 'vitest/config';

// Every test file runs twice: against the plain SIMD build, and against the relaxed-SIMD build in a
// Node started with --experimental-wasm-relaxed-simd (Node 20 refuses the flag in NODE_OPTIONS).
// The global setup (re)builds the wasm if assembly/ changed, so a fresh clone can run `vitest run`.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000, // CI runs all packages' tests at once on 2 cores; this only guards against hangs
    projects: [
      {
        extends: true,
        test: { name: 'simd', include: ['test/**/*.test.ts'], env: { DESCENT_WASM_VARIANT: 'simd' } },
      },
      {
        extends: true,
        test: {
          name: 'relaxed',
          include: ['test/**/*.test.ts'],
          // build-independent tests run once (Chromium picks its own build)
          exclude: [
            'test/allocator.test.ts',
            'test/probe.test.ts',
            'test/threads-browser.test.ts',
            'test/backend-browser.test.ts',
          ],
          execArgv: ['--experimental-wasm-relaxed-simd'],
          env: { DESCENT_WASM_VARIANT: 'relaxed' },
        },
      },
    ],
  },
});

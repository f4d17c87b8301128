import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Sets VK_ICD_FILENAMES (lavapipe) and XDG_RUNTIME_DIR before `webgpu` loads.
    setupFiles: ['test/setup-env.ts'],
    // Software WebGPU is slow (a cold lavapipe pipeline compiles in up to ~1 s).
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

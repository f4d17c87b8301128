import { defineConfig } from 'vite';

/**
 * Cross-origin isolation (COOP + COEP) makes SharedArrayBuffer available, which the threaded wasm
 * backend needs for its worker pool; it is sent by the dev server and by `vite preview` alike.
 */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  base: './',
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  worker: { format: 'es', rolldownOptions: { checks: { bundlerTimings: false } } },
  build: {
    target: 'es2022',
    // The MNIST task's lazily loaded chunk is the `mnist` package's 10,000 digits as JSON (~20 MB).
    chunkSizeWarningLimit: 24 * 1024,
    // Rolldown's per-plugin timing report is noise in every build log (page and worker bundles).
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
});

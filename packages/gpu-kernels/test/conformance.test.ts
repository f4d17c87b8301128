/** The core conformance suite on the WebGPU backend, plus the completeness check. */
import { missingKernels, runConformance } from '@descent/core/conformance';
import { describe, expect, it } from 'vitest';
import { createWebGPUBackend } from '../src/index.js';
import { runGPU } from './gpu.js';

// Every case group (kernel ops and the composites built from them); DESCENT_ONLY=op,op narrows it.
const only = process.env.DESCENT_ONLY?.split(',');

if (runGPU) {
  runConformance('webgpu', () => createWebGPUBackend(), {
    only,
    timeout: 300_000,
  });

  describe('kernel coverage', () => {
    it('has a kernel for every op core declares (the list of missing kernels is exactly [])', async () => {
      const backend = await createWebGPUBackend();
      try {
        expect(missingKernels(backend)).toEqual([]);
      } finally {
        backend.dispose();
      }
    });
  });
} else {
  describe.skip('conformance: webgpu (no WebGPU adapter)', () => {
    it('skipped', () => {});
  });
}

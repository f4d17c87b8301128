/**
 * The core conformance suite on the WebGPU backend, plus the completeness check.
 *
 * erf, erfc and gelu run through the same per-case checks in ./erf-reference.test.ts instead of
 * `runConformance`, because core's float64 reference returns NaN for erf(±∞), erfc(±∞) and gelu(+∞)
 * (a core bug, asserted there), which the kernels here get right (±1, 0/2, +∞). Every other case of
 * those ops, forward and backward, is checked there with the suite's own tolerances.
 */
import { missingKernels, runConformance } from '@descent/core/conformance';
import { describe, expect, it } from 'vitest';
import { createWebGPUBackend, GPU_KERNELS } from '../src/index.js';
import { runGPU } from './gpu.js';

export const REFERENCE_INF_BUG_OPS = ['erf', 'erfc', 'gelu'];

const only = process.env.DESCENT_ONLY?.split(',') ?? Object.keys(GPU_KERNELS);

if (runGPU) {
  runConformance('webgpu', () => createWebGPUBackend(), {
    only: only.filter((op) => !REFERENCE_INF_BUG_OPS.includes(op)),
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

/**
 * Core's conformance suite on the WasmBackend (every op, forward and backward, against the float64
 * reference with error-bound tolerances), plus the completeness check: no op core declares lacks a
 * wasm kernel. Runs once per kernel build (vitest projects 'simd' and 'relaxed').
 */
import { missingKernels, runConformance } from '@descent/core/conformance';
import { describe, expect, it } from 'vitest';
import { createWasmBackend, WASM_KERNELS } from '../src/index.js';
import { VARIANT } from './helpers.js';

const only = process.env.DESCENT_ONLY?.split(',');

runConformance('wasm', () => createWasmBackend({ variant: VARIANT }), only ? { only } : {});

describe('kernel coverage', () => {
  it('has a wasm kernel for every op core declares (missingKernels is exactly [])', async () => {
    const backend = await createWasmBackend({ variant: VARIANT });
    try {
      expect(missingKernels(backend)).toEqual([]);
      expect([...backend.kernelNames()].sort()).toEqual(Object.keys(WASM_KERNELS).sort());
      expect(backend.km.variant).toBe(VARIANT);
    } finally {
      backend.dispose();
    }
  });
});

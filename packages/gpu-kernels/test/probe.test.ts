import { describe, expect, it } from 'vitest';
import { probeWebGPU } from '../src/index.js';

describe('probeWebGPU', () => {
  it('reports a missing entry point instead of throwing', async () => {
    const p = await probeWebGPU(undefined);
    if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
      expect(p.available).toBe(false);
      expect(p.reason).toMatch(/no WebGPU entry point/);
    }
  });

  it('reads features and limits from an adapter', async () => {
    const fake = {
      requestAdapter: async () => ({
        features: new Set(['timestamp-query', 'shader-f16']),
        limits: {
          maxStorageBufferBindingSize: 134217728,
          maxBufferSize: 2 ** 32,
          maxComputeWorkgroupStorageSize: 32768,
          maxComputeInvocationsPerWorkgroup: 256,
          maxComputeWorkgroupSizeX: 256,
          maxStorageBuffersPerShaderStage: 8,
        },
        info: { vendor: 'mesa', description: 'llvmpipe' },
        isFallbackAdapter: true,
      }),
    };
    const p = await probeWebGPU(fake);
    expect(p.available).toBe(true);
    expect(p.features).toEqual(['shader-f16', 'timestamp-query']);
    expect(p.limits.maxStorageBufferBindingSize).toBe(134217728);
    expect(p.adapter).toEqual({ vendor: 'mesa', description: 'llvmpipe', fallback: true });
  });

  it('reads adapter info exposed as prototype getters (as browsers do)', async () => {
    class Info {
      get vendor() {
        return 'google';
      }
      get architecture() {
        return 'swiftshader';
      }
    }
    const fake = {
      requestAdapter: async () => ({ features: new Set<string>(), limits: {}, info: new Info() }),
    };
    const p = await probeWebGPU(fake);
    expect(p.adapter?.vendor).toBe('google');
    expect(p.adapter?.architecture).toBe('swiftshader');
  });

  it('turns adapter failures into a reason', async () => {
    expect((await probeWebGPU({ requestAdapter: async () => null })).reason).toMatch(/returned null/);
    expect(
      (await probeWebGPU({ requestAdapter: async () => Promise.reject(new Error('boom')) })).reason,
    ).toMatch(/boom/);
  });
});

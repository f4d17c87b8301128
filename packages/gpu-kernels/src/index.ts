/**
 * @descent/gpu-kernels — WGSL kernels and the WebGPU backend for @descent/core.
 *
 *   import { registerBackend } from '@descent/core';
 *   import { createWebGPUBackend } from '@descent/gpu-kernels';
 *   registerBackend('webgpu', () => createWebGPUBackend());
 *
 * Also exported: `probeWebGPU` (a capability probe that never throws) and `acquireDevice` (device
 * acquisition, in one place: src/device.ts).
 */
export {
  createWebGPUBackend,
  type GPUTiming,
  WebGPUBackend,
  type WebGPUBackendOptions,
  WebGPUDeviceLostError,
} from './backend.js';
export {
  type AcquiredDevice,
  acquireDevice,
  type DeviceInfo,
  type DeviceOptions,
  NoWebGPUError,
} from './device.js';
export { GPU_KERNELS } from './webgpu/kernels/index.js';

/** The parts of the WebGPU API the probe reads (kept structural so the package needs no DOM types). */
interface GPULike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  readonly isFallbackAdapter?: boolean;
}

export interface WebGPUProbe {
  available: boolean;
  /** Why no adapter was found, when `available` is false. */
  reason?: string;
  adapter?: {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    fallback: boolean;
  };
  features: string[];
  limits: Record<string, number>;
}

const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * Looks for a WebGPU adapter (`navigator.gpu` in browsers; pass the `gpu` object of the `webgpu`
 * package in Node) and reports its features and the limits the kernels depend on. Never throws.
 */
export async function probeWebGPU(gpu?: GPULike): Promise<WebGPUProbe> {
  const g = gpu ?? (globalThis as { navigator?: { gpu?: GPULike } }).navigator?.gpu;
  if (!g)
    return {
      available: false,
      reason: 'no WebGPU entry point (navigator.gpu is undefined and no gpu object was given)',
      features: [],
      limits: {},
    };
  let adapter: AdapterLike | null;
  try {
    adapter = await g.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return {
      available: false,
      reason: `requestAdapter failed: ${(e as Error).message}`,
      features: [],
      limits: {},
    };
  }
  if (!adapter)
    return {
      available: false,
      reason: 'requestAdapter returned null (no usable adapter)',
      features: [],
      limits: {},
    };
  const limits: Record<string, number> = {};
  for (const k of LIMITS) limits[k] = Number(adapter.limits[k]);
  return {
    available: true,
    // Field by field: in browsers GPUAdapterInfo's fields are prototype getters, so a spread copies nothing.
    adapter: {
      vendor: adapter.info?.vendor,
      architecture: adapter.info?.architecture,
      device: adapter.info?.device,
      description: adapter.info?.description,
      fallback: adapter.isFallbackAdapter ?? false,
    },
    features: [...adapter.features].sort(),
    limits,
  };
}

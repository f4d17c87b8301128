/**
 * Device acquisition, in one place: finds a WebGPU entry point (`navigator.gpu` in browsers and
 * workers; the `webgpu` npm package — Dawn — in Node), requests an adapter, and requests a device with
 * the adapter's own limits for everything the kernels care about (so large tensors are not refused by
 * WebGPU's conservative defaults) and the optional features the kernels can use.
 */

/** Limits requested at the adapter's maximum (the kernels read the granted values back). */
export const REQUESTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
] as const;

/** Alignment limits: smaller is better, so these are requested at the adapter's (minimum) value. */
const ALIGNMENT_LIMITS = ['minUniformBufferOffsetAlignment', 'minStorageBufferOffsetAlignment'] as const;

/** Optional features requested when the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;

export interface DeviceOptions {
  /** A WebGPU entry point to use instead of `navigator.gpu` / the `webgpu` package. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Options passed to the `webgpu` package's `create()` in Node (Dawn toggles). Default `[]`. */
  dawnOptions?: string[];
  /**
   * Optional features not to request even where the adapter has them (e.g. `['timestamp-query']`
   * to run as on an adapter without it; tests use this).
   */
  withoutFeatures?: readonly string[];
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** What the adapter reported and what the device was granted: the backend's `info()` shows it. */
  info: DeviceInfo;
}

export interface DeviceInfo {
  runtime: 'node-dawn' | 'browser' | 'custom';
  adapter: {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    fallback: boolean;
  };
  /** Features enabled on the device (the optional ones the adapter had). */
  features: string[];
  /** Every feature the adapter offers. */
  adapterFeatures: string[];
  /** The granted limits the kernels depend on. */
  limits: Record<string, number>;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * Dawn's GPU instance in Node, created once and kept referenced for the life of the process: if the
 * instance object is garbage-collected while a device made from it is alive, Dawn crashes the
 * process (SIGSEGV / "futex facility returned an unexpected error code").
 */
let dawnInstance: { key: string; gpu: GPU } | null = null;

/** Loads the `webgpu` package (Dawn) in Node and installs its globals (GPUBufferUsage, GPUMapMode, …). */
async function nodeGPU(options: string[]): Promise<GPU> {
  const key = JSON.stringify(options);
  if (dawnInstance?.key === key) return dawnInstance.gpu;
  // A variable specifier keeps bundlers from pulling the Node-only package into browser builds.
  const specifier = 'webgpu';
  const mod = (await import(/* @vite-ignore */ specifier)) as {
    create(opts: string[]): GPU;
    globals: Record<string, unknown>;
  };
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create(options);
  dawnInstance = { key, gpu };
  return gpu;
}

/** Why no device could be had; thrown by `acquireDevice`. */
export class NoWebGPUError extends Error {
  override name = 'NoWebGPUError';
}

export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  let gpu = opts.gpu;
  let runtime: DeviceInfo['runtime'] = 'custom';
  if (!gpu) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav?.gpu) {
      gpu = nav.gpu;
      runtime = 'browser';
    } else if (isNode()) {
      try {
        gpu = await nodeGPU(opts.dawnOptions ?? []);
      } catch (e) {
        throw new NoWebGPUError(
          `WebGPU: could not load the 'webgpu' package (Dawn) in Node: ${(e as Error).message}`,
        );
      }
      runtime = 'node-dawn';
    } else {
      throw new NoWebGPUError('WebGPU: no entry point (navigator.gpu is undefined)');
    }
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    const hint =
      runtime === 'node-dawn'
        ? ' (in Node, Dawn needs a Vulkan driver: run scripts/setup-system.sh and point VK_ICD_FILENAMES at .cache/lavapipe/lvp_icd.json)'
        : '';
    throw new NoWebGPUError(`WebGPU: requestAdapter() returned null: no usable adapter${hint}`);
  }
  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const k of [...REQUESTED_LIMITS, ...ALIGNMENT_LIMITS]) {
    const v = adapterLimits[k];
    if (typeof v === 'number' && Number.isFinite(v)) requiredLimits[k] = v;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter(
    (f) => adapter.features.has(f) && !opts.withoutFeatures?.includes(f),
  ) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const granted = device.limits as unknown as Record<string, number>;
  const limits: Record<string, number> = {};
  for (const k of [...REQUESTED_LIMITS, ...ALIGNMENT_LIMITS]) limits[k] = Number(granted[k]);
  const ai = (adapter as { info?: GPUAdapterInfo }).info;
  return {
    device,
    adapter,
    info: {
      runtime,
      adapter: {
        vendor: ai?.vendor || undefined,
        architecture: ai?.architecture || undefined,
        device: ai?.device || undefined,
        description: ai?.description || undefined,
        fallback: (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      },
      features: [...device.features].sort(),
      adapterFeatures: [...adapter.features].sort(),
      limits,
    },
  };
}

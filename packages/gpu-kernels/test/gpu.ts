/**
 * Whether this machine has a WebGPU adapter, decided once per test file. Without one, GPU tests are
 * skipped with the reason printed — except under CI=true, where a missing adapter is an error (the
 * suite fails; CI never silently skips the GPU backend).
 */
import { acquireDevice } from '../src/index.js';

export const CI = process.env.CI === 'true';

async function detect(): Promise<{ available: boolean; reason?: string }> {
  try {
    const { device } = await acquireDevice();
    device.destroy();
    return { available: true };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

export const gpu = await detect();

if (!gpu.available) {
  if (CI) throw new Error(`CI=true but no WebGPU adapter: ${gpu.reason}`);
  console.warn(`[gpu-kernels] skipping WebGPU tests: ${gpu.reason}`);
}

/** Run GPU tests here (true), or skip them (false, only outside CI). */
export const runGPU = gpu.available || CI;

/**
 * WebGPU in Node for the cross-backend tests: points Dawn at Mesa lavapipe (`webgpuEnv`, before the
 * `webgpu` package loads — hence the dynamic import) and checks once that a device can be acquired.
 * A missing adapter fails under CI=true; elsewhere the WebGPU half is skipped with the reason printed.
 */
import { webgpuEnv } from '../src/node-impls.js';

webgpuEnv();
export const gpu = await import('@descent/gpu-kernels');

/** Whether a WebGPU device can be acquired here, and why not. */
export const webgpu = await gpu.acquireDevice().then(
  ({ device }) => {
    device.destroy();
    return { available: true, reason: '' };
  },
  (e: Error) => ({ available: false, reason: e.message }),
);

/** Throws under CI=true when there is no adapter; otherwise warns that `label` skips WebGPU. */
export function requireWebGPUInCI(label: string): void {
  if (webgpu.available) return;
  if (process.env.CI === 'true') throw new Error(`CI=true but no WebGPU adapter: ${webgpu.reason}`);
  console.warn(`[${label}] skipping WebGPU: ${webgpu.reason}`);
}

import { type Backend, registerBackend } from '@descent/core';
import { createWebGPUBackend, probeWebGPU } from '@descent/gpu-kernels';
import { createWasmBackend, hasWasmSimd } from '@descent/wasm-kernels';
import type { Availability } from './types.js';

/**
 * The compute backends the app can train on. `probe()` says whether this browser (or worker) can
 * run it; `register()` registers it with @descent/core under the entry's id.
 */
export interface BackendEntry {
  id: string;
  label: string;
  probe(): Promise<Availability>;
  register(): void;
}

const threadCount = () => Math.max(2, Math.min(8, globalThis.navigator?.hardwareConcurrency ?? 2));

const registered = new Set<string>();

/** Registers a backend factory with @descent/core the first time it is asked for. */
function once(id: string, factory: () => Backend | Promise<Backend>): void {
  if (registered.has(id)) return;
  registerBackend(id, factory);
  registered.add(id);
}

export const BACKENDS: BackendEntry[] = [
  {
    id: 'webgpu',
    label: 'WebGPU',
    async probe() {
      const p = await probeWebGPU();
      if (!p.available) return { available: false, reason: p.reason };
      return { available: true };
    },
    register: () => once('webgpu', () => createWebGPUBackend()),
  },
  {
    id: 'wasm-threads',
    label: 'wasm SIMD + threads',
    async probe() {
      if (!hasWasmSimd()) return { available: false, reason: 'this browser has no WebAssembly SIMD' };
      if (!globalThis.crossOriginIsolated)
        return { available: false, reason: 'the page is not cross-origin isolated (no SharedArrayBuffer)' };
      return { available: true };
    },
    register: () =>
      once('wasm-threads', () => createWasmBackend({ name: 'wasm-threads', threads: threadCount() })),
  },
  {
    id: 'wasm',
    label: 'wasm SIMD',
    async probe() {
      if (!hasWasmSimd()) return { available: false, reason: 'this browser has no WebAssembly SIMD' };
      return { available: true };
    },
    register: () => once('wasm', () => createWasmBackend({ name: 'wasm', threads: 1 })),
  },
  {
    id: 'js',
    label: 'js (reference)',
    probe: async () => ({ available: true }),
    register: () => {
      // registered by @descent/core itself
    },
  },
];

export function backendById(id: string): BackendEntry {
  const b = BACKENDS.find((x) => x.id === id);
  if (!b) throw new Error(`unknown backend '${id}' (known: ${BACKENDS.map((x) => x.id).join(', ')})`);
  return b;
}

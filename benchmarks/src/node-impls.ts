/** The implementations measured in Node: descent's backends and the peers, each behind `Impl`. */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as d from '@descent/core';
import type { Tf } from './graphs/tfjs.js';
import { descentImpl } from './impls/descent.js';
import { ortImpl } from './impls/ort.js';
import { tfjsImpl } from './impls/tfjs.js';
import type { Impl } from './impls/types.js';
import { memcopyImpl, wasmKernelsImpl } from './impls/wasm-kernels.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Points Dawn at the lavapipe driver that scripts/setup-system.sh extracts (same as the gpu tests). */
export function webgpuEnv(): void {
  const icd = join(repoRoot, '.cache/lavapipe/lvp_icd.json');
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `descent-xdg-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
}

type WasmBackendFactory = (opts?: { threads?: number }) => Promise<d.Backend> | d.Backend;

/** createWasmBackend from @descent/wasm-kernels, once that package exports it. */
export async function wasmBackendFactory(): Promise<WasmBackendFactory | undefined> {
  const wk = (await import('@descent/wasm-kernels')) as Record<string, unknown>;
  return wk.createWasmBackend as WasmBackendFactory | undefined;
}

export interface NodeImplOptions {
  /** Implementation ids to keep (all when undefined). */
  only?: string[];
  webgpu: boolean;
}

export async function nodeImpls(opts: NodeImplOptions): Promise<Impl[]> {
  const cores = availableParallelism();
  const impls: Impl[] = [
    descentImpl({
      id: 'descent-js',
      backendName: 'js',
      label: 'js reference (f32)',
      threads: 1,
      nominal: { gflops: 0.4, gbps: 0.3 },
    }),
    wasmKernelsImpl(),
  ];
  const createWasm = await wasmBackendFactory();
  if (createWasm) {
    for (const threads of [...new Set([1, cores])]) {
      const name = `bench-wasm-${threads}t`;
      impls.push(
        descentImpl({
          id: `descent-wasm-${threads}t`,
          backendName: name,
          label: `wasm backend, ${threads} thread${threads > 1 ? 's' : ''}`,
          threads,
          nominal: { gflops: 25 * threads, gbps: 4 },
          register: async () => d.registerBackend(name, () => createWasm({ threads }), { replace: true }),
        }),
      );
    }
  }
  if (opts.webgpu) {
    webgpuEnv();
    let backend: { device: GPUDevice } | undefined;
    impls.push(
      descentImpl({
        id: 'descent-webgpu-node',
        backendName: 'bench-webgpu',
        label: 'webgpu (Node, Dawn on lavapipe)',
        nominal: { gflops: 1.5, gbps: 1 },
        reportsCold: true,
        register: async () => {
          const { createWebGPUBackend } = await import('@descent/gpu-kernels');
          d.registerBackend('bench-webgpu', async () => {
            const b = await createWebGPUBackend();
            backend = b as unknown as { device: GPUDevice };
            return b;
          });
        },
        sync: async () => {
          await d.getBackend('bench-webgpu').flush?.();
          await backend?.device.queue.onSubmittedWorkDone();
        },
      }),
    );
  }
  // scripts/bundle.mjs builds this single ESM copy of tfjs (with its gradients) at build time.
  const loadTf = async () => {
    const tf = (await import(new URL('./vendor/tfjs-node.mjs', import.meta.url).href)) as Tf & {
      setWasmPaths(prefix: string): void;
    };
    tf.setWasmPaths(
      `${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`,
    );
    return tf;
  };
  impls.push(
    tfjsImpl({
      id: 'tfjs-cpu',
      backendName: 'cpu',
      label: 'tfjs-backend-cpu',
      threads: 1,
      nominal: { gflops: 1, gbps: 0.5 },
      load: loadTf,
    }),
    tfjsImpl({
      id: 'tfjs-wasm-1t',
      backendName: 'wasm',
      label: 'tfjs-backend-wasm (XNNPACK), 1 thread — Node has no multithread support in tfjs-wasm',
      threads: 1,
      nominal: { gflops: 15, gbps: 3 },
      load: loadTf,
      info: (tf) => ({
        multithread: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
        simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
      }),
    }),
  );
  const loadOrt = async () => await import('onnxruntime-web');
  for (const threads of [...new Set([1, cores])]) impls.push(ortImpl({ threads, load: loadOrt }));
  impls.push(memcopyImpl());
  return opts.only ? impls.filter((i) => opts.only!.some((o) => i.id.startsWith(o))) : impls;
}

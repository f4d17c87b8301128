/** The implementations measured in Node: descent's backends and the peers, each behind `Impl`. */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as d from '@descent/core';
import type { Tf } from './graphs/tfjs.js';
import { descentImpl, webgpuTimer } from './impls/descent.js';
import { ortImpl } from './impls/ort.js';
import { tfjsImpl } from './impls/tfjs.js';
import type { Impl } from './impls/types.js';
import { memcopyImpl, wasmKernelsImpl } from './impls/wasm-kernels.js';
import type { GPUTimer } from './timing.js';

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

type WasmBackendFactory = (opts?: { threads?: number; name?: string }) => Promise<d.Backend> | d.Backend;

/** createWasmBackend from @descent/wasm-kernels, once that package exports it. */
export async function wasmBackendFactory(): Promise<WasmBackendFactory | undefined> {
  const wk = (await import('@descent/wasm-kernels')) as Record<string, unknown>;
  return wk.createWasmBackend as WasmBackendFactory | undefined;
}

/** TensorFlow.js for Node: the single ESM bundle scripts/bundle.mjs builds (core + gradients + backends). */
let tfPromise: Promise<Tf> | undefined;
export function loadNodeTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    const tf = (await import(new URL('./vendor/tfjs-node.mjs', import.meta.url).href)) as Tf & {
      setWasmPaths(prefix: string): void;
    };
    const wasmPkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    tf.setWasmPaths(`${dirname(wasmPkg)}/dist/`);
    return tf;
  })();
  return tfPromise;
}

export interface DescentBackendSpec {
  id: string;
  backendName: string;
  label: string;
  threads?: number;
  nominal: { gflops: number; gbps: number };
  sync?: () => Promise<void>;
  reportsCold?: boolean;
  gpuTimer?: GPUTimer;
}

/**
 * descent's backends in Node, registered with core: 'js', 'wasm' with 1 thread and with every core
 * (when createWasmBackend exists and honours `threads`), and 'webgpu' (Dawn on lavapipe).
 */
export async function nodeDescentBackends(o: { webgpu: boolean }): Promise<DescentBackendSpec[]> {
  const specs: DescentBackendSpec[] = [
    {
      id: 'descent-js',
      backendName: 'js',
      label: 'js reference (f32)',
      threads: 1,
      nominal: { gflops: 0.4, gbps: 0.3 },
    },
  ];
  const createWasm = await wasmBackendFactory();
  if (createWasm) {
    const cores = availableParallelism();
    for (const threads of [...new Set([1, cores])]) {
      const name = `bench-wasm-${threads}t`;
      if (!registered.has(name)) {
        // The backend's own name must match its registered name (tensors record where they live).
        d.registerBackend(name, () => createWasm({ threads, name }), { replace: true });
        registered.add(name);
      }
      let got: number;
      try {
        const b = await d.initBackend(name);
        got = Number((b.info?.() as { threads?: unknown } | undefined)?.threads ?? 1);
      } catch (e) {
        unavailable[`descent-wasm-${threads}t`] =
          `createWasmBackend({ threads: ${threads} }) failed: ${(e as Error).message.split('\n')[0]}`;
        d.removeBackend(name);
        registered.delete(name);
        continue;
      }
      if (threads > 1 && got !== threads) {
        unavailable[`descent-wasm-${threads}t`] =
          `createWasmBackend({ threads: ${threads} }) reported ${got} thread(s)`;
        d.removeBackend(name);
        registered.delete(name);
        continue;
      }
      specs.push({
        id: `descent-wasm-${threads}t`,
        backendName: name,
        label: `wasm backend, ${threads} thread${threads > 1 ? 's' : ''}`,
        threads,
        nominal: { gflops: 25 * threads, gbps: 4 },
      });
    }
  }
  if (o.webgpu) {
    webgpuEnv();
    const name = 'webgpu'; // WebGPUBackend names itself 'webgpu'
    if (!registered.has(name)) {
      const { createWebGPUBackend } = await import('@descent/gpu-kernels');
      d.registerBackend(name, () => createWebGPUBackend(), { replace: true });
      registered.add(name);
    }
    let b: d.Backend & { device: GPUDevice };
    try {
      b = (await d.initBackend(name)) as d.Backend & { device: GPUDevice };
    } catch (e) {
      unavailable['descent-webgpu-node'] = `no WebGPU adapter: ${(e as Error).message.split('\n')[0]}`;
      return specs;
    }
    specs.push({
      id: 'descent-webgpu-node',
      backendName: name,
      label: 'webgpu (Node, Dawn on lavapipe)',
      nominal: { gflops: 1.5, gbps: 1 },
      reportsCold: true,
      sync: async () => {
        await b.flush?.();
        await b.device.queue.onSubmittedWorkDone();
      },
      gpuTimer: webgpuTimer(b),
    });
  }
  return specs;
}
const registered = new Set<string>();
/** descent backends that could not be started here, with the reason (reported, never silently dropped). */
export const unavailable: Record<string, string> = {};

export interface NodeImplOptions {
  /** Implementation ids to keep (all when undefined). */
  only?: string[];
  webgpu: boolean;
}

export async function nodeImpls(opts: NodeImplOptions): Promise<Impl[]> {
  const cores = availableParallelism();
  const impls: Impl[] = [];
  for (const s of await nodeDescentBackends({ webgpu: opts.webgpu })) {
    impls.push(descentImpl(s));
    if (s.id === 'descent-js') impls.push(wasmKernelsImpl());
  }
  impls.push(
    tfjsImpl({
      id: 'tfjs-cpu',
      backendName: 'cpu',
      label: 'tfjs-backend-cpu',
      threads: 1,
      nominal: { gflops: 1, gbps: 0.5 },
      load: loadNodeTf,
    }),
    tfjsImpl({
      id: 'tfjs-wasm-1t',
      backendName: 'wasm',
      label: 'tfjs-backend-wasm (XNNPACK), 1 thread: in Node tfjs-wasm has no multithread support',
      threads: 1,
      nominal: { gflops: 15, gbps: 3 },
      load: loadNodeTf,
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

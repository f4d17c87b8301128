/**
 * The in-browser benchmark (bundled by scripts/bundle.mjs into dist/browser/bench.js and served to
 * headless Chromium): descent's WebGPU and wasm backends next to tfjs-backend-webgpu (same adapter)
 * and tfjs-backend-wasm, on the kernel cases, with the same harness as in Node.
 */
import '@tensorflow/tfjs-core/dist/flags.js';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-backend-webgpu';
import * as d from '@descent/core';
import { createWebGPUBackend } from '@descent/gpu-kernels';
import * as wk from '@descent/wasm-kernels';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { type BenchCase, kernelCases } from '../cases.js';
import { descentImpl, webgpuTimer } from '../impls/descent.js';
import { tfjsImpl } from '../impls/tfjs.js';
import type { Impl } from '../impls/types.js';
import { wasmKernelsImpl } from '../impls/wasm-kernels.js';
import type { ImplInfo } from '../results.js';
import { type KernelResult, runKernelCases } from '../run.js';

export interface BrowserConfig {
  quick: boolean;
  caseIds: string[];
  only?: string[];
  tfjsWasmPath: string;
  descentWorkerUrl: string;
}

export interface BrowserOutput {
  impls: ImplInfo[];
  kernels: KernelResult[];
  adapter?: Record<string, unknown>;
  unavailable: Record<string, string>;
}

type GpuBackend = d.Backend & { device: GPUDevice };

/** Progress lines for the Node side (it listens to the console). */
function report(msg: string): void {
  console.log(`BENCH-PROGRESS ${msg}`);
}

async function impls(cfg: BrowserConfig, unavailable: Record<string, string>): Promise<Impl[]> {
  const list: Impl[] = [];
  const prefix = (i: Impl): Impl => ({ ...i, id: `chromium-${i.id}` });
  // descent WebGPU (SwiftShader here)
  try {
    d.registerBackend('webgpu', () => createWebGPUBackend(), { replace: true });
    const b = (await d.initBackend('webgpu')) as GpuBackend;
    list.push({
      ...descentImpl({
        id: 'chromium-descent-webgpu',
        backendName: 'webgpu',
        label: 'descent webgpu (Chromium)',
        nominal: { gflops: 0.3, gbps: 0.3 },
        reportsCold: true,
        sync: async () => {
          await b.flush?.();
          await b.device.queue.onSubmittedWorkDone();
        },
        gpuTimer: webgpuTimer(b),
      }),
    });
  } catch (e) {
    unavailable['chromium-descent-webgpu'] = (e as Error).message;
  }
  // descent wasm: the kernels directly, and the backend with 1 thread and every core
  list.push(prefix(wasmKernelsImpl()));
  const cores = navigator.hardwareConcurrency || 1;
  for (const threads of [...new Set([1, cores])]) {
    const name = `wasm-${threads}t`;
    try {
      d.registerBackend(
        name,
        () => wk.createWasmBackend({ name, threads, workerUrl: cfg.descentWorkerUrl }),
        { replace: true },
      );
      const b = await d.initBackend(name);
      const got = Number((b.info?.() as { threads?: number } | undefined)?.threads ?? 1);
      if (got !== threads)
        throw new Error(
          `asked for ${threads} threads, got ${got} (crossOriginIsolated: ${crossOriginIsolated})`,
        );
      list.push(
        descentImpl({
          id: `chromium-descent-wasm-${threads}t`,
          backendName: name,
          label: `descent wasm backend, ${threads} thread${threads > 1 ? 's' : ''} (Chromium)`,
          threads,
          nominal: { gflops: 25 * threads, gbps: 4 },
        }),
      );
    } catch (e) {
      unavailable[`chromium-descent-wasm-${threads}t`] = (e as Error).message;
    }
  }
  // tfjs on the same adapter, and tfjs-wasm (threads where the page is cross-origin isolated)
  const load = async () => tf;
  list.push(
    tfjsImpl({
      id: 'chromium-tfjs-webgpu',
      backendName: 'webgpu',
      label: 'tfjs-backend-webgpu (Chromium, same adapter)',
      nominal: { gflops: 0.3, gbps: 0.3 },
      reportsCold: true,
      load,
      sync: async (t) => {
        // tfjs-webgpu records into one encoder and submits lazily: end the open compute pass and
        // submit (what its own readback does first), then wait for the queue, as descent's sync does.
        const be = t.backend() as unknown as {
          device: GPUDevice;
          ensureCommandEncoderReady(): void;
          endComputePassEncoder(): void;
          submitQueue(): void;
        };
        be.ensureCommandEncoderReady();
        be.endComputePassEncoder();
        be.submitQueue();
        await be.device.queue.onSubmittedWorkDone();
      },
    }),
  );
  setWasmPaths(cfg.tfjsWasmPath);
  setThreadsCount(cores);
  list.push(
    tfjsImpl({
      id: 'chromium-tfjs-wasm',
      backendName: 'wasm',
      label: 'tfjs-backend-wasm (Chromium)',
      nominal: { gflops: 15, gbps: 3 },
      load,
      info: (t) => ({
        threads: getThreadsCount(),
        multithread: t.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
        crossOriginIsolated,
      }),
    }),
  );
  return cfg.only
    ? list.filter((i) => cfg.only!.some((o) => i.id.startsWith(o) || i.id.startsWith(`chromium-${o}`)))
    : list;
}

function implInfo(i: Impl): ImplInfo {
  let info: Record<string, unknown> = {};
  try {
    info = i.info();
  } catch {
    // best-effort
  }
  const version = navigator.userAgent.match(/Chrom(e|ium)\/([\d.]+)/)?.[2] ?? '';
  return {
    id: i.id,
    library: i.library,
    backend: i.backend,
    threads: i.threads,
    roofline: i.roofline,
    reportsCold: i.reportsCold,
    info,
    env: `chromium ${version}`,
  };
}

async function run(cfg: BrowserConfig): Promise<BrowserOutput> {
  const unavailable: Record<string, string> = {};
  const all = await impls(cfg, unavailable);
  const live: Impl[] = [];
  for (const i of all) {
    try {
      await i.init();
      live.push(i);
    } catch (e) {
      unavailable[i.id] = (e as Error).message;
    }
  }
  // Composite cases need the float64 reference on 'js64' (minutes in a page): the browser run covers ops.
  // --quick keeps one case per kind (SwiftShader compiles each WebGPU pipeline for seconds).
  const quickIds = ['matmul-64x', 'matmul-128x', 'conv2d-', 'silu-', 'softmax-', 'adamw-250000'];
  const cases: BenchCase[] = kernelCases(cfg.quick).filter(
    (c) =>
      cfg.caseIds.includes(c.id) &&
      c.spec.kind !== 'ffn' &&
      c.spec.kind !== 'resblock' &&
      (!cfg.quick || quickIds.some((q) => c.id.startsWith(q))),
  );
  report(`total ${cases.length * live.length}`);
  report(`impls ${JSON.stringify(live.map((i) => implInfo(i)))}`);
  const kernels = await runKernelCases(cases, live, {
    quick: cfg.quick,
    maxCallSeconds: cfg.quick ? 0.5 : 3,
    reps: cfg.quick ? 5 : 7,
    warmup: 1,
    progress: {
      status: (s: string) => report(`status ${s}`),
      tick: (s: string) => report(`tick ${s}`),
      log: (s: string) => report(`log ${s}`),
    } as never,
    onResult: (r) => report(`result ${JSON.stringify(r)}`),
  });
  let adapter: Record<string, unknown> | undefined;
  try {
    adapter = d.getBackend('webgpu').info?.();
  } catch {
    adapter = undefined;
  }
  return {
    impls: live.map(implInfo),
    kernels,
    adapter,
    unavailable,
  };
}

(globalThis as { runBench?: typeof run }).runBench = run;

/**
 * descent through its public API (@descent/core ops on a named backend): 'js', 'wasm' (when
 * @descent/wasm-kernels exports createWasmBackend) and 'webgpu' (@descent/gpu-kernels, Dawn in Node).
 */

import type { Tensor } from '@descent/core';
import * as d from '@descent/core';
import type { BenchCase, Outputs } from '../cases.js';
import { compute, inputShapes, upload } from '../graphs/descent.js';
import type { GPUTimer } from '../timing.js';
import type { Impl, Prepared } from './types.js';

type AdamWCtor = new (
  params: Tensor[],
  opts: { lr: number; betas: [number, number]; eps: number; weightDecay: number },
) => { step(): void; state?: unknown; stateOf?: unknown };

export interface DescentImplOptions {
  id: string;
  /** A backend name already registered with core. */
  backendName: string;
  label: string;
  threads?: number;
  nominal: { gflops: number; gbps: number };
  /** Waits for queued device work (WebGPU); absent on synchronous backends. */
  sync?: () => Promise<void>;
  reportsCold?: boolean;
  /** GPU time from timestamp queries (the WebGPU backend: `webgpuTimer`). */
  gpuTimer?: GPUTimer;
}

/** What `webgpuTimer` needs of a backend: @descent/gpu-kernels' `canTimeGPU` and `timeGPU`. */
interface TimeableBackend {
  canTimeGPU?: boolean;
  timeGPU?(fn: () => Promise<void>): Promise<{ gpuMs: number }>;
}

/**
 * The GPU timer of a descent WebGPU backend: `timeGPU` (timestamp writes on every compute pass it
 * submits, summed), or — where the device has no `timestamp-query` — the reason, so the report says
 * so instead of showing a number.
 */
export function webgpuTimer(backend: object): GPUTimer {
  const b = backend as TimeableBackend;
  const timeGPU = b.timeGPU?.bind(b);
  if (!timeGPU || !b.canTimeGPU)
    return {
      unavailable: timeGPU ? 'no timestamp-query on this adapter' : 'this backend has no timeGPU',
      time: () => Promise.reject(new Error('no GPU timer')),
    };
  return { time: async (fn) => (await timeGPU(fn)).gpuMs };
}

/** The AdamW class of @descent/optim, when that package has one. */
async function findAdamW(): Promise<AdamWCtor | undefined> {
  try {
    const optim = (await import('@descent/optim')) as Record<string, unknown>;
    return optim.AdamW as AdamWCtor | undefined;
  } catch {
    return undefined;
  }
}

export function descentImpl(o: DescentImplOptions): Impl {
  let adamw: AdamWCtor | undefined;
  return {
    id: o.id,
    library: 'descent',
    backend: o.label,
    threads: o.threads,
    nominal: o.nominal,
    reportsCold: o.reportsCold,
    gpuTimer: o.gpuTimer,
    async init() {
      await d.initBackend(o.backendName);
      adamw = await findAdamW();
    },
    supports(c) {
      if (c.spec.kind === 'adamw' && !adamw) return '@descent/optim has no AdamW yet';
      return true;
    },
    async prepare(c, inputs) {
      await d.setBackend(o.backendName);
      const t = upload(inputs, inputShapes(c), o.backendName);
      return c.spec.kind === 'adamw' ? prepareAdamW(c, t, adamw!, o) : prepareOp(c, t, o);
    },
    info() {
      try {
        return { backend: o.backendName, ...(d.getBackend(o.backendName).info?.() ?? {}) };
      } catch {
        return { backend: o.backendName };
      }
    },
    async dispose() {},
  };
}

function prepareOp(c: BenchCase, t: Record<string, Tensor>, o: DescentImplOptions): Prepared {
  let last: Record<string, Tensor> | undefined;
  return {
    async run() {
      if (last) d.dispose(last);
      last = d.tidy(() => {
        const outs = compute(c, t);
        for (const v of Object.values(outs)) d.keep(v);
        return outs;
      });
      await o.sync?.();
    },
    async outputs() {
      const res: Outputs = {};
      for (const [k, v] of Object.entries(last ?? {})) res[k] = Float32Array.from(await v.data());
      return res;
    },
    dispose() {
      d.dispose(last, t);
    },
  };
}

function prepareAdamW(
  c: BenchCase,
  t: Record<string, Tensor>,
  AdamW: AdamWCtor,
  o: DescentImplOptions,
): Prepared {
  if (c.spec.kind !== 'adamw') throw new Error('not an adamw case');
  const h = c.spec;
  // p is a leaf parameter; g is set as its gradient before each step (the step itself is timed).
  const p = t.p.requireGrad();
  p.grad = t.g;
  const opt = new AdamW([p], { lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.weightDecay });
  return {
    async run() {
      opt.step();
      p.grad = t.g; // an optimizer may not consume the gradient, but keep it set for every step
      await o.sync?.();
    },
    // The harness reads outputs right after the first (cold) step, which is the step the check expects.
    outputs: () => readState(p, opt),
    dispose() {
      p.grad = null;
      d.dispose(t);
    },
  };
}

/** p, m, v after the first step, from the optimizer's state dict (buffers named expAvg/expAvgSq, m/v, …). */
async function readState(p: Tensor, opt: unknown): Promise<Outputs> {
  const out: Outputs = { p: Float32Array.from(await p.data()) };
  const dict = (
    opt as { stateDict?: () => { state: Record<number, { buffers: Record<string, Tensor> }> } }
  ).stateDict?.();
  const buffers = dict?.state[0]?.buffers ?? {};
  const names = Object.keys(buffers);
  const m = names.find((k) => /^(m|exp_?avg|first|moment1)$/i.test(k));
  const v = names.find((k) => /^(v|exp_?avg_?sq|second|moment2)$/i.test(k));
  if (m) out.m = Float32Array.from(await buffers[m].data());
  if (v) out.v = Float32Array.from(await buffers[v].data());
  d.dispose(buffers);
  return out;
}

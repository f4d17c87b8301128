/// <reference lib="webworker" />
/**
 * The benchmark worker: times a small set of kernels on one backend at a time and posts each
 * result as it is measured. Timing: a warm-up call, then batches of calls ended by reading the
 * last result back (so asynchronous backends finish their queued work inside the timed region);
 * the reported time is the median over batches of the per-call time.
 */
import {
  add,
  crossEntropy,
  exp,
  getBackend,
  initBackend,
  matmul,
  randn,
  relu,
  setBackend,
  softmax,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { MLP, twoSpirals } from '@descent/models';
import { SGD } from '@descent/optim';
import { backendById } from '../registry/backends.js';

export interface BenchCase {
  id: string;
  label: string;
  /** Floating-point operations per call (for GFLOP/s), or 0. */
  flops: number;
  /** Bytes read + written per call (for GB/s), or 0. */
  bytes: number;
  /** Makes the inputs and returns the timed call (which returns a tensor to read back). */
  setup(): { call: () => Tensor; inputs: Tensor[] };
}

export type BenchRequest = { type: 'run'; backends: string[]; size: 'quick' | 'full' };
export type BenchEvent =
  | { type: 'backend'; backend: string; info: Record<string, unknown>; error?: string }
  | {
      type: 'result';
      backend: string;
      case: string;
      label: string;
      ms: number;
      gflops: number | null;
      gbps: number | null;
    }
  | { type: 'done' };

const matmulCase = (n: number): BenchCase => ({
  id: `matmul-${n}`,
  label: `matmul ${n}×${n}×${n}`,
  flops: 2 * n ** 3,
  bytes: 3 * 4 * n * n,
  setup() {
    const a = randn([n, n], { seed: 1 });
    const b = randn([n, n], { seed: 2 });
    return { call: () => matmul(a, b), inputs: [a, b] };
  },
});

const elementwise = (
  name: string,
  n: number,
  f: (x: Tensor, y: Tensor) => Tensor,
  reads: number,
): BenchCase => ({
  id: `${name}-${n}`,
  label: `${name} ${n >= 1 << 20 ? `${n >> 20}M` : `${n >> 10}K`}`,
  flops: 0,
  bytes: 4 * n * (reads + 1),
  setup() {
    const x = randn([n], { seed: 3 });
    const y = randn([n], { seed: 4 });
    return { call: () => f(x, y), inputs: [x, y] };
  },
});

const softmaxCase = (rows: number, cols: number): BenchCase => ({
  id: `softmax-${rows}x${cols}`,
  label: `softmax ${rows}×${cols}`,
  flops: 0,
  bytes: 2 * 4 * rows * cols,
  setup() {
    const x = randn([rows, cols], { seed: 5 });
    return { call: () => softmax(x, -1), inputs: [x] };
  },
});

/** One full training step (forward, backward, SGD update) of a 2-64-64-2 MLP on 400 spiral points. */
const trainStepCase: BenchCase = {
  id: 'mlp-step',
  label: 'MLP train step (2-64-64-2, batch 400)',
  flops: 0,
  bytes: 0,
  setup() {
    const d = twoSpirals(400, { seed: 1 });
    const x = tensor(d.x, [d.n, 2]);
    const y = tensor(d.y, [d.n]);
    const model = new MLP([2, 64, 64, 2], { seed: 1 });
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    return {
      call: () => {
        opt.zeroGrad();
        const loss = crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss;
      },
      inputs: [x, y, ...model.parameters()],
    };
  },
};

function cases(size: 'quick' | 'full'): BenchCase[] {
  const mm = size === 'quick' ? [64, 128] : [64, 128, 256, 512];
  const n = size === 'quick' ? 1 << 16 : 1 << 20;
  return [
    ...mm.map(matmulCase),
    elementwise('add', n, (a, b) => add(a, b), 2),
    elementwise('exp', n, (a) => exp(a), 1),
    elementwise('relu', n, (a) => relu(a), 1),
    softmaxCase(size === 'quick' ? 128 : 1024, 1000),
    trainStepCase,
  ];
}

const post = (e: BenchEvent) => self.postMessage(e);

async function time(c: BenchCase, budgetMs: number): Promise<number> {
  const { call, inputs } = c.setup();
  try {
    const once = async (reps: number) => {
      const t0 = performance.now();
      let last: Tensor | null = null;
      for (let i = 0; i < reps; i++) {
        last?.dispose();
        last = tidy(call);
      }
      await last!.data();
      last!.dispose();
      return (performance.now() - t0) / reps;
    };
    const first = await once(1); // warm-up (pipeline compilation, allocation)
    const reps = Math.max(1, Math.min(50, Math.floor(budgetMs / 5 / Math.max(first, 0.01))));
    const samples: number[] = [];
    for (let b = 0; b < 5; b++) samples.push(await once(reps));
    samples.sort((a, b) => a - b);
    return samples[2];
  } finally {
    for (const t of inputs) t.dispose();
  }
}

self.onmessage = async (ev: MessageEvent<BenchRequest>) => {
  const { backends, size } = ev.data;
  for (const id of backends) {
    try {
      const entry = backendById(id);
      const a = await entry.probe();
      if (!a.available) throw new Error(a.reason);
      entry.register();
      await initBackend(id);
      await setBackend(id);
      post({ type: 'backend', backend: id, info: getBackend(id).info?.() ?? {} });
    } catch (e) {
      post({ type: 'backend', backend: id, info: {}, error: (e as Error).message });
      continue;
    }
    for (const c of cases(size)) {
      const ms = await time(c, size === 'quick' ? 150 : 600);
      post({
        type: 'result',
        backend: id,
        case: c.id,
        label: c.label,
        ms,
        gflops: c.flops ? c.flops / (ms * 1e6) : null,
        gbps: c.bytes ? c.bytes / (ms * 1e6) : null,
      });
    }
  }
  post({ type: 'done' });
};

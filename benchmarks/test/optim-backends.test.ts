/**
 * The classic optimizers of @descent/optim on every kernel backend (wasm, WebGPU): 20 steps with the
 * fused kernels against the same optimizer on js64 (which packages/optim/test/classic.test.ts holds
 * to a plain float64 implementation of each documented algorithm to 1e-12), and multi-tensor apply
 * (flat buffers) against per-tensor updates on the same backend. This lives with the benchmarks
 * because it is the one package that may depend on every other (optim may import only core).
 */
import { engine, noGrad, normalValues, type Tensor, tensor } from '@descent/core';
import {
  Adadelta,
  Adagrad,
  Adam,
  Adamax,
  AdamW,
  NAdam,
  type Optimizer,
  RAdam,
  RMSprop,
  SGD,
  SignSGD,
} from '@descent/optim';
import { createWasmBackend } from '@descent/wasm-kernels';
import { beforeAll, describe, expect, it } from 'vitest';

import { gpu, requireWebGPUInCI, webgpu } from './node-webgpu.js';

requireWebGPUInCI('optim-backends');

const BACKENDS = ['wasm', ...(webgpu.available ? ['webgpu'] : [])];
const SHAPES = [[3, 7], [5], [], [70]];
const STEPS = 20;

type Make = (ps: Tensor[], extra: Record<string, unknown>) => Optimizer<{ lr: number }>;
const MAKERS: [string, Make][] = [
  [
    'SGD momentum dampening wd',
    (ps, x) => new SGD(ps, { lr: 0.02, momentum: 0.8, dampening: 0.1, weightDecay: 0.05, ...x }),
  ],
  ['SGD nesterov', (ps, x) => new SGD(ps, { lr: 0.03, momentum: 0.9, nesterov: true, ...x })],
  ['SignSGD (Signum)', (ps, x) => new SignSGD(ps, { lr: 0.01, momentum: 0.9, weightDecay: 0.1, ...x })],
  ['Adagrad', (ps, x) => new Adagrad(ps, { lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, ...x })],
  [
    'RMSprop centered momentum',
    (ps, x) =>
      new RMSprop(ps, { lr: 0.005, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.01, ...x }),
  ],
  ['Adadelta', (ps, x) => new Adadelta(ps, { lr: 0.5, rho: 0.8, weightDecay: 0.01, ...x })],
  [
    'Adam amsgrad maximize',
    (ps, x) => new Adam(ps, { lr: 0.01, amsgrad: true, maximize: true, weightDecay: 0.01, ...x }),
  ],
  ['AdamW', (ps, x) => new AdamW(ps, { lr: 0.01, betas: [0.9, 0.95], weightDecay: 0.1, ...x })],
  ['Adamax', (ps, x) => new Adamax(ps, { lr: 0.02, weightDecay: 0.01, ...x })],
  ['NAdam', (ps, x) => new NAdam(ps, { lr: 0.01, weightDecay: 0.01, ...x })],
  ['RAdam (both regimes)', (ps, x) => new RAdam(ps, { lr: 0.01, betas: [0.9, 0.9], ...x })],
];

/** Runs an optimizer STEPS steps on `backend`; gradients are host functions of the current values. */
async function run(make: Make, backend: string, extra: Record<string, unknown>): Promise<number[][]> {
  const params = SHAPES.map((s, k) =>
    tensor(
      normalValues(
        s.reduce((a, b) => a * b, 1),
        0,
        1,
        60 + k,
        0,
      ),
      s,
      { backend },
    ).requireGrad(),
  );
  const opt = make(params, extra);
  for (let t = 1; t <= STEPS; t++) {
    for (const [k, p] of params.entries()) {
      const x = await p.data();
      const noise = normalValues(p.size, 0, 0.5, 70 + k, t);
      noGrad(() => {
        p.grad?.dispose();
        p.grad = tensor(
          Float32Array.from(x, (v, i) => 1.5 * v + noise[i]),
          p.shape,
          { backend },
        );
      });
    }
    opt.step();
  }
  opt.zeroGrad();
  const out = await Promise.all(params.map(async (p) => Array.from(await p.data())));
  opt.dispose();
  noGrad(() => {
    for (const p of params) p.dispose();
  });
  return out;
}

/*
 * f32 backends vs the float64 run: each step rounds every stored value (≤ ~8 roundings per element,
 * u = 2⁻²⁴ each; WGSL's division and sqrt may add 2.5 ulp) and the parameter's errors add up over the
 * steps, while state errors decay (every state is an average or a bounded sum):
 * tol = STEPS · 16 · u · (1 + |x|).
 */
const TOL = STEPS * 16 * 2 ** -24;

describe('classic optimizers on the kernel backends', () => {
  beforeAll(async () => {
    engine.registerBackend('wasm', () => createWasmBackend(), { replace: true });
    await engine.initBackend('wasm');
    if (BACKENDS.includes('webgpu')) {
      engine.registerBackend('webgpu', () => gpu.createWebGPUBackend(), { replace: true });
      await engine.initBackend('webgpu');
    }
  }, 120_000);

  for (const [name, make] of MAKERS) {
    it(`${name}: ${BACKENDS.join(' and ')} follow js64 over ${STEPS} steps; flat buffers equal per-tensor bit for bit`, async () => {
      const want = await run(make, 'js64', { fused: true });
      for (const backend of BACKENDS) {
        const before = engine.memory(backend).tensors;
        const got = await run(make, backend, { fused: true });
        for (const [k, g] of got.entries())
          for (const [i, v] of g.entries()) {
            const w = want[k][i];
            if (!(Math.abs(v - w) <= TOL * (1 + Math.abs(w))))
              throw new Error(
                `${name} on ${backend}: param ${k}[${i}] = ${v}, js64 ${w} (tol ${TOL * (1 + Math.abs(w))})`,
              );
          }
        const flat = await run(make, backend, { fused: true, flat: true });
        expect(flat).toEqual(got);
        expect(engine.memory(backend).tensors).toBe(before);
      }
    }, 300_000);
  }
});

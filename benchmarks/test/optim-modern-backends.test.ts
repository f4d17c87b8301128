/**
 * The modern optimizers of @descent/optim (Lion, Adafactor, Sophia, Shampoo, Muon + AdamW, SAM) on
 * every kernel backend (wasm, WebGPU): 20 steps against the same optimizer on js64, which
 * packages/optim/test holds to plain float64 implementations of each algorithm. Lives with the
 * benchmarks, the one package that may depend on every other (optim may import only core).
 */
import { engine, full, noGrad, normalValues, type Tensor, tensor } from '@descent/core';
import {
  Adafactor,
  adaptiveGradClip,
  clipGradNorm,
  clipGradValue,
  Lion,
  Muon,
  SAM,
  SGD,
  Shampoo,
  Sophia,
} from '@descent/optim';
import { createWasmBackend } from '@descent/wasm-kernels';
import { beforeAll, describe, expect, it } from 'vitest';

import { gpu, requireWebGPUInCI, webgpu } from './node-webgpu.js';

requireWebGPUInCI('optim-modern-backends');

const BACKENDS = ['wasm', ...(webgpu.available ? ['webgpu'] : [])];
const SHAPES = [[3, 7], [5], [], [2, 3, 4]];
const STEPS = 20;
const U = 2 ** -24;

type Opt = Lion | Adafactor | Sophia | Shampoo | Muon | SAM;

/**
 * Each case: the optimizer, and the rounding depth D of one update — the longest chain of
 * dependent f32 roundings from (p, g, state) to the new p, counting a length-k reduction or dot
 * product as k. The f32 run follows the float64 one to first order within STEPS·D·u·(1 + |x|)
 * (each step's rounding enters the parameter once; states are averages or sums of bounded terms);
 * the test allows 4× that. Elementwise updates have D ≈ 16 (as the classic optimizers' test);
 * a norm over all 40 elements adds 2·40; Newton–Schulz adds nsSteps·(3·7 + 4) (three matmuls of
 * inner length ≤ 7 and the polynomial per step); Shampoo adds its roots' chain,
 * rootIterations·(⌈log₂p⌉ + 2)·7 (p ≤ 6, dims ≤ 7), plus the graft's norms.
 */
const CASES: [string, (ps: Tensor[]) => Opt, number][] = [
  ['Lion', (ps) => new Lion(ps, { lr: 0.01, betas: [0.8, 0.95], weightDecay: 0.1 }), 16],
  [
    'Adafactor (β1, weight decay)',
    (ps) => new Adafactor(ps, { beta1: 0.9, weightDecay: 0.05 }),
    16 + 2 * 7 + 2 * 40,
  ],
  ['Sophia', (ps) => new Sophia(ps, { lr: 0.01, rho: 0.5, weightDecay: 0.05, hessianInterval: 3 }), 16],
  [
    'Shampoo (Adam graft, momentum)',
    (ps) => new Shampoo(ps, { lr: 0.01, graft: 'adam', momentum: 0.5, preconditionInterval: 4 }),
    16 + 20 * 5 * 7 + 2 * 40,
  ],
  [
    'Muon + AdamW',
    (ps) => new Muon(ps, { lr: 0.02, momentum: 0.9, adamw: { lr: 0.01 } }),
    16 + 5 * (3 * 7 + 4),
  ],
  [
    'SAM (ASAM) around SGD',
    (ps) => new SAM(new SGD(ps, { lr: 0.02, momentum: 0.8 }), { rho: 0.1, adaptive: true }),
    16 + 2 * 40,
  ],
];

/** Host gradient 1.5·x + noise(step) — a noisy quadratic — written into p.grad. */
async function setGrads(params: Tensor[], t: number, backend: string): Promise<void> {
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
}

const initial = (k: number) =>
  normalValues(
    SHAPES[k].reduce((a, b) => a * b, 1),
    0,
    1,
    60 + k,
    0,
  );

async function run(make: (ps: Tensor[]) => Opt, backend: string): Promise<number[][]> {
  const params = SHAPES.map((s, k) => tensor(initial(k), s, { backend }).requireGrad());
  const opt = make(params);
  for (let t = 1; t <= STEPS; t++) {
    // Sophia: the Hessian of this quadratic is 1.5·I, handed over as the estimate when due.
    if (opt instanceof Sophia && opt.hessianDue)
      noGrad(() => {
        const hs = params.map((p) => full(p.shape, 1.5, { backend }));
        opt.updateHessianWith(hs);
        for (const h of hs) h.dispose();
      });
    await setGrads(params, t, backend);
    if (opt instanceof SAM) {
      opt.firstStep();
      await setGrads(params, t, backend); // the gradient at the perturbed point
      opt.secondStep();
    } else {
      opt.step();
    }
  }
  opt.zeroGrad();
  const out = await Promise.all(params.map(async (p) => Array.from(await p.data())));
  opt.dispose();
  noGrad(() => {
    for (const p of params) p.dispose();
  });
  return out;
}

describe('modern optimizers on the kernel backends', () => {
  beforeAll(async () => {
    engine.registerBackend('wasm', () => createWasmBackend(), { replace: true });
    await engine.initBackend('wasm');
    if (BACKENDS.includes('webgpu')) {
      engine.registerBackend('webgpu', () => gpu.createWebGPUBackend(), { replace: true });
      await engine.initBackend('webgpu');
    }
  }, 120_000);

  for (const [name, make, depth] of CASES) {
    it(`${name}: ${BACKENDS.join(' and ')} follow js64 over ${STEPS} steps`, async () => {
      const want = await run(make, 'js64');
      const tol = 4 * STEPS * depth * U;
      for (const backend of BACKENDS) {
        const before = engine.memory(backend).tensors;
        const got = await run(make, backend);
        for (const [k, g] of got.entries())
          for (const [i, v] of g.entries()) {
            const w = want[k][i];
            const err = Math.abs(v - w) / (1 + Math.abs(w));
            if (!(err <= tol))
              throw new Error(`${name} on ${backend}: param ${k}[${i}] = ${v}, js64 ${w} (tol ${tol})`);
          }
        expect(engine.memory(backend).tensors).toBe(before);
      }
      // The run moved the parameters by far more than the tolerance (the comparison is not of x0 with x0).
      const moved = Math.max(
        ...want.flatMap((w, k) => {
          const x0 = initial(k);
          return w.map((v, i) => Math.abs(v - x0[i]));
        }),
      );
      expect(moved).toBeGreaterThan(100 * tol);
    }, 300_000);
  }

  it(`gradient clipping (global norm 2 and ∞, value, AGC) on ${BACKENDS.join(' and ')} matches js64`, async () => {
    // Each clipped gradient is g·(one factor from a norm over ≤ 40 elements) or a clamp:
    // depth 16 + 2·40 as above, in one pass.
    const tol = 4 * (16 + 2 * 40) * U;
    const clipAll = async (backend: string) => {
      const params = SHAPES.map((s, k) => tensor(initial(k), s, { backend }).requireGrad());
      const out: number[][] = [];
      for (const [name, clip] of [
        ['norm 2', (ps: Tensor[]) => clipGradNorm(ps, 0.5).dispose()],
        ['norm ∞', (ps: Tensor[]) => clipGradNorm(ps, 0.3, { normType: Number.POSITIVE_INFINITY }).dispose()],
        ['value', (ps: Tensor[]) => clipGradValue(ps, 0.4)],
        ['agc', (ps: Tensor[]) => adaptiveGradClip(ps, { clipping: 0.05 })],
      ] as const) {
        await setGrads(params, name.length, backend);
        clip(params);
        for (const p of params) out.push(Array.from(await p.grad!.data()));
      }
      noGrad(() => {
        for (const p of params) p.dispose();
      });
      return out;
    };
    const want = await clipAll('js64');
    for (const backend of BACKENDS) {
      const before = engine.memory(backend).tensors;
      const got = await clipAll(backend);
      for (const [k, g] of got.entries())
        for (const [i, v] of g.entries())
          if (!(Math.abs(v - want[k][i]) <= tol * (1 + Math.abs(want[k][i]))))
            throw new Error(
              `clip case ${k >> 2} on ${backend}: grad ${k % 4}[${i}] = ${v}, js64 ${want[k][i]}`,
            );
      expect(engine.memory(backend).tensors).toBe(before);
    }
  }, 300_000);
});

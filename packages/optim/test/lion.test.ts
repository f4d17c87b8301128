import { describe, expect, it } from 'vitest';
import { cosine, Lion, LRScheduler } from '../src/index.js';
import { expectClose, expectNoLeak, free, host, Quadratic, Rng, t64, trainStep } from './numeric.js';

interface LionRef {
  lr: number;
  betas: [number, number];
  weightDecay: number;
}

/** Lion (Chen et al. 2023, Algorithm 2) in plain float64. */
function lionReference(x0: Float64Array, q: Quadratic, steps: number, o: LionRef): Float64Array {
  const x = x0.slice();
  const m = new Float64Array(x.length);
  const [b1, b2] = o.betas;
  for (let t = 0; t < steps; t++) {
    const g = q.grad(x);
    for (let i = 0; i < x.length; i++) {
      const c = b1 * m[i] + (1 - b1) * g[i];
      x[i] = x[i] * (1 - o.lr * o.weightDecay) - o.lr * Math.sign(c);
      m[i] = b2 * m[i] + (1 - b2) * g[i];
    }
  }
  return x;
}

describe('Lion', () => {
  // The library runs the same float64 operations in the same order as the reference on js64, so
  // the only differences are last-bit ones in fused/reordered products (≤ a few ulps per step);
  // a sign flip would need an interpolated momentum within ~1e-15 of 0, which random data avoids.
  // 1e-12 over 25 steps is ~100× the accumulated rounding; any wrong formula is an O(lr) error.
  const TOL = 1e-12;
  for (const [o, fused] of [
    [{ lr: 0.01, betas: [0.9, 0.99] as [number, number], weightDecay: 0 }, true],
    [{ lr: 0.03, betas: [0.8, 0.95] as [number, number], weightDecay: 0.1 }, true],
    [{ lr: 0.03, betas: [0.8, 0.95] as [number, number], weightDecay: 0.1 }, false],
  ] as const) {
    it(`matches the float64 reference over 25 steps (${JSON.stringify(o)}, ${fused ? 'fused kernel' : 'core ops'})`, () => {
      const rng = new Rng(7);
      const q = new Quadratic([4, 5], rng);
      const x0 = rng.normals(20);
      const x = t64(x0, [4, 5]).requireGrad();
      const opt = new Lion([x], { ...o, fused });
      // One momentum buffer is the whole state.
      expectNoLeak('js64', 1, () => {
        for (let t = 0; t < 25; t++) trainStep(opt, () => q.loss(x));
      });
      expectClose(host(x), lionReference(x0, q, 25, o), TOL, 'Lion parameters');
      opt.dispose();
      free(x);
    });
  }

  it('per-group options apply to their own parameters', () => {
    const rng = new Rng(8);
    const qa = new Quadratic([6], rng);
    const qb = new Quadratic([3], rng);
    const a0 = rng.normals(6);
    const b0 = rng.normals(3);
    const a = t64(a0, [6]).requireGrad();
    const b = t64(b0, [3]).requireGrad();
    const opt = new Lion([{ params: [a] }, { params: [b], lr: 0.05, weightDecay: 0.2, betas: [0.5, 0.9] }], {
      lr: 0.01,
    });
    for (let t = 0; t < 20; t++) trainStep(opt, () => qa.loss(a).add(qb.loss(b)));
    expectClose(host(a), lionReference(a0, qa, 20, { lr: 0.01, betas: [0.9, 0.99], weightDecay: 0 }), 1e-12);
    expectClose(host(b), lionReference(b0, qb, 20, { lr: 0.05, betas: [0.5, 0.9], weightDecay: 0.2 }), 1e-12);
    opt.dispose();
    free(a, b);
  });

  it('minimizes a quadratic under a cosine schedule (f32 backend)', () => {
    const rng = new Rng(9);
    const q = new Quadratic([32], rng);
    const x = t64(rng.normals(32), [32], 'js').requireGrad();
    const opt = new Lion([x], { lr: 0.05 });
    const sched = new LRScheduler(opt, cosine({ totalSteps: 300 }));
    const f0 = q.value(host(x));
    for (let t = 0; t < 300; t++) {
      trainStep(opt, () => q.loss(x));
      sched.step();
    }
    // Each coordinate moves by ±lr; with the lr annealed to 0 the iterate settles at the minimum.
    expect(q.value(host(x))).toBeLessThan(1e-4 * f0);
    opt.dispose();
    free(x);
  });

  it('flat (multi-tensor) mode gives bit-identical results to per-tensor updates', () => {
    const rng = new Rng(10);
    const shapes = [[3, 5], [7], [], [2, 2, 2]];
    const qs = shapes.map((s) => new Quadratic(s, rng));
    const init = shapes.map((s) => rng.normals(s.reduce((a, b) => a * b, 1)));
    const run = (flat: boolean) => {
      const ps = shapes.map((s, i) => t64(init[i], s).requireGrad());
      const opt = new Lion(ps, { lr: 0.02, weightDecay: 0.1, flat });
      for (let t = 0; t < 10; t++)
        trainStep(opt, () => ps.map((p, i) => qs[i].loss(p)).reduce((a, b) => a.add(b)));
      const out = ps.map((p) => Array.from(host(p)));
      opt.dispose();
      free(...ps);
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('rejects bad hyperparameters', () => {
    const p = t64([1], [1]).requireGrad();
    expect(() => new Lion([p], { betas: [0.9, 1] })).toThrow(/Lion: betas must be two numbers in \[0, 1\)/);
    expect(() => new Lion([p], { weightDecay: -1 })).toThrow(/Lion: weightDecay must be/);
    expect(() => new Lion([p], { lr: -1 })).toThrow(/learning rate must be >= 0/);
    free(p);
  });
});

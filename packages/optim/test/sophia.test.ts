import { add, matmul, memory, mul, setSeed, softmax, sum, tidy } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { gnbDiagonal, hutchinsonDiagonal, Sophia, type SophiaOptions } from '../src/index.js';
import { expectClose, free, host, Quadratic, Rng, t64 } from './numeric.js';

/** Mean and standard deviation (over draws) of per-coordinate estimates. */
function meanStd(draws: Float64Array[]): { mean: Float64Array; std: Float64Array } {
  const n = draws.length;
  const mean = new Float64Array(draws[0].length);
  const sq = new Float64Array(draws[0].length);
  for (const d of draws)
    d.forEach((v, i) => {
      mean[i] += v / n;
    });
  for (const d of draws)
    d.forEach((v, i) => {
      sq[i] += (v - mean[i]) ** 2 / (n - 1);
    });
  return { mean, std: sq.map(Math.sqrt) };
}

describe('Hutchinson diagonal estimator', () => {
  it('is exact for a diagonal quadratic (u ⊙ (c ⊙ u) = c for u = ±1), leaving .grad untouched', () => {
    setSeed(1);
    const rng = new Rng(3);
    const q = new Quadratic([3, 4], rng);
    const x = t64(rng.normals(12), [3, 4]).requireGrad();
    // A gradient already accumulated by the training loop must survive the estimate unchanged.
    tidy(() => q.loss(x).backward());
    const g0 = host(x.grad!);
    const before = memory('js64').tensors;
    const [h] = hutchinsonDiagonal([x], () => q.loss(x));
    expect(memory('js64').tensors).toBe(before + 1);
    expect(Array.from(host(h!))).toEqual(Array.from(q.c));
    expect(Array.from(host(x.grad!))).toEqual(Array.from(g0));
    h!.dispose();
    free(x);
  });

  for (const distribution of ['rademacher', 'gaussian'] as const)
    it(`matches the exact Hessian diagonal in expectation on a dense quadratic (${distribution} probes)`, () => {
      setSeed(2);
      const rng = new Rng(4);
      const n = 6;
      // A = BᵀB + I: symmetric positive definite with sizeable off-diagonal entries.
      const B = rng.normals(n * n);
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = i === j ? 1 : 0;
          for (let k = 0; k < n; k++) s += B[k * n + i] * B[k * n + j];
          A[i * n + j] = s;
        }
      const At = t64(A, [n, n]);
      const x = t64(rng.normals(n), [n]).requireGrad();
      const draws: Float64Array[] = [];
      const N = 400;
      for (let k = 0; k < N; k++) {
        const [h] = hutchinsonDiagonal([x], () => mul(sum(mul(x, matmul(At, x))), 0.5), { distribution });
        draws.push(host(h!));
        h!.dispose();
      }
      const { mean } = meanStd(draws);
      for (let i = 0; i < n; i++) {
        // Var[uᵢ·(Au)ᵢ] = Σ_{j≠i} A_ij² exactly for Rademacher u (E uᵢ⁴ = 1), and Σ_j A_ij² + A_ii²
        // for Gaussian u (E uᵢ⁴ = 3); the mean of N draws is within 5 standard errors with
        // probability > 1 − 6e-7 (the draws are seeded, so this is fixed).
        let v = distribution === 'gaussian' ? 2 * A[i * n + i] ** 2 : 0;
        for (let j = 0; j < n; j++) if (j !== i) v += A[i * n + j] ** 2;
        expect(Math.abs(mean[i] - A[i * n + i]), `coordinate ${i}`).toBeLessThanOrEqual(5 * Math.sqrt(v / N));
      }
      // Not trivially true: single draws do differ from the diagonal.
      expect(Math.abs(draws[0][0] - A[0])).toBeGreaterThan(1e-6);
      free(x, At);
    });
});

describe('Gauss–Newton–Bartlett estimator', () => {
  it('matches the Gauss–Newton diagonal of softmax regression in expectation (labels sampled from the model)', () => {
    setSeed(5);
    const rng = new Rng(6);
    const [B, d, C] = [8, 3, 4];
    const X = rng.normals(B * d);
    const Wv = rng.normals(d * C, 0.7);
    const Xt = t64(X, [B, d]);
    const W = t64(Wv, [d, C]).requireGrad();
    const probs = tidy(() => host(softmax(matmul(Xt, W))));
    // GN diagonal of (1/B)·Σ CE: (1/B)·Σ_b X_bi²·p_bc·(1 − p_bc) for W[i, c].
    const exact = new Float64Array(d * C);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < d; i++)
        for (let c = 0; c < C; c++)
          exact[i * C + c] += (X[b * d + i] ** 2 * probs[b * C + c] * (1 - probs[b * C + c])) / B;
    const draws: Float64Array[] = [];
    const N = 600;
    for (let k = 0; k < N; k++) {
      const [h] = gnbDiagonal([W], () => matmul(Xt, W));
      draws.push(host(h!));
      h!.dispose();
    }
    const { mean, std } = meanStd(draws);
    // Unbiased: the mean of N independent draws is within 5 (estimated) standard errors.
    for (let i = 0; i < exact.length; i++)
      expect(Math.abs(mean[i] - exact[i]), `W[${i}]`).toBeLessThanOrEqual(
        (5 * std[i]) / Math.sqrt(N) + 1e-12,
      );
    expect(Math.max(...std)).toBeGreaterThan(1e-3); // the estimator is genuinely random
    free(W, Xt);
  });
});

/** Sophia (paper, Algorithm 3) in float64 with the exact Hessian diagonal c of a separable quadratic. */
function sophiaReference(
  x0: Float64Array,
  q: Quadratic,
  steps: number,
  k: number,
  o: SophiaOptions,
): { x: Float64Array; clipped: number; unclipped: number } {
  const x = x0.slice();
  let clipped = 0;
  let unclipped = 0;
  const m = new Float64Array(x.length);
  const h = new Float64Array(x.length);
  const [b1, b2] = o.betas;
  for (let t = 0; t < steps; t++) {
    if (t % k === 0) for (let i = 0; i < x.length; i++) h[i] = b2 * h[i] + (1 - b2) * q.c[i];
    const g = q.grad(x);
    for (let i = 0; i < x.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      const r = m[i] / Math.max(o.rho * h[i], o.eps);
      if (Math.abs(r) > 1) clipped++;
      else unclipped++;
      const ratio = Math.max(-1, Math.min(1, r));
      x[i] = x[i] * (1 - o.lr * o.weightDecay) - o.lr * ratio;
    }
  }
  return { x, clipped, unclipped };
}

describe('Sophia', () => {
  it('matches the float64 reference over 30 steps with a Hessian refresh every 4 steps', () => {
    setSeed(7);
    const rng = new Rng(8);
    const q = new Quadratic([5, 4], rng, [0.05, 20]);
    const x0 = rng.normals(20, 2);
    const x = t64(x0, [5, 4]).requireGrad();
    const o: SophiaOptions = { lr: 0.05, betas: [0.9, 0.95], rho: 0.3, weightDecay: 0.05, eps: 1e-12 };
    const opt = new Sophia([x], { ...o, estimator: 'hutchinson', hessianInterval: 4 });
    let refreshes = 0;
    for (let t = 0; t < 30; t++) {
      if (opt.maybeUpdateHessian(() => q.loss(x))) refreshes++;
      tidy(() => {
        opt.zeroGrad();
        q.loss(x).backward();
        opt.step();
      });
      opt.zeroGrad();
    }
    expect(refreshes).toBe(8); // steps 0, 4, …, 28
    expect(opt.hessianUpdates).toBe(8);
    // Same float64 operations in the same order (the Hutchinson estimate is exactly c here): the
    // differences are last-bit ones; a clip boundary within ~1e-15 would be needed to flip a branch.
    const ref = sophiaReference(x0, q, 30, 4, o);
    expectClose(host(x), ref.x, 1e-12, 'Sophia parameters');
    // The run exercises both sides of the clip.
    expect(ref.clipped).toBeGreaterThan(20);
    expect(ref.unclipped).toBeGreaterThan(20);
    opt.dispose();
    free(x);
  });

  it('takes Hessian estimates from GNB by default; needs gradient recording; validates options', () => {
    setSeed(9);
    const rng = new Rng(10);
    const X = t64(rng.normals(12), [4, 3]);
    const W = t64(rng.normals(6), [3, 2]).requireGrad();
    const opt = new Sophia([W]);
    expect(opt.estimator).toBe('gnb');
    expect(opt.hessianDue).toBe(true);
    const before = memory('js64').tensors;
    opt.updateHessian(() => matmul(X, W));
    // The hessian and momentum buffers are the only new tensors.
    expect(memory('js64').tensors).toBe(before + 2);
    const dict = opt.stateDict();
    expect(Math.max(...host(dict.state[0].buffers.hessian))).toBeGreaterThan(0);
    for (const t of Object.values(dict.state[0].buffers)) t.dispose();
    expect(() => new Sophia([W], { rho: 0 })).toThrow(/Sophia: rho must be a finite number > 0/);
    expect(() => new Sophia([W], { hessianInterval: 0 })).toThrow(
      /hessianInterval must be a positive integer/,
    );
    expect(() => new Sophia([W], { estimator: 'exact' as 'gnb' })).toThrow(
      /estimator must be 'gnb' or 'hutchinson'/,
    );
    expect(() => opt.updateHessianWith([])).toThrow(/got 0 estimates for 1 parameters/);
    expect(() => new Sophia([W], { probe: 'uniform' as 'gaussian' })).toThrow(
      /probe must be 'rademacher' or 'gaussian'/,
    );
    opt.dispose();
    free(W, X);
  });

  it('a loss that is linear in the parameters has a zero Hessian estimate', () => {
    const x = t64([1, 2, 3], [3]).requireGrad();
    const [h] = hutchinsonDiagonal([x], () => sum(mul(x, 2)));
    expect(Array.from(host(h!))).toEqual([0, 0, 0]);
    h!.dispose();
    const y = t64([1], [1]).requireGrad();
    const [hx, hy] = hutchinsonDiagonal([x, y], () => sum(add(x, 1)));
    expect(hy).toBeNull();
    hx!.dispose();
    free(x, y);
  });
});

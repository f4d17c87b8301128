import { memory, tidy } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { inversePthRoot, Shampoo, type ShampooOptions } from '../src/index.js';
import {
  eye,
  frobenius,
  fromEigen,
  inversePthRootReference,
  matmul,
  randomOrthogonal,
  transpose,
} from './linalg.js';
import { expectClose, free, host, Quadratic, Rng, sizeOf, t64, U32, U64 } from './numeric.js';

/** The scalar map every eigenvalue m of M follows in the coupled Newton iteration. */
const newtonMap = (m: number, p: number) => m * ((p + 1 - m) / p) ** p;

describe('inversePthRoot (coupled Newton)', () => {
  /**
   * A = Q·diag(λ)·Qᵀ with known eigenvalues. In exact arithmetic X_N^p·A − I = Q·diag(f^N(z·λᵢ) − 1)·Qᵀ
   * with z = (p+1)/(2‖A‖_F) and f the Newton map, so its Frobenius norm is predicted exactly:
   * R_N = √Σ (f^N(z·λᵢ) − 1)². Rounding: each iteration does ⌈log₂p⌉ + 2 matmuls, each with relative
   * error ≤ γ_n ≈ n·u in norm, compounding additively in X over N iterations; forming X^p·A costs
   * p more, and the product's entries are O(‖X‖^p·‖A‖) = O(κ(A)). Hence
   *   |‖X^p·A − I‖_F − R_N| ≤ √n·(p·N·(⌈log₂p⌉ + 2) + p + 1)·n·u·κ(A).
   */
  function check(backend: string, u: number, n: number, p: number, lambdas: number[], iterations: number) {
    const rng = new Rng(n * 31 + p);
    const q = randomOrthogonal(n, rng);
    const A = fromEigen(q, lambdas, n);
    const before = memory(backend).tensors;
    const a = t64(A, [n, n], backend);
    const X = tidy(() => host(inversePthRoot(a, p, { iterations })));
    a.dispose();
    expect(memory(backend).tensors).toBe(before);
    // X^p·A − I in float64 on the host.
    let xp = X;
    for (let k = 1; k < p; k++) xp = matmul(xp, X, n, n, n);
    const residual = matmul(xp, A, n, n, n).map((v, i) => v - eye(n)[i]);
    const z = (p + 1) / 2 / frobenius(A);
    const predicted = Math.sqrt(
      lambdas.reduce((s, l) => {
        let m = z * l;
        for (let k = 0; k < iterations; k++) m = newtonMap(m, p);
        return s + (m - 1) ** 2;
      }, 0),
    );
    const kappa = Math.max(...lambdas) / Math.min(...lambdas);
    const rounding = Math.sqrt(n) * (p * iterations * (Math.ceil(Math.log2(p)) + 2) + p + 1) * n * u * kappa;
    expect(
      Math.abs(frobenius(residual) - predicted),
      `R_N = ${predicted}, got ${frobenius(residual)}`,
    ).toBeLessThanOrEqual(rounding);
    return { predicted, observed: frobenius(residual), X, q };
  }

  it('X⁴·A ≈ I within the derived bound (float64, κ = 2000); converges by 25 iterations', () => {
    const lambdas = Array.from({ length: 8 }, (_, i) => 2 * 1e-3 ** (i / 7));
    const { predicted, observed, X, q } = check('js64', U64, 8, 4, lambdas, 25);
    expect(predicted).toBeLessThan(1e-12);
    expect(observed).toBeLessThan(1e-9);
    // And X is A^(−¼) itself.
    expectClose(
      X,
      fromEigen(
        q,
        lambdas.map((l) => l ** -0.25),
        8,
      ),
      1e-9,
      'A^(-1/4)',
    );
  });

  it('tracks the predicted residual before convergence, for p = 2 and p = 4', () => {
    const lambdas = Array.from({ length: 6 }, (_, i) => 3 * 1e-2 ** (i / 5));
    for (const p of [2, 4]) {
      const { predicted, observed } = check('js64', U64, 6, p, lambdas, 6);
      // Six iterations are not enough for κ = 100: the residual is large and exactly as predicted.
      expect(predicted).toBeGreaterThan(1e-3);
      expect(Math.abs(observed - predicted)).toBeLessThan(1e-9);
    }
  });

  it('holds the same bound on the f32 backend (κ = 20)', () => {
    const lambdas = Array.from({ length: 6 }, (_, i) => 1 * 0.05 ** (i / 5));
    check('js', U32, 6, 4, lambdas, 20);
  });

  it('rejects non-square input', () => {
    const a = t64(new Float64Array(6), [2, 3]);
    expect(() => inversePthRoot(a, 4)).toThrow(
      /inversePthRoot: expected a square matrix, got shape \[2, 3\]/,
    );
    free(a);
  });
});

/**
 * Shampoo (matrices: L^(−¼)·G·R^(−¼); vectors: H^(−½)·g) with the Adam graft, momentum and
 * decoupled weight decay in plain float64, with the same Newton iteration for the roots.
 */
function shampooReference(x0: Float64Array, shape: number[], q: Quadratic, steps: number, o: ShampooOptions) {
  const x = x0.slice();
  const N = x.length;
  const [m, n] = shape.length === 2 ? shape : [shape[0], 1];
  const stats: Float64Array[] =
    shape.length === 2 ? [new Float64Array(m * m), new Float64Array(n * n)] : [new Float64Array(m * m)];
  const roots: Float64Array[] = stats.map((s) => s.slice());
  const expAvg = new Float64Array(N);
  const expAvgSq = new Float64Array(N);
  const buf = new Float64Array(N);
  const k = shape.length;
  for (let t = 1; t <= steps; t++) {
    const g = q.grad(x);
    const outers =
      k === 2
        ? [matmul(g, transpose(g, m, n), m, n, m), matmul(transpose(g, m, n), g, n, m, n)]
        : [matmul(g, g, m, 1, m)];
    const dimsOf = k === 2 ? [m, n] : [m];
    outers.forEach((o2, i) => {
      const b = o.statisticsDecay;
      stats[i] = stats[i].map((v, j) => (b === 1 ? v + o2[j] : b * v + (1 - b) * o2[j]));
      if ((t - 1) % o.preconditionInterval === 0) {
        const d = dimsOf[i];
        const delta = o.damping === 'relative' ? o.epsilon * Math.max(frobenius(stats[i]), 1e-12) : o.epsilon;
        const damped = stats[i].map((v, j) => v + eye(d, delta)[j]);
        roots[i] = inversePthRootReference(damped, d, 2 * k, o.rootIterations);
      }
    });
    const pre =
      k === 2 ? matmul(matmul(roots[0], g, m, m, n), roots[1], m, n, n) : matmul(roots[0], g, m, m, 1);
    const [b1, b2] = o.graftBetas;
    const d = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      expAvg[i] = b1 * expAvg[i] + (1 - b1) * g[i];
      expAvgSq[i] = b2 * expAvgSq[i] + (1 - b2) * g[i] ** 2;
      d[i] = expAvg[i] / (1 - b1 ** t) / (Math.sqrt(expAvgSq[i] / (1 - b2 ** t)) + o.graftEps);
    }
    const scale = frobenius(d) / frobenius(pre);
    for (let i = 0; i < N; i++) {
      buf[i] = o.momentum * buf[i] + pre[i] * scale;
      x[i] = x[i] * (1 - o.lr * o.weightDecay) - o.lr * buf[i];
    }
  }
  return x;
}

describe('Shampoo', () => {
  const base: ShampooOptions = {
    lr: 0.05,
    momentum: 0.5,
    weightDecay: 0.1,
    epsilon: 1e-3,
    damping: 'absolute',
    statisticsDecay: 1,
    preconditionInterval: 3,
    graft: 'adam',
    graftBetas: [0.9, 0.99],
    graftEps: 1e-8,
    rootIterations: 25,
    maxPreconditionerDim: 1024,
  };
  // Library and reference run the same float64 algorithm; they differ in summation order inside
  // matmuls (≈ n·u relative per product). The roots amplify such differences by at most κ(H + δI)
  // ≲ 1e5 here (absolute ε = 1e-3 with ‖H‖ ≲ 100; relative ε = 1e-4), over ≤ 100 products per
  // root: ≲ 1e5·100·4·1.1e-16 ≈ 5e-9
  // relative in the update, times lr·steps ≈ 1 on the parameters. Tolerance 1e-8.
  const TOL = 1e-8;
  for (const [name, shape, extra] of [
    ['matrix, summed statistics', [4, 3], {}],
    [
      'matrix, decayed statistics, relative damping, refresh every step',
      [3, 5],
      { statisticsDecay: 0.9, preconditionInterval: 1, damping: 'relative', epsilon: 1e-4 },
    ],
    ['vector (full-matrix AdaGrad direction)', [5], {}],
  ] as [string, number[], Partial<ShampooOptions>][]) {
    it(`matches the float64 reference over 20 steps: ${name}`, () => {
      const rng = new Rng(shape.length * 17 + shape[0]);
      const q = new Quadratic(shape, rng, [0.1, 10]);
      const x0 = rng.normals(sizeOf(shape));
      const x = t64(x0, shape).requireGrad();
      const o = { ...base, ...extra };
      const opt = new Shampoo([x], o);
      for (let t = 0; t < 20; t++)
        tidy(() => {
          opt.zeroGrad();
          q.loss(x).backward();
          opt.step();
        });
      opt.zeroGrad();
      const want = shampooReference(x0, shape, q, 20, o);
      expectClose(host(x), want, TOL, 'Shampoo parameters');
      expect(Math.max(...want.map((w, i) => Math.abs(w - x0[i])))).toBeGreaterThan(0.05);
      opt.dispose();
      free(x);
    });
  }

  it('keeps statistics only for axes up to maxPreconditionerDim, and preconditions rank-3 tensors', () => {
    const x = t64(new Rng(3).normals(3 * 40), [3, 40]).requireGrad();
    const y = t64(new Rng(4).normals(24), [2, 3, 4]).requireGrad();
    const opt = new Shampoo([x, y], { maxPreconditionerDim: 10, graft: 'sgd' });
    tidy(() => {
      x.square().sum().add(y.square().sum()).backward();
      opt.step();
    });
    const dict = opt.stateDict();
    expect(Object.keys(dict.state[0].buffers).sort()).toEqual(['root0', 'statistic0']);
    expect(Object.keys(dict.state[1].buffers).sort()).toEqual([
      'root0',
      'root1',
      'root2',
      'statistic0',
      'statistic1',
      'statistic2',
    ]);
    expect(dict.state[1].buffers.root2.shape).toEqual([4, 4]);
    for (const s of Object.values(dict.state)) for (const t of Object.values(s.buffers)) t.dispose();
    opt.dispose();
    free(x, y);
  });

  it('rejects bad hyperparameters', () => {
    const p = t64([1, 2], [2]).requireGrad();
    expect(() => new Shampoo([p], { epsilon: 0 })).toThrow(/Shampoo: epsilon must be a finite number > 0/);
    expect(() => new Shampoo([p], { graft: 'lamb' as 'adam' })).toThrow(
      /graft must be 'none', 'sgd', 'adagrad' or 'adam'/,
    );
    expect(() => new Shampoo([p], { preconditionInterval: 0 })).toThrow(
      /preconditionInterval must be a positive integer/,
    );
    expect(() => new Shampoo([p], { statisticsDecay: 0 })).toThrow(/statisticsDecay must be in \(0, 1\]/);
    expect(() => new Shampoo([p], { damping: 'none' as 'relative' })).toThrow(
      /damping must be 'relative' or 'absolute'/,
    );
    free(p);
  });
});

import { tidy } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { Muon, type MuonOptions, newtonSchulz } from '../src/index.js';
import { frobenius, matmul, symmetricEigenvalues, transpose } from './linalg.js';
import { expectClose, free, host, Quadratic, Rng, t64 } from './numeric.js';

const COEFFS: [number, number, number] = [3.4445, -4.775, 2.0315];
const quintic = (s: number) => COEFFS[0] * s + COEFFS[1] * s ** 3 + COEFFS[2] * s ** 5;

/** Singular values of an m×n matrix (ascending), from the eigenvalues of the smaller Gram matrix. */
function singularValues(a: Float64Array, m: number, n: number): number[] {
  const k = Math.min(m, n);
  const gram = m <= n ? matmul(a, transpose(a, m, n), m, n, m) : matmul(transpose(a, m, n), a, n, m, n);
  return symmetricEigenvalues(gram, k).map((l) => Math.sqrt(Math.max(l, 0)));
}

describe('newtonSchulz (quintic, 5 steps)', () => {
  for (const [m, n, backend, tol] of [
    [8, 12, 'js64', 1e-10],
    [12, 8, 'js64', 1e-10],
    [6, 20, 'js', 1e-4],
  ] as const) {
    it(`maps each singular value σ to φ⁵(σ/‖G‖_F), all near 1 (${m}×${n}, ${backend})`, () => {
      const G = new Rng(m * 100 + n).normals(m * n);
      const g = t64(G, [m, n], backend);
      const O = tidy(() => host(newtonSchulz(g)));
      free(g);
      const norm = frobenius(G);
      const sigma = singularValues(G, m, n);
      // The range guarantee below needs σ_min/‖G‖_F ≥ 0.003 (true for these Gaussian matrices).
      expect(sigma[0] / norm).toBeGreaterThan(0.003);
      const predicted = sigma.map((s) => {
        let x = s / norm;
        for (let k = 0; k < 5; k++) x = quintic(x);
        return x;
      });
      predicted.sort((a, b) => a - b);
      const got = singularValues(O, m, n);
      // Five steps of a polynomial map in float64 (f32): errors of a few ulps of O(1) values per
      // step, amplified by |φ'| ≤ 3.5 per step: ≲ 3.5⁵·10·u ≈ 6e-13 (4e-5 in f32).
      expectClose(got, predicted, tol, 'singular values');
      // φ⁵ maps [0.003, 1] into [0.6818, 1.2024] (found by scanning φ⁵ on a fine grid): the
      // orthogonalized update has all singular values near 1.
      for (const s of got) {
        expect(s).toBeGreaterThan(0.6818 - tol);
        expect(s).toBeLessThan(1.2024 + tol);
      }
    });
  }

  it('rejects non-matrices', () => {
    const v = t64([1, 2, 3], [3]);
    expect(() => newtonSchulz(v)).toThrow(/newtonSchulz: expected a matrix, got shape \[3\]/);
    free(v);
  });
});

/** torch.optim.Muon's Newton–Schulz, literally: transpose a tall matrix, iterate, transpose back. */
function nsReference(G: Float64Array, m: number, n: number, o: MuonOptions): Float64Array {
  const [a, b, c] = o.nsCoefficients;
  const tall = m > n;
  let X = tall ? transpose(G, m, n) : G.slice();
  const [r, k] = tall ? [n, m] : [m, n];
  const nrm = Math.max(frobenius(X), o.eps);
  X = X.map((v) => v / nrm);
  for (let s = 0; s < o.nsSteps; s++) {
    const A = matmul(X, transpose(X, r, k), r, k, r);
    const AA = matmul(A, A, r, r, r);
    const B = A.map((v, i) => b * v + c * AA[i]);
    const BX = matmul(B, X, r, r, k);
    X = X.map((v, i) => a * v + BX[i]);
  }
  return tall ? transpose(X, r, k) : X;
}

function muonReference(
  x0: Float64Array,
  [m, n]: [number, number],
  q: Quadratic,
  steps: number,
  o: MuonOptions,
): Float64Array {
  const x = x0.slice();
  const buf = new Float64Array(x.length);
  const scale =
    o.adjustLr === 'original'
      ? Math.sqrt(Math.max(1, n / m))
      : o.adjustLr === 'matchRmsAdamW'
        ? 0.2 * Math.sqrt(Math.max(m, n))
        : 1;
  for (let t = 0; t < steps; t++) {
    const g = q.grad(x);
    const mu = o.momentum;
    for (let i = 0; i < x.length; i++) buf[i] = mu * buf[i] + (1 - mu) * g[i];
    const dir = o.nesterov ? g.map((gi, i) => (1 - mu) * gi + mu * buf[i]) : buf;
    const O = nsReference(dir, m, n, o);
    for (let i = 0; i < x.length; i++) x[i] = x[i] * (1 - o.lr * o.weightDecay) - o.lr * scale * O[i];
  }
  return x;
}

/** torch.optim.AdamW in float64. */
function adamwReference(
  x0: Float64Array,
  q: Quadratic,
  steps: number,
  lr: number,
  betas: [number, number],
  eps: number,
  wd: number,
) {
  const x = x0.slice();
  const m = new Float64Array(x.length);
  const v = new Float64Array(x.length);
  for (let t = 1; t <= steps; t++) {
    const g = q.grad(x);
    for (let i = 0; i < x.length; i++) {
      x[i] *= 1 - lr * wd;
      m[i] = betas[0] * m[i] + (1 - betas[0]) * g[i];
      v[i] = betas[1] * v[i] + (1 - betas[1]) * g[i] ** 2;
      x[i] -= ((lr / (1 - betas[0] ** t)) * m[i]) / (Math.sqrt(v[i] / (1 - betas[1] ** t)) + eps);
    }
  }
  return x;
}

describe('Muon', () => {
  const DEFAULTS: MuonOptions = {
    lr: 1e-3,
    weightDecay: 0.1,
    momentum: 0.95,
    nesterov: true,
    nsCoefficients: COEFFS,
    nsSteps: 5,
    eps: 1e-7,
    adjustLr: 'original',
    useMuon: true,
    betas: [0.9, 0.999],
    adamEps: 1e-8,
  };
  for (const extra of [
    { lr: 0.02, momentum: 0.9, weightDecay: 0.05 },
    { lr: 0.01, nesterov: false, adjustLr: 'matchRmsAdamW' as const, nsSteps: 3, weightDecay: 0 },
  ]) {
    it(`matches torch.optim.Muon (+ AdamW for the bias) over 20 steps: ${JSON.stringify(extra)}`, () => {
      const rng = new Rng(31);
      const shapes: [number, number][] = [
        [4, 6],
        [6, 3],
      ];
      const qs = shapes.map((s) => new Quadratic(s, rng));
      const qb = new Quadratic([3], rng);
      const x0 = shapes.map(([m, n]) => rng.normals(m * n));
      const b0 = rng.normals(3);
      const xs = shapes.map((s, i) => t64(x0[i], s).requireGrad());
      const bias = t64(b0, [3]).requireGrad();
      const adamw = { lr: 0.005, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: 0.2 };
      const opt = new Muon([...xs, bias], { ...extra, adamw });
      expect(opt.groups.map((g) => [g.options.useMuon, g.params.length, g.options.lr])).toEqual([
        [true, 2, extra.lr],
        [false, 1, 0.005],
      ]);
      for (let t = 0; t < 20; t++)
        tidy(() => {
          opt.zeroGrad();
          qs[0].loss(xs[0]).add(qs[1].loss(xs[1])).add(qb.loss(bias)).backward();
          opt.step();
        });
      opt.zeroGrad();
      const o = { ...DEFAULTS, ...extra };
      // Same float64 algorithm; the tall matrix uses XᵀX instead of transposing (identical in exact
      // arithmetic), and sums run in other orders: differences of a few ulps per product, through
      // ≤ 15 products per step with |φ'| ≤ 3.5: ≲ 1e-12 relative per step, 20 steps. Tolerance 1e-10.
      shapes.forEach((s, i) => {
        const want = muonReference(x0[i], s, qs[i], 20, o);
        expectClose(host(xs[i]), want, 1e-10, `Muon matrix ${i}`);
        expect(Math.max(...want.map((w, k) => Math.abs(w - x0[i][k])))).toBeGreaterThan(0.01);
      });
      expectClose(
        host(bias),
        adamwReference(b0, qb, 20, adamw.lr, adamw.betas, adamw.eps, adamw.weightDecay),
        1e-12,
        'AdamW bias',
      );
      opt.dispose();
      free(...xs, bias);
    });
  }

  it('orthogonalizes a rank-4 conv filter as [KH·KW·Cin, Cout] and scales by the fan ratio', () => {
    const w = t64(new Rng(5).normals(2 * 2 * 3 * 16), [2, 2, 3, 16]).requireGrad();
    expect(Muon.lrScale(w, 'original')).toBeCloseTo(Math.sqrt(16 / 12), 15);
    expect(Muon.lrScale(w, 'matchRmsAdamW')).toBeCloseTo(0.2 * 4, 15);
    const before = host(w);
    const opt = new Muon([w], { lr: 0.1, weightDecay: 0, momentum: 0, nesterov: false });
    tidy(() => {
      w.square().sum().backward();
      opt.step();
    });
    // With μ = 0 the step is lr·scale·NS(g): its singular values are near 1.
    const step = host(w).map((v, i) => (before[i] - v) / (0.1 * Math.sqrt(16 / 12)));
    for (const s of singularValues(step, 12, 16)) {
      expect(s).toBeGreaterThan(0.6818 - 1e-9);
      expect(s).toBeLessThan(1.2024 + 1e-9);
    }
    opt.dispose();
    free(w);
  });

  it('explicit groups: useMuon: true needs matrices; bad options are rejected', () => {
    const v = t64([1, 2], [2]).requireGrad();
    const m = t64([1, 2, 3, 4], [2, 2]).requireGrad();
    expect(() => new Muon([{ params: [m, v], useMuon: true }])).toThrow(
      /has rank 1: put it in a group with useMuon: false/,
    );
    const opt = new Muon([
      { params: [m], useMuon: true },
      { params: [v], useMuon: false, lr: 0.1 },
    ]);
    expect(opt.groups.map((g) => g.options.useMuon)).toEqual([true, false]);
    expect(() => new Muon([m], { adjustLr: 'max' as 'none' })).toThrow(
      /adjustLr must be 'original', 'matchRmsAdamW' or 'none'/,
    );
    expect(() => new Muon([m], { momentum: 1 })).toThrow(/Muon: momentum must be in \[0, 1\)/);
    expect(() => new Muon([m], { nsSteps: 100 })).toThrow(/nsSteps must be an integer in \[0, 100\)/);
    free(v, m);
  });
});

import { describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions } from '../src/index.js';
import { expectClose, expectNoLeak, free, host, Quadratic, Rng, sizeOf, t64, trainStep } from './numeric.js';

function rmsOf(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s / x.length);
}

/**
 * Hugging Face's Adafactor step (transformers.optimization.Adafactor) in plain float64, for a
 * parameter viewed as [batch, m, n] (factored, rank ≥ 2) or a flat vector (rank ≤ 1).
 */
function adafactorReference(
  x0: Float64Array,
  shape: number[],
  q: Quadratic,
  steps: number,
  o: AdafactorOptions,
): Float64Array {
  const x = x0.slice();
  const N = x.length;
  const factored = shape.length >= 2;
  const n = factored ? shape[shape.length - 1] : N;
  const m = factored ? shape[shape.length - 2] : 1;
  const batch = N / (m * n);
  const row = new Float64Array(batch * m);
  const col = new Float64Array(batch * n);
  const v = new Float64Array(N);
  const expAvg = new Float64Array(N);
  for (let t = 1; t <= steps; t++) {
    const g = q.grad(x);
    let rel = o.lr;
    if (o.relativeStep) rel = Math.min(o.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t));
    const lr = o.scaleParameter ? Math.max(o.eps[1], rmsOf(x)) * rel : rel;
    const beta2t = 1 - t ** o.decayRate;
    const u = new Float64Array(N);
    if (factored) {
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += g[(b * m + i) * n + j] ** 2 + o.eps[0];
          row[b * m + i] = beta2t * row[b * m + i] + (1 - beta2t) * (s / n);
        }
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < m; i++) s += g[(b * m + i) * n + j] ** 2 + o.eps[0];
          col[b * n + j] = beta2t * col[b * n + j] + (1 - beta2t) * (s / m);
        }
        let rowMean = 0;
        for (let i = 0; i < m; i++) rowMean += row[b * m + i] / m;
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            const k = (b * m + i) * n + j;
            u[k] = g[k] / Math.sqrt(row[b * m + i] / rowMean) / Math.sqrt(col[b * n + j]);
          }
      }
    } else {
      for (let k = 0; k < N; k++) {
        v[k] = beta2t * v[k] + (1 - beta2t) * (g[k] ** 2 + o.eps[0]);
        u[k] = g[k] / Math.sqrt(v[k]);
      }
    }
    const clipDiv = Math.max(rmsOf(u) / o.clipThreshold, 1);
    for (let k = 0; k < N; k++) u[k] = (u[k] / clipDiv) * lr;
    if (o.beta1 !== null) {
      for (let k = 0; k < N; k++) {
        expAvg[k] = o.beta1 * expAvg[k] + (1 - o.beta1) * u[k];
        u[k] = expAvg[k];
      }
    }
    for (let k = 0; k < N; k++) x[k] = x[k] - o.weightDecay * lr * x[k] - u[k];
  }
  return x;
}

const DEFAULTS: AdafactorOptions = {
  lr: 0,
  eps: [1e-30, 1e-3],
  clipThreshold: 1,
  decayRate: -0.8,
  beta1: null,
  weightDecay: 0,
  scaleParameter: true,
  relativeStep: true,
  warmupInit: false,
};

describe('Adafactor', () => {
  // Same float64 operations as the reference up to summation order in the means (≈ n·u relative
  // each) over 25 steps of a contracting iteration: ≲ 25·8·2⁻⁵³·(few) ≈ 1e-13. Tolerance 1e-11.
  const TOL = 1e-11;
  const cases: [string, number[], Partial<AdafactorOptions>][] = [
    ['defaults, matrix (factored)', [5, 7], {}],
    ['defaults, vector', [9], {}],
    [
      'β1 + weight decay + warm-up init, rank-3 (batched factored)',
      [2, 3, 4],
      { beta1: 0.9, weightDecay: 0.1, warmupInit: true },
    ],
    ['β1 + weight decay with parameter scaling, matrix', [4, 6], { beta1: 0.8, weightDecay: 0.2 }],
    [
      'weight decay with a manual lr, vector',
      [7],
      { relativeStep: false, lr: 0.02, weightDecay: 0.3, clipThreshold: 2 },
    ],
    [
      'manual lr, no parameter scaling, tight clipping, other decay',
      [6, 3],
      { relativeStep: false, lr: 0.05, scaleParameter: false, clipThreshold: 0.5, decayRate: -0.5 },
    ],
  ];
  const runs = cases.flatMap(([name, shape, opts]) =>
    // The fused kernel covers rank ≤ 2; run those both ways.
    (shape.length <= 2 ? [true, false] : [false]).map((fused) => [name, shape, opts, fused] as const),
  );
  for (const [name, shape, opts, fused] of runs) {
    it(`matches Hugging Face's algorithm over 25 steps: ${name} (${fused ? 'fused kernel' : 'core ops'})`, () => {
      const rng = new Rng(shape.length * 13 + shape[0]);
      // A wide spread of curvatures makes the factored statistics far from uniform.
      const q = new Quadratic(shape, rng, [0.05, 20]);
      const x0 = rng.normals(sizeOf(shape));
      const x = t64(x0, shape).requireGrad();
      const opt = new Adafactor([x], { ...opts, fused });
      const o = { ...DEFAULTS, ...opts };
      const buffers = (shape.length >= 2 ? 2 : 1) + (o.beta1 !== null ? 1 : 0);
      expectNoLeak('js64', buffers, () => {
        for (let t = 0; t < 25; t++) trainStep(opt, () => q.loss(x));
      });
      const want = adafactorReference(x0, shape, q, 25, o);
      expectClose(host(x), want, TOL, 'Adafactor parameters');
      // The run must have moved the parameters by far more than the tolerance (warm-up init takes
      // steps of only 1e-6·t·RMS(x), about 3e-4 in all), so the comparison is not of x0 with x0.
      expect(Math.max(...want.map((w, i) => Math.abs(w - x0[i])))).toBeGreaterThan(1e-4);
      opt.dispose();
      free(x);
    });
  }

  it('keeps factored state: O(m + n) numbers for an m×n matrix', () => {
    const x = t64(new Float64Array(40 * 30).fill(0.1), [40, 30]).requireGrad();
    const opt = new Adafactor([x]);
    trainStep(opt, () => x.square().sum());
    const dict = opt.stateDict();
    const shapes = Object.fromEntries(Object.entries(dict.state[0].buffers).map(([k, t]) => [k, t.shape]));
    expect(shapes).toEqual({ expAvgSqRow: [40, 1], expAvgSqCol: [1, 30] });
    for (const t of Object.values(dict.state[0].buffers)) t.dispose();
    opt.dispose();
    free(x);
  });

  it('minimizes a quadratic with the relative step (f32 backend)', () => {
    const rng = new Rng(21);
    const q = new Quadratic([8, 8], rng);
    const x = t64(rng.normals(64, 3), [8, 8], 'js').requireGrad();
    const opt = new Adafactor([x], { relativeStep: false, lr: 0.05, scaleParameter: false, beta1: 0.9 });
    const f0 = q.value(host(x));
    for (let t = 0; t < 400; t++) trainStep(opt, () => q.loss(x));
    expect(q.value(host(x))).toBeLessThan(1e-3 * f0);
    opt.dispose();
    free(x);
  });

  it('rejects bad hyperparameters with the documented messages', () => {
    const p = t64([1, 2], [2]).requireGrad();
    expect(() => new Adafactor([p], { lr: 0.1 })).toThrow(/cannot be combined with relativeStep: true/);
    expect(() => new Adafactor([p], { relativeStep: false })).toThrow(/relativeStep: false needs an lr/);
    expect(() => new Adafactor([p], { relativeStep: false, lr: 0.1, warmupInit: true })).toThrow(
      /warmupInit: true requires relativeStep: true/,
    );
    expect(() => new Adafactor([p], { decayRate: 0.5 })).toThrow(/decayRate must be < 0/);
    expect(() => new Adafactor([p], { beta1: 1 })).toThrow(/beta1 must be null or in \[0, 1\)/);
    expect(() => new Adafactor([p], { clipThreshold: 0 })).toThrow(/clipThreshold must be > 0/);
    free(p);
  });
});

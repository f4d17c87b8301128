/**
 * Every differentiable op's backward rule against central finite differences, in float64 on the
 * `js64` reference backend.
 *
 * One helper, `checkGrad(f, inputs)`, does all the work: with a fixed random cotangent W it forms
 * L(x) = Σ f(x) ⊙ W, takes the analytic gradient with `grad(L, argnums)` and compares each element with
 *
 *     (L(x + h·eⱼ) − L(x − h·eⱼ)) / 2h,   h = 1e-6 · max(1, |xⱼ|).
 *
 * Error budget of that difference quotient, in float64 (ε = 2.2e-16):
 *  - truncation: h²/6 · |∂³L/∂xⱼ³| ≈ 1.7e-13 · max(1,|x|)² · |L'''|, negligible for the O(1..10)
 *    third derivatives of these inputs (every input is kept ≥ ~1e-2 away from kinks and ties, where
 *    L''' would blow up or L stops being differentiable);
 *  - rounding: each of L(x ± h) carries an absolute error of a few ε·Σ|fᵢWᵢ|; with ≤ 60 terms of
 *    size ≤ ~10 that is ≲ 1e-12, so the quotient is off by ≲ 1e-12 / 2e-6 = 5e-7·(Σ|fW|/1e3) — in
 *    practice ~1e-9 for these sizes.
 * The analytic gradient itself is accurate to ~1e-14. So |analytic − numeric| ≤ 1e-6·(1 + |numeric|)
 * leaves a margin of ~100× above the expected error while still catching any wrong rule (a wrong
 * factor, sign, transpose or broadcast reduction is an O(1) relative error).
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  AvgPool2dBackward,
  abs,
  add,
  avgPool2d,
  batchNorm,
  batchNormTraining,
  bceWithLogits,
  broadcastTo,
  CrossEntropyBackward,
  clamp,
  concat,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  conv2dGeometry,
  crossEntropy,
  detach,
  dispose,
  div,
  engine,
  erf,
  erfc,
  exp,
  gather,
  gelu,
  globalAvgPool,
  grad,
  jumpRelu,
  layerNorm,
  leakyRelu,
  log,
  logSoftmax,
  logSumExp,
  matmul,
  max,
  maximum,
  maxPool2d,
  mean,
  memory,
  min,
  minimum,
  mse,
  mul,
  neg,
  noGrad,
  opRegistry,
  pad,
  pool2dGeometry,
  pow,
  reciprocal,
  relu,
  reshape,
  rmsNorm,
  rsqrt,
  runOp,
  scatterAdd,
  sigmoid,
  silu,
  slice,
  softmax,
  softplus,
  sqrt,
  square,
  stack,
  sub,
  sum,
  type Tensor,
  tanh,
  tidy,
  transpose,
  variance,
  where,
} from '../src/index.js';
import { i64, Rng, size, t64 } from './helpers.js';

type Fn = (...xs: Tensor[]) => Tensor;

interface CheckOptions {
  /** Inputs to differentiate with respect to (default: every f32 input). */
  argnums?: number[];
  /** Relative tolerance (see the error budget above). */
  tol?: number;
  /** Seed of the cotangent W. */
  seed?: number;
}

/**
 * Checks grad(Σ f(...inputs) ⊙ W) against central differences for every element of every input in
 * `argnums`; also checks the gradient shapes, that the gradient is not trivially zero, and that the
 * whole check leaks no tensor. Takes ownership of `inputs` (disposes them).
 */
function checkGrad(f: Fn, inputs: Tensor[], opts: CheckOptions = {}): void {
  const tol = opts.tol ?? 1e-6;
  const argnums = opts.argnums ?? inputs.flatMap((t, i) => (t.dtype === 'f32' ? [i] : []));
  const before = memory('js64');
  tidy(() => {
    const y = noGrad(() => f(...inputs));
    const W = t64(new Rng(opts.seed ?? 12345).normals(y.size), y.shape);
    const loss: Fn = (...xs) => sum(mul(f(...xs), W));
    const analytic = grad(loss, argnums)(...inputs);
    // L with input `a` replaced by host values `v`, evaluated without recording anything.
    const lossWith = (a: number, v: Float64Array) =>
      tidy(() =>
        noGrad(() => {
          const xs = inputs.slice();
          xs[a] = t64(v, inputs[a].shape);
          return loss(...xs).item();
        }),
      );
    argnums.forEach((a, k) => {
      const g = analytic[k];
      expect(g.shape, `shape of the gradient for input ${a}`).toEqual(inputs[a].shape);
      const gv = g.dataSync();
      const base = inputs[a].dataSync() as Float64Array;
      expect(base).toBeInstanceOf(Float64Array);
      let worst = 0;
      let worstMsg = '';
      let largest = 0;
      for (let j = 0; j < base.length; j++) {
        const h = 1e-6 * Math.max(1, Math.abs(base[j]));
        const xp = base.slice();
        const xm = base.slice();
        xp[j] = base[j] + h;
        xm[j] = base[j] - h;
        const numeric = (lossWith(a, xp) - lossWith(a, xm)) / (xp[j] - xm[j]);
        const err = Math.abs(gv[j] - numeric) / (1 + Math.abs(numeric));
        largest = Math.max(largest, Math.abs(numeric));
        if (!(err <= worst)) {
          worst = err;
          worstMsg = `input ${a} element ${j}: analytic ${gv[j]}, numeric ${numeric}`;
        }
      }
      expect(worst, worstMsg).toBeLessThanOrEqual(tol);
      // A rule that returned zeros for a function that depends on the input would pass trivially.
      expect(largest, `gradient of input ${a} is all zero`).toBeGreaterThan(1e-3);
    });
  });
  expect(memory('js64').tensors, 'tensors leaked by the check').toBe(before.tensors);
  expect(memory('js64').bytes, 'bytes leaked by the check').toBe(before.bytes);
  dispose(inputs);
}

// Every kernel run by this file, to check at the end that every differentiable op was gradchecked.
const ran = new Set<string>();
const stopListening = engine.addKernelListener((op, backend) => {
  if (backend === 'js64') ran.add(op);
});

let seed = 1;
/** A fresh generator per call, so each test's inputs are fixed whatever runs before it. */
const rng = () => new Rng(1000 + seed++);
const normal = (shape: number[], scale = 1) => t64(rng().normals(size(shape), scale), shape);
const uniform = (shape: number[], lo: number, hi: number) => t64(rng().uniforms(size(shape), lo, hi), shape);
const away = (shape: number[], lo: number, hi: number) => t64(rng().away(size(shape), lo, hi), shape);
const distinct = (shape: number[], spacing = 0.25) => t64(rng().distinct(size(shape), spacing), shape);

describe('checkGrad itself', () => {
  it('fails on a wrong gradient (x·stopgrad(x) has analytic gradient x, true gradient 2x)', () => {
    const x = normal([2, 3]);
    expect(() => checkGrad((t) => mul(t, detach(t)), [x])).toThrow(/analytic/);
    dispose(x);
  });
  it('refuses a check where the function does not depend on the input', () => {
    const x = normal([2, 3]);
    expect(() => checkGrad((t) => mul(t, 0), [x])).toThrow(/all zero/);
    dispose(x);
  });
});

// ----------------------------------------------------------------------------------- unary

describe('gradcheck: unary elementwise', () => {
  const S = [3, 5];
  const cases: [string, Fn, () => Tensor][] = [
    ['neg', neg, () => normal(S)],
    ['abs', abs, () => away(S, 0.1, 2)],
    ['exp', exp, () => normal(S)],
    ['log', log, () => uniform(S, 0.2, 3)],
    ['sqrt', sqrt, () => uniform(S, 0.2, 3)],
    ['rsqrt', rsqrt, () => uniform(S, 0.2, 3)],
    ['square', square, () => normal(S, 1.5)],
    ['reciprocal', reciprocal, () => away(S, 0.3, 2)],
    ['relu', relu, () => away(S, 0.05, 2)],
    ['sigmoid', sigmoid, () => normal(S, 2)],
    ['tanh', tanh, () => normal(S, 1.5)],
    ['erf', erf, () => normal(S, 0.8)],
    ['erfc', erfc, () => normal(S, 0.8)],
    ['softplus', softplus, () => normal(S, 2)],
    ['silu (β = 1)', (x) => silu(x), () => normal(S, 2)],
    ['silu (β = 1.7)', (x) => silu(x, 1.7), () => normal(S, 2)],
    ['silu (β = −0.6)', (x) => silu(x, -0.6), () => normal(S, 2)],
    ['gelu (erf)', (x) => gelu(x), () => normal(S, 1.5)],
    ['gelu (tanh)', (x) => gelu(x, 'tanh'), () => normal(S, 1.5)],
    ['leakyRelu', (x) => leakyRelu(x, 0.1), () => away(S, 0.05, 2)],
    [
      'clamp',
      (x) => clamp(x, -0.5, 0.8),
      // Uniform over [−1.5, 1.5], nudged ≥ 0.02 away from the clamp boundaries.
      () =>
        t64(
          rng()
            .uniforms(size(S), -1.5, 1.5)
            .map((v) => (Math.abs(v + 0.5) < 0.02 || Math.abs(v - 0.8) < 0.02 ? v + 0.05 : v)),
          S,
        ),
    ],
  ];
  it.each(cases)('%s', (_name, f, make) => checkGrad(f, [make()]));
});

describe('gradcheck: jumpRelu', () => {
  it('gradient wrt z is exact (finite differences away from the jump)', () => {
    // z kept ≥ 0.05 away from the per-feature thresholds κ, so no step crosses the jump.
    const kappa = [0.3, -0.2, 0.5, 0.0];
    const zv = rng()
      .normals(12)
      .map((v, i) => (Math.abs(v - kappa[i % 4]) < 0.05 ? v + 0.1 : v));
    checkGrad((z, k) => jumpRelu(z, k, { bandwidth: 0.001 }), [t64(zv, [3, 4]), t64(kappa, [4])], {
      argnums: [0],
    });
    // A scalar threshold given as a number.
    const zs = rng()
      .normals(12)
      .map((v) => (Math.abs(v - 0.25) < 0.05 ? v + 0.1 : v));
    checkGrad((z) => jumpRelu(z, 0.25), [t64(zs, [12])]);
  });

  it('gradient wrt κ is the straight-through estimate −(κ/ε)·1{|z − κ| < ε/2}·g', () => {
    const eps = 0.5;
    const kappa = [0.3, -0.2, 0.5, 1.0];
    // Rows chosen so each feature has elements inside and outside the window, none on its edge.
    const zv = [0.35, -0.1, 0.9, 0.8, 0.2, -0.6, 0.6, 1.2, -1, -0.3, 0.4, 2.0];
    const W = new Rng(7).normals(12);
    const before = memory('js64').tensors;
    tidy(() => {
      const z = t64(zv, [3, 4]);
      const k = t64(kappa, [4]);
      const Wt = t64(W, [3, 4]);
      const gk = grad((kk: Tensor) => sum(mul(jumpRelu(z, kk, { bandwidth: eps }), Wt)))(k).dataSync();
      const expected = kappa.map((kc, c) => {
        let s = 0;
        for (let r = 0; r < 3; r++) {
          if (Math.abs(zv[r * 4 + c] - kc) < eps / 2) s += -(kc / eps) * W[r * 4 + c];
        }
        return s;
      });
      expect(expected.filter((v) => v !== 0).length).toBe(4);
      for (let c = 0; c < 4; c++) expect(gk[c]).toBeCloseTo(expected[c], 12);
      // Outside every window the estimate is exactly zero.
      const far = t64([5, 5, 5, 5], [4]);
      const gFar = grad((kk: Tensor) => sum(jumpRelu(far, kk, { bandwidth: eps })))(k).dataSync();
      expect(Array.from(gFar, (v) => v === 0)).toEqual([true, true, true, true]);
    });
    expect(memory('js64').tensors).toBe(before);
  });
});

// ----------------------------------------------------------------------------------- binary

describe('gradcheck: binary elementwise with broadcasting', () => {
  // Broadcasting over several axes, in both directions, with a rank difference.
  const pairs: [number[], number[]][] = [
    [
      [2, 1, 4],
      [3, 1],
    ],
    [
      [1, 3, 1],
      [2, 1, 4],
    ],
    [[2, 3, 4], []],
  ];
  const ops: [string, Fn, (sa: number[], sb: number[]) => Tensor[]][] = [
    ['add', add, (sa, sb) => [normal(sa), normal(sb)]],
    ['sub', sub, (sa, sb) => [normal(sa), normal(sb)]],
    ['mul', mul, (sa, sb) => [normal(sa), normal(sb)]],
    ['div', div, (sa, sb) => [normal(sa), away(sb, 0.5, 2)]],
    ['pow', pow, (sa, sb) => [uniform(sa, 0.5, 2), uniform(sb, -2, 2)]],
    ...(['maximum', 'minimum'] as const).map(
      (name): [string, Fn, (sa: number[], sb: number[]) => Tensor[]] => [
        name,
        name === 'maximum' ? maximum : minimum,
        (sa, sb) => {
          // Both operands drawn from one set of well-separated values: no ties anywhere.
          const v = rng().distinct(size(sa) + size(sb));
          return [t64(v.subarray(0, size(sa)), sa), t64(v.subarray(size(sa)), sb)];
        },
      ],
    ),
  ];
  for (const [name, f, make] of ops) {
    it.each(pairs)(`${name} %j with %j`, (sa, sb) => checkGrad(f, make(sa, sb)));
  }

  it('number operands (scalar made on the fly)', () => {
    checkGrad((x) => pow(x, 2.5), [uniform([2, 3], 0.5, 2)]);
    checkGrad((x) => div(3, x), [away([2, 3], 0.5, 2)]);
    checkGrad((x) => sub(1, mul(x, -2)), [normal([2, 3])]);
  });

  it('where with broadcast condition and branches', () => {
    const cond = t64([1, 0, 1], [3, 1]);
    checkGrad((c, a, b) => where(c, a, b), [cond, normal([3, 4]), normal([4])], { argnums: [1, 2] });
    const cond2 = t64([0, 1, 1, 0], [1, 4]);
    checkGrad((c, a, b) => where(c, a, b), [cond2, normal([3, 1]), normal([2, 3, 4])], { argnums: [1, 2] });
  });
});

// ----------------------------------------------------------------------------------- reductions

describe('gradcheck: reductions', () => {
  const X = [3, 4, 5];
  const axesCases: [number | number[] | undefined, boolean][] = [
    [undefined, false],
    [1, false],
    [[0, 2], false], // non-contiguous: transposed first
    [[0, 2], true],
    [[1, 2], true],
    [-1, true],
    [[0, 1], false],
  ];
  for (const [axes, keep] of axesCases) {
    const label = `axes ${JSON.stringify(axes)}${keep ? ' keepDims' : ''}`;
    it(`sum ${label}`, () => checkGrad((x) => sum(x, axes, keep), [normal(X)]));
    it(`max ${label}`, () => checkGrad((x) => max(x, axes, keep), [distinct(X)]));
    it(`min ${label}`, () => checkGrad((x) => min(x, axes, keep), [distinct(X)]));
    it(`mean ${label}`, () => checkGrad((x) => mean(x, axes, keep), [normal(X)]));
    it(`variance ${label}`, () => checkGrad((x) => variance(x, axes, keep), [normal(X)]));
    it(`logSumExp ${label}`, () => checkGrad((x) => logSumExp(x, axes, keep), [normal(X, 2)]));
  }
  it('variance with Bessel correction', () => {
    checkGrad((x) => variance(x, [0, 2], false, 1), [normal(X)]);
    checkGrad((x) => variance(x, undefined, true, 1), [normal([4, 5])]);
  });
});

// ----------------------------------------------------------------------------------- matmul

describe('gradcheck: matmul', () => {
  // [m, k] operands as stored for each transpose flag.
  const combos = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const;
  const stored = (batch: number[], r: number, c: number, t: boolean) => [...batch, ...(t ? [c, r] : [r, c])];
  for (const [tA, tB] of combos) {
    const opts = { transposeA: tA, transposeB: tB };
    const tag = `transposeA=${tA} transposeB=${tB}`;
    it(`2-D, ${tag}`, () =>
      checkGrad((a, b) => matmul(a, b, opts), [normal(stored([], 3, 4, tA)), normal(stored([], 4, 5, tB))]));
    it(`batched [2], ${tag}`, () =>
      checkGrad(
        (a, b) => matmul(a, b, opts),
        [normal(stored([2], 3, 4, tA)), normal(stored([2], 4, 3, tB))],
      ));
    it(`broadcast batch [2,1] with [3], ${tag}`, () =>
      checkGrad(
        (a, b) => matmul(a, b, opts),
        [normal(stored([2, 1], 3, 2, tA)), normal(stored([3], 2, 2, tB))],
      ));
    it(`batched with a shared 2-D operand, ${tag}`, () => {
      checkGrad((a, b) => matmul(a, b, opts), [normal(stored([2], 3, 4, tA)), normal(stored([], 4, 5, tB))]);
      checkGrad((a, b) => matmul(a, b, opts), [normal(stored([], 3, 4, tA)), normal(stored([2], 4, 5, tB))]);
    });
  }
  it('rank-1 operands', () => {
    checkGrad((a, b) => matmul(a, b), [normal([4]), normal([4, 3])]);
    checkGrad((a, b) => matmul(a, b), [normal([3, 4]), normal([4])]);
    checkGrad((a, b) => matmul(a, b), [normal([4]), normal([4])]);
    checkGrad((a, b) => matmul(a, b), [normal([2, 3, 4]), normal([4])]);
    checkGrad((a, b) => matmul(a, b), [normal([4]), normal([2, 4, 3])]);
    checkGrad((a, b) => matmul(a, b, { transposeA: true, transposeB: true }), [normal([4]), normal([3, 4])]);
  });
});

// ----------------------------------------------------------------------------------- shape ops

describe('gradcheck: shape ops', () => {
  it('reshape', () => {
    checkGrad((x) => reshape(x, [2, 6]), [normal([3, 4])]);
    checkGrad((x) => mul(reshape(x, [-1, 3]), reshape(x, [4, 3])), [normal([3, 4])]);
  });
  it('transpose', () => {
    checkGrad((x) => transpose(x, [2, 0, 1]), [normal([2, 3, 4])]);
    checkGrad((x) => transpose(x), [normal([2, 3, 4])]);
    checkGrad((x) => transpose(x, [0, 2, 1, 3]), [normal([2, 3, 2, 2])]);
  });
  it('slice', () => {
    checkGrad((x) => slice(x, [1, -3], [2, -1]), [normal([4, 5])]);
    checkGrad((x) => slice(x, [0, 1, 1], [2, 1, 3]), [normal([2, 3, 4])]);
  });
  it('pad', () => {
    checkGrad(
      (x) =>
        pad(
          x,
          [
            [1, 2],
            [0, 3],
          ],
          0.5,
        ),
      [normal([3, 4])],
    );
    checkGrad(
      (x) =>
        pad(x, [
          [0, 0],
          [2, 1],
          [1, 0],
        ]),
      [normal([2, 3, 2])],
    );
  });
  it('concat', () => {
    checkGrad((a, b, c) => concat([a, b, c], 1), [normal([2, 1, 3]), normal([2, 2, 3]), normal([2, 3, 3])]);
    checkGrad((a, b) => concat([a, b], 0), [normal([2, 3]), normal([1, 3])]);
    checkGrad((a, b) => concat([a, b], -1), [normal([2, 3]), normal([2, 2])]);
    // The same tensor twice: gradients of both uses add up.
    checkGrad((a) => concat([a, a], 0), [normal([2, 3])]);
  });
  it('stack', () => {
    checkGrad((a, b, c) => stack([a, b, c], 1), [normal([2, 3]), normal([2, 3]), normal([2, 3])]);
    checkGrad((a, b) => stack([a, b], -1), [normal([2, 3]), normal([2, 3])]);
  });
  it('gather with repeated indices', () => {
    checkGrad((x, i) => gather(x, i, 0), [normal([5, 3]), i64([4, 0, 4, 2, 4, 0], [2, 3])]);
    checkGrad((x, i) => gather(x, i, 1), [normal([3, 5]), i64([1, 1, 3, 0], [4])]);
    checkGrad((x, i) => gather(x, i, -1), [normal([2, 2, 4]), i64([3, 3, 3], [3])]);
  });
  it('scatterAdd', () => {
    checkGrad((u, i) => scatterAdd(u, i, 1, 5), [normal([2, 3, 4]), i64([4, 1, 4], [3])]);
    checkGrad((u, i) => scatterAdd(u, i, 0, 3), [normal([2, 2, 3]), i64([2, 0, 2, 2], [2, 2])]);
  });
  it('broadcastTo', () => {
    checkGrad((x) => broadcastTo(x, [2, 3, 4]), [normal([3, 1])]);
    checkGrad((x) => broadcastTo(x, [3, 4]), [normal([4])]);
    checkGrad((x) => broadcastTo(x, [2, 3, 4]), [normal([2, 1, 1])]);
  });
});

// ----------------------------------------------------------------------------------- nn

describe('gradcheck: softmax family and losses', () => {
  for (const axis of [-1, 1, 0]) {
    it(`softmax axis ${axis}`, () => checkGrad((x) => softmax(x, axis), [normal([3, 4, 5], 2)]));
    it(`logSoftmax axis ${axis}`, () => checkGrad((x) => logSoftmax(x, axis), [normal([3, 4, 5], 2)]));
  }
  for (const labelSmoothing of [0, 0.1]) {
    it(`crossEntropyBackward w.r.t. logits and g, labelSmoothing=${labelSmoothing}`, () => {
      const fused = (x: Tensor, y: Tensor, g: Tensor) =>
        runOp(CrossEntropyBackward, [x, y, g], { labelSmoothing })[0];
      checkGrad(fused, [normal([4, 5], 2), i64([0, 4, 2, 1], [4]), normal([4])]);
      checkGrad(fused, [normal([2, 3, 4], 2), i64([3, 0, 1, 1, 2, 0], [2, 3]), normal([2, 3])]);
    });
  }
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    for (const labelSmoothing of [0, 0.1]) {
      it(`crossEntropy reduction=${reduction} labelSmoothing=${labelSmoothing}`, () => {
        checkGrad(
          (x, y) => crossEntropy(x, y, { reduction, labelSmoothing }),
          [normal([6, 5], 2), i64([0, 4, 2, 2, 1, 3], [6])],
        );
        checkGrad(
          (x, y) => crossEntropy(x, y, { reduction, labelSmoothing }),
          [normal([2, 3, 4], 2), i64([3, 0, 1, 1, 2, 0], [2, 3])],
        );
      });
    }
    it(`mse reduction=${reduction}`, () =>
      checkGrad((p, t) => mse(p, t, { reduction }), [normal([3, 4]), normal([3, 4])]));
    it(`bceWithLogits reduction=${reduction}`, () =>
      checkGrad(
        (x, t) => bceWithLogits(x, t, { reduction }),
        [away([3, 4], 0.05, 3), uniform([3, 4], 0, 1)],
      ));
  }
});

describe('gradcheck: normalization', () => {
  it('layerNorm (x, gamma, beta)', () => {
    checkGrad((x, g, b) => layerNorm(x, g, b), [normal([3, 6], 2), normal([6]), normal([6])]);
    checkGrad((x) => layerNorm(x), [normal([2, 3, 4])]);
    checkGrad((x, g, b) => layerNorm(x, g, b, 0.1), [normal([4, 5]), normal([5]), normal([5])]);
  });
  it('rmsNorm (x, gamma)', () => {
    checkGrad((x, g) => rmsNorm(x, g), [normal([3, 6], 2), normal([6])]);
    checkGrad((x) => rmsNorm(x, undefined, 0.1), [normal([2, 3, 4])]);
  });
  it('batchNorm, inference op: x, mean, variance, gamma, beta', () => {
    checkGrad(
      (x, m, v, g, b) => batchNorm(x, m, v, { gamma: g, beta: b }),
      [normal([4, 3]), normal([3]), uniform([3], 0.5, 2), normal([3]), normal([3])],
    );
    checkGrad(
      (x, m, v) => batchNorm(x, m, v, { eps: 1e-3 }),
      [normal([2, 2, 2, 3]), normal([3]), uniform([3], 0.5, 2)],
    );
  });
  it('batchNormTraining: y, batch mean and variance as functions of x, gamma, beta', () => {
    const all = (x: Tensor, g: Tensor, b: Tensor) => {
      const r = batchNormTraining(x, { gamma: g, beta: b });
      return concat([reshape(r.y, [-1]), r.mean, r.variance]);
    };
    checkGrad(all, [normal([5, 3], 2), normal([3]), normal([3])]);
    checkGrad((x) => batchNormTraining(x).y, [normal([2, 2, 3, 2])]);
  });
});

describe('gradcheck: convolution and pooling', () => {
  const convCases: [string, number[], number[], Parameters<typeof conv2d>[2]][] = [
    ['stride 2, same padding', [1, 5, 5, 2], [3, 3, 2, 2], { strides: 2, padding: 'same' }],
    [
      'explicit asymmetric padding',
      [1, 4, 5, 2],
      [2, 3, 2, 2],
      {
        padding: [
          [1, 0],
          [0, 2],
        ],
      },
    ],
    ['padding 1, strides [2, 1]', [2, 4, 3, 1], [3, 2, 1, 3], { padding: 1, strides: [2, 1] }],
    ['dilation 2', [1, 6, 6, 1], [2, 2, 1, 3], { dilations: 2 }],
    ['groups 2', [1, 4, 3, 4], [2, 2, 2, 4], { groups: 2, padding: 'same' }],
  ];
  for (const [name, xs, ws, opts] of convCases) {
    it(`conv2d ${name}`, () => checkGrad((x, w) => conv2d(x, w, opts), [normal(xs), normal(ws)]));
    it(`conv2dBackpropInput and conv2dBackpropFilter ${name}, as functions of both inputs`, () => {
      const g = conv2dGeometry(xs, ws, opts);
      const dyShape = [g.batch, g.outH, g.outW, g.outC];
      checkGrad((dy, w) => conv2dBackpropInput(dy, w, g), [normal(dyShape), normal(ws)]);
      checkGrad((x, dy) => conv2dBackpropFilter(x, dy, g), [normal(xs), normal(dyShape)]);
    });
  }

  it('maxPool2d (distinct inputs: unique maxima)', () => {
    checkGrad((x) => maxPool2d(x, 2), [distinct([1, 4, 4, 2])]);
    checkGrad((x) => maxPool2d(x, 3, { strides: 2, padding: 'same' }), [distinct([2, 5, 5, 1])]);
    checkGrad((x) => maxPool2d(x, [2, 3], { strides: [1, 2] }), [distinct([1, 3, 5, 2])]);
  });
  it('avgPool2d with padding (padding excluded from the mean)', () => {
    checkGrad((x) => avgPool2d(x, 3, { strides: 2, padding: 1 }), [normal([1, 5, 5, 2])]);
    checkGrad((x) => avgPool2d(x, 2, { padding: 'same' }), [normal([1, 5, 5, 2])]);
    checkGrad(
      (x) =>
        avgPool2d(x, [2, 3], {
          strides: 1,
          padding: [
            [1, 0],
            [0, 1],
          ],
        }),
      [normal([2, 3, 4, 1])],
    );
  });
  it('avgPool2dBackward as a function of dy', () => {
    const g = pool2dGeometry('avgPool2d', [1, 5, 5, 2], 3, { strides: 2, padding: 1 });
    checkGrad((dy) => runOp(AvgPool2dBackward, [dy], g)[0], [normal([1, g.outH, g.outW, 2])]);
  });
  it('globalAvgPool', () => checkGrad(globalAvgPool, [normal([2, 3, 3, 2])]));
});

describe('coverage of this file', () => {
  afterAll(stopListening);
  it('every op with a backward rule ran in some gradcheck above', () => {
    const differentiable = [...opRegistry()]
      .filter(([name, def]) => def.backward && name !== 'maxPool2dBackward') // its backward throws by design
      .map(([name]) => name);
    expect(differentiable.length).toBeGreaterThan(40);
    expect(differentiable.filter((op) => !ran.has(op))).toEqual([]);
  });
});

/**
 * Second-order autograd: Hessian-vector products by nested `grad` and by `backward({ createGraph })`,
 * in float64 on `js64`, against central differences of the (first-order) gradient:
 *
 *     H·v ≈ (∇f(x + h·v) − ∇f(x − h·v)) / 2h,   h = 1e-5.
 *
 * Error budget: truncation h²/6·|∇⁴f[v,v,v]| ≈ 2e-11·O(10) for these smooth functions and unit-scale
 * v; rounding ≈ (error of a float64 gradient, ~1e-14·|∇f|) / h ≈ 1e-9. Tolerance 1e-6·(1 + |fd|)
 * leaves a wide margin over both while any wrong second-order rule is an O(1) error.
 */
import { describe, expect, it } from 'vitest';
import {
  add,
  conv2d,
  crossEntropy,
  DescentError,
  dispose,
  exp,
  grad,
  isGradEnabled,
  layerNorm,
  logSoftmax,
  logSumExp,
  matmul,
  maxPool2d,
  memory,
  mul,
  reshape,
  rmsNorm,
  slice,
  softmax,
  square,
  sum,
  type Tensor,
  tanh,
  tidy,
} from '../src/index.js';
import { i64, Rng, size, t64 } from './helpers.js';

const H = 1e-5;
const TOL = 1e-6;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = TOL) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let msg = '';
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i]));
    if (!(err <= worst)) {
      worst = err;
      msg = `${what}, element ${i}: got ${actual[i]}, expected ${expected[i]}`;
    }
  }
  expect(worst, msg).toBeLessThanOrEqual(tol);
}

/** ∇f at host values `xv`, as host values (nothing leaks). */
function gradAt(f: (x: Tensor) => Tensor, xv: Float64Array, shape: readonly number[]): Float64Array {
  return tidy(() => grad(f)(t64(xv, shape)).dataSync() as Float64Array);
}

/** Central difference of the gradient along v. */
function fdHvp(
  f: (x: Tensor) => Tensor,
  xv: Float64Array,
  v: Float64Array,
  shape: readonly number[],
): Float64Array {
  const gp = gradAt(
    f,
    xv.map((x, i) => x + H * v[i]),
    shape,
  );
  const gm = gradAt(
    f,
    xv.map((x, i) => x - H * v[i]),
    shape,
  );
  return gp.map((p, i) => (p - gm[i]) / (2 * H));
}

/** H·v by nested grad: grad(x => Σ grad(f)(x) ⊙ v)(x). */
function nestedHvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Float64Array {
  return tidy(() => grad((y: Tensor) => sum(mul(grad(f)(y), v)))(x).dataSync() as Float64Array);
}

/** Checks nested-grad H·v against finite differences at a random point, and that nothing leaks. */
function checkHvp(f: (x: Tensor) => Tensor, shape: number[], seed: number, scale = 1): void {
  const rng = new Rng(seed);
  const xv = rng.normals(size(shape), scale);
  const vv = rng.normals(size(shape));
  const before = memory('js64');
  const x = t64(xv, shape);
  const v = t64(vv, shape);
  const hv = nestedHvp(f, x, v);
  dispose([x, v]);
  expect(memory('js64').tensors).toBe(before.tensors);
  expect(memory('js64').bytes).toBe(before.bytes);
  const fd = fdHvp(f, xv, vv, shape);
  expect(Math.max(...fd.map(Math.abs)), 'H·v is not trivially zero').toBeGreaterThan(1e-3);
  expectClose(hv, fd, 'H·v');
}

// A small MLP: X [6, 4] → tanh(X·W1 + b1) [6, 5] → ·W2 [5, 3] → cross-entropy with labels.
const X = new Rng(1).normals(24);
const LABELS = [0, 2, 1, 1, 0, 2];
const N_W1 = 20;
const N_B1 = 5;
const N_W2 = 15;
function mlpLoss(W1: Tensor, b1: Tensor, W2: Tensor): Tensor {
  const x = t64(X, [6, 4]);
  const hidden = tanh(add(matmul(x, W1), b1));
  return crossEntropy(matmul(hidden, W2), i64(LABELS, [6]));
}
/** The MLP loss as a function of one flat parameter vector (so its Hessian has mixed blocks). */
const mlpOfTheta = (theta: Tensor) =>
  mlpLoss(
    reshape(slice(theta, [0], [N_W1]), [4, 5]),
    slice(theta, [N_W1], [N_B1]),
    reshape(slice(theta, [N_W1 + N_B1], [N_W2]), [5, 3]),
  );

describe('Hessian-vector products by nested grad', () => {
  it('small MLP (matmul + tanh + crossEntropy), all parameters at once', () => {
    checkHvp(mlpOfTheta, [N_W1 + N_B1 + N_W2], 11, 0.7);
  });

  it('softmax and logSumExp', () => {
    const C = new Rng(2).normals(12);
    const D = new Rng(3).normals(4);
    checkHvp(
      (x) => add(sum(mul(softmax(x, -1), t64(C, [3, 4]))), sum(mul(logSumExp(x, 0), t64(D, [4])))),
      [3, 4],
      12,
      1.5,
    );
    // Non-last axis (transposes around the kernel) and logSoftmax.
    checkHvp((x) => sum(mul(softmax(x, 0), t64(C, [3, 4]))), [3, 4], 13, 1.5);
    checkHvp((x) => sum(mul(logSoftmax(x, 1), t64(C, [3, 4]))), [3, 4], 14, 1.5);
    checkHvp((x) => logSumExp(x, [0, 1]), [3, 4], 15, 1.5);
  });

  it('layerNorm and rmsNorm', () => {
    const C = new Rng(4).normals(15);
    const gamma = new Rng(5).normals(5);
    const beta = new Rng(6).normals(5);
    checkHvp((x) => sum(mul(layerNorm(x, t64(gamma, [5]), t64(beta, [5])), t64(C, [3, 5]))), [3, 5], 16);
    checkHvp((x) => sum(mul(rmsNorm(x, t64(gamma, [5])), t64(C, [3, 5]))), [3, 5], 17);
  });

  it('conv2d, with respect to the input and to the filter', () => {
    const opts = { strides: 2, padding: 'same' as const };
    const xShape = [1, 5, 5, 2];
    const wShape = [3, 3, 2, 3];
    const xv = new Rng(7).normals(size(xShape));
    const wv = new Rng(8).normals(size(wShape), 0.5);
    // A fixed random linear read-out of tanh(conv): tanh makes the Hessian depend on the conv's backward rules.
    const head = (y: Tensor) => sum(mul(tanh(y), t64(new Rng(9).normals(y.size), y.shape)));
    checkHvp((x) => head(conv2d(x, t64(wv, wShape), opts)), xShape, 18);
    checkHvp((w) => head(conv2d(t64(xv, xShape), w, opts)), wShape, 19, 0.5);
    // Dilation and groups too.
    checkHvp(
      (w) => head(conv2d(t64(new Rng(10).normals(4 * 4 * 4), [1, 4, 4, 4]), w, { dilations: 2, groups: 2 })),
      [2, 2, 2, 4],
      20,
      0.5,
    );
  });
});

describe('backward({ createGraph: true }) then a second backward', () => {
  it('gives the MLP gradient and then H·v for two parameters (mixed second partials)', () => {
    const rng = new Rng(21);
    const w1v = rng.normals(N_W1, 0.7);
    const b1v = rng.normals(N_B1, 0.7);
    const w2v = rng.normals(N_W2, 0.7);
    const v1 = rng.normals(N_W1);
    const v2 = rng.normals(N_W2);
    const before = memory('js64');
    const W1 = t64(w1v, [4, 5]).requireGrad();
    const b1 = t64(b1v, [5]);
    const W2 = t64(w2v, [5, 3]).requireGrad();
    let g1: Float64Array;
    let g2: Float64Array;
    let h1: Float64Array;
    let h2: Float64Array;
    tidy(() => {
      const loss = mlpLoss(W1, b1, W2);
      loss.backward(undefined, { createGraph: true });
      const gW1 = W1.grad!;
      const gW2 = W2.grad!;
      expect(gW1.requiresGrad && gW2.requiresGrad, 'gradients built with createGraph are on the tape').toBe(
        true,
      );
      g1 = gW1.dataSync() as Float64Array;
      g2 = gW2.dataSync() as Float64Array;
      W1.grad = null;
      W2.grad = null;
      const s = add(sum(mul(gW1, t64(v1, [4, 5]))), sum(mul(gW2, t64(v2, [5, 3]))));
      s.backward();
      h1 = W1.grad!.dataSync() as Float64Array;
      h2 = W2.grad!.dataSync() as Float64Array;
      dispose([gW1, gW2]); // leaf gradients survive tidy: the caller frees them
    });
    // First order agrees with grad().
    const [e1, e2] = tidy(() =>
      grad((a: Tensor, c: Tensor) => mlpLoss(a, b1, c), [0, 1])(W1, W2).map((g) => g.dataSync()),
    );
    expectClose(g1!, e1, 'dL/dW1', 1e-12);
    expectClose(g2!, e2, 'dL/dW2', 1e-12);
    // Second order against central differences of the gradient along (v1, v2) jointly.
    const gradsAt = (s: number) =>
      tidy(() =>
        grad((a: Tensor, c: Tensor) => mlpLoss(a, b1, c), [0, 1])(
          t64(
            w1v.map((x, i) => x + s * v1[i]),
            [4, 5],
          ),
          t64(
            w2v.map((x, i) => x + s * v2[i]),
            [5, 3],
          ),
        ).map((g) => g.dataSync()),
      );
    const [p1, p2] = gradsAt(H);
    const [m1, m2] = gradsAt(-H);
    expectClose(
      h1!,
      p1.map((p, i) => (p - m1[i]) / (2 * H)),
      'H·v, W1 block',
    );
    expectClose(
      h2!,
      p2.map((p, i) => (p - m2[i]) / (2 * H)),
      'H·v, W2 block',
    );
    expect(Math.max(...h1!.map(Math.abs))).toBeGreaterThan(1e-3);
    dispose([W1, b1, W2]); // disposes their .grad too
    expect(memory('js64').tensors).toBe(before.tensors);
    expect(memory('js64').bytes).toBe(before.bytes);
  });

  it('agrees with nested grad for layerNorm', () => {
    const rng = new Rng(22);
    const xv = rng.normals(15);
    const vv = rng.normals(15);
    const C = rng.normals(15);
    const f = (x: Tensor) => sum(mul(layerNorm(x), t64(C, [3, 5])));
    const before = memory('js64').tensors;
    const x = t64(xv, [3, 5]).requireGrad();
    const v = t64(vv, [3, 5]);
    const viaBackward = tidy(() => {
      f(x).backward(undefined, { createGraph: true });
      const g = x.grad!;
      x.grad = null;
      sum(mul(g, v)).backward();
      g.dispose();
      return x.grad!.dataSync();
    });
    x.requiresGrad = false;
    const viaGrad = nestedHvp(f, x, v);
    expectClose(viaBackward, viaGrad, 'createGraph H·v vs nested grad', 1e-12);
    expectClose(viaGrad, fdHvp(f, xv, vv, [3, 5]), 'H·v');
    dispose([x, v]);
    expect(memory('js64').tensors).toBe(before);
  });
});

describe("backward({ createGraph }) when the root op's rule uses the seed gradient directly", () => {
  it('exp(Σ x²): the second backward goes through mul(seed, y)', () => {
    // d/dxᵢ Σⱼ ∂L/∂xⱼ with L = exp(s), s = Σ x², ∂L/∂xⱼ = 2xⱼ·eˢ: eˢ·(2 + 4xᵢ·Σⱼ xⱼ).
    const xv = [0.1, 0.2, -0.3];
    const before = memory('js64');
    const x = t64(xv, [3]).requireGrad();
    const hv = tidy(() => {
      exp(sum(square(x))).backward(undefined, { createGraph: true });
      const g = x.grad!;
      x.grad = null;
      sum(g).backward();
      g.dispose();
      return x.grad!.dataSync();
    });
    const es = Math.exp(xv.reduce((a, b) => a + b * b, 0));
    const sx = xv.reduce((a, b) => a + b, 0);
    expectClose(
      hv,
      xv.map((xi) => es * (2 + 4 * xi * sx)),
      'H·1',
      1e-14,
    );
    dispose(x);
    expect(memory('js64').tensors).toBe(before.tensors);
    expect(memory('js64').bytes).toBe(before.bytes);
  });
});

describe('maxPool2d second order', () => {
  const SECOND_ORDER = /maxPool2dBackward: second-order gradients through maxPool2d are not supported/;
  const xv = new Rng(30).distinct(16);
  // Σ maxPool(x)² so the pooled gradient depends on x and the second pass must go through maxPool2dBackward.
  const f = (x: Tensor) => sum(square(maxPool2d(x, 2)));

  it('first order works; nested grad throws the documented error and leaves the library usable', () => {
    const before = memory('js64');
    const x = t64(xv, [1, 4, 4, 1]);
    const v = t64(new Rng(31).normals(16), [1, 4, 4, 1]);
    const g = tidy(() => grad(f)(x).dataSync());
    expect(g.filter((e) => e !== 0).length).toBe(4); // one max per 2×2 window
    let err: unknown;
    try {
      tidy(() => grad((y: Tensor) => sum(mul(grad(f)(y), v)))(x));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DescentError);
    expect((err as DescentError).op).toBe('maxPool2dBackward');
    expect((err as Error).message).toMatch(SECOND_ORDER);
    expect(isGradEnabled()).toBe(true);
    // Still works afterwards, and nothing leaked.
    expect(Array.from(tidy(() => grad(f)(x).dataSync()))).toEqual(Array.from(g));
    dispose([x, v]);
    expect(memory('js64').tensors).toBe(before.tensors);
    expect(memory('js64').bytes).toBe(before.bytes);
  });

  it('backward({ createGraph }) then a second backward throws the same error', () => {
    const before = memory('js64');
    const x = t64(xv, [1, 4, 4, 1]).requireGrad();
    let g: Tensor | null = null;
    expect(() =>
      tidy(() => {
        f(x).backward(undefined, { createGraph: true });
        g = x.grad!;
        x.grad = null;
        sum(mul(g, g)).backward();
      }),
    ).toThrow(SECOND_ORDER);
    expect(isGradEnabled()).toBe(true);
    // The first pass's gradient was kept past tidy (as leaf gradients are); nothing else survives.
    dispose([g, x]);
    expect(memory('js64').tensors).toBe(before.tensors);
    expect(memory('js64').bytes).toBe(before.bytes);
  });
});

import { dispose, memory, mul, sum, type Tensor } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { adaptiveGradClip, clipGradNorm, clipGradValue, GradientAccumulator, SGD } from '../src/index.js';
import { expectClose, free, host, Rng, sizeOf, t64 } from './numeric.js';

/** A js64 parameter whose .grad is set to the given values (through a linear loss Σ g ⊙ p). */
function paramWithGrad(values: Float64Array, gvals: Float64Array, shape: number[]): Tensor {
  const p = t64(values, shape).requireGrad();
  const g = t64(gvals, shape);
  sum(mul(p, g)).backward();
  g.dispose();
  return p;
}

// Clipping multiplies each gradient element by one computed factor (or clamps it): in float64 the
// library and the reference below agree to a few ulps. Tolerance 1e-14 relative.
const TOL = 1e-14;

describe('clipGradNorm', () => {
  for (const normType of [2, 1, 3, Number.POSITIVE_INFINITY]) {
    it(`scales all gradients by min(1, maxNorm/(‖g‖+1e-6)) for normType ${normType}`, () => {
      const rng = new Rng(normType === Number.POSITIVE_INFINITY ? 99 : normType);
      const shapes = [[3, 4], [5], [2, 2, 2]];
      const gs = shapes.map((s) => rng.normals(sizeOf(s)));
      const ps = shapes.map((s, i) => paramWithGrad(rng.normals(sizeOf(s)), gs[i], s));
      const flat = gs.flatMap((g) => Array.from(g));
      const norm =
        normType === Number.POSITIVE_INFINITY
          ? Math.max(...flat.map(Math.abs))
          : flat.reduce((s, v) => s + Math.abs(v) ** normType, 0) ** (1 / normType);
      const maxNorm = norm / 3;
      const before = memory('js64').tensors;
      const total = clipGradNorm(ps, maxNorm, { normType });
      expect(memory('js64').tensors).toBe(before + 1); // only the returned norm
      expect(Math.abs(total.item() - norm) / norm).toBeLessThan(1e-14);
      const coef = maxNorm / (norm + 1e-6);
      for (const [i, p] of ps.entries()) {
        expectClose(
          host(p.grad!),
          gs[i].map((v) => v * coef),
          TOL,
          `grad ${i}`,
        );
      }
      total.dispose();
      // Below the limit nothing changes (the factor is clamped to exactly 1).
      const clipped = ps.map((p) => Array.from(host(p.grad!)));
      const t2 = clipGradNorm(ps, 1e9, { normType });
      for (const [i, p] of ps.entries()) expect(Array.from(host(p.grad!))).toEqual(clipped[i]);
      t2.dispose();
      free(...ps);
    });
  }

  it('errors on non-finite norms when asked, and on bad arguments', () => {
    const p = paramWithGrad(Float64Array.from([1, 2]), Float64Array.from([Number.POSITIVE_INFINITY, 1]), [2]);
    const before = memory('js64').tensors;
    expect(() => clipGradNorm([p], 1, { errorIfNonfinite: true })).toThrow(
      /clipGradNorm: the total norm of order 2 .* is Infinity/,
    );
    expect(memory('js64').tensors).toBe(before);
    expect(() => clipGradNorm([p], -1)).toThrow(/maxNorm must be >= 0/);
    expect(() => clipGradNorm([p], 1, { normType: 0 })).toThrow(/normType must be > 0/);
    const q = t64([1], [1]).requireGrad();
    expect(() => clipGradNorm([q], 1)).toThrow(/no parameter has a gradient/);
    free(p, q);
  });
});

describe('clipGradValue', () => {
  it('clamps each element exactly', () => {
    const g = Float64Array.from([-3, -0.5, 0, 0.25, 2, 7]);
    const p = paramWithGrad(new Float64Array(6), g, [2, 3]);
    clipGradValue([p], 1);
    expect(Array.from(host(p.grad!))).toEqual([-1, -0.5, 0, 0.25, 1, 1]);
    expect(() => clipGradValue([p], -1)).toThrow(/clipValue must be >= 0/);
    free(p);
  });
});

describe('adaptiveGradClip (AGC)', () => {
  it('clips each output unit to λ·max(‖W_i‖, eps), leaving small ones untouched', () => {
    const rng = new Rng(5);
    // [in 3, out 4]: units are columns. Scale column 1 of W to ~0 so eps floors its norm.
    const w = rng.normals(12);
    for (let i = 0; i < 3; i++) w[i * 4 + 1] = 1e-5;
    const g = rng.normals(12, 0.05);
    for (let i = 0; i < 3; i++) g[i * 4 + 2] *= 1e-3; // column 2: well under the limit
    const p = paramWithGrad(w, g, [3, 4]);
    const bias = paramWithGrad(rng.normals(4), rng.normals(4, 0.5), [4]);
    const biasW = host(bias);
    const biasG = host(bias.grad!);
    const lambda = 0.02;
    const eps = 1e-3;
    adaptiveGradClip([p, bias], { clipping: lambda, eps });
    const want = g.slice();
    for (let j = 0; j < 4; j++) {
      let wn = 0;
      let gn = 0;
      for (let i = 0; i < 3; i++) {
        wn += w[i * 4 + j] ** 2;
        gn += g[i * 4 + j] ** 2;
      }
      const maxNorm = Math.max(Math.sqrt(wn), eps) * lambda;
      gn = Math.sqrt(gn);
      if (gn > maxNorm)
        for (let i = 0; i < 3; i++) want[i * 4 + j] = (g[i * 4 + j] * maxNorm) / Math.max(gn, 1e-6);
    }
    expectClose(host(p.grad!), want, TOL, 'weight grad');
    // The test data exercises both branches.
    expect(want[2]).toBe(g[2]);
    expect(want[0]).not.toBe(g[0]);
    // A vector is one unit.
    const bw = Math.sqrt(biasW.reduce((s, v) => s + v * v, 0));
    const bg = Math.sqrt(biasG.reduce((s, v) => s + v * v, 0));
    const bmax = Math.max(bw, eps) * lambda;
    expectClose(
      host(bias.grad!),
      biasG.map((v) => (bg > bmax ? (v * bmax) / bg : v)),
      TOL,
      'bias grad',
    );
    expect(() => adaptiveGradClip([p], { clipping: 0 })).toThrow(/clipping must be > 0/);
    free(p, bias);
  });
});

describe('GradientAccumulator', () => {
  it('steps on the mean gradient of `steps` micro-batches, and rescales a partial group', () => {
    const x0 = [0.5, -1];
    const x = t64(x0, [2]).requireGrad();
    const opt = new SGD([x], { lr: 0.1 });
    const acc = new GradientAccumulator(opt, 3);
    // Micro-batch k has loss Σ (k+1)·x: gradient (k+1) per element.
    const stepped: boolean[] = [];
    for (let k = 0; k < 5; k++) stepped.push(acc.backward(mul(sum(x), k + 1)));
    expect(stepped).toEqual([false, false, true, false, false]);
    // First step: mean gradient (1+2+3)/3 = 2.
    // Partial group of 2 (gradients 4, 5): flush uses their mean 4.5.
    expect(x.grad).not.toBeNull();
    expect(acc.flush()).toBe(true);
    expect(acc.flush()).toBe(false);
    expectClose(
      host(x),
      x0.map((v) => v - 0.1 * 2 - 0.1 * 4.5),
      1e-15,
    );
    expect(x.grad).toBeNull();
    expect(() => new GradientAccumulator(opt, 0)).toThrow(/steps must be a positive integer/);
    opt.dispose();
    dispose(x);
  });
});

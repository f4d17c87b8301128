/**
 * Dense accuracy sweeps of the WGSL math (src/webgpu/wgsl-math.ts) against the float64 reference:
 * the worst error relative to the true value, in units of u = 2⁻²⁴ (f32 ULPs, roughly). The
 * conformance suite samples these functions at random points; these sweeps cover the regions that
 * break naive formulas — erfc's far tail (down to ~1e−38), gelu's negative tail, tanh near 0,
 * softplus for very negative x, and exp/log over their whole range. Inputs are exact f32 values, so
 * the input's own rounding is not part of the error. Measured on lavapipe: ≤ 1.4 (exp), ≤ 3.8
 * (everything else) ULP; the bounds leave room for other adapters' arithmetic.
 */
import {
  engine,
  erf,
  erfc,
  exp,
  gelu,
  log,
  sigmoid,
  softplus,
  type Tensor,
  tanh,
  tensor,
} from '@descent/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend } from '../src/index.js';
import { runGPU } from './gpu.js';

const NAME = 'webgpu-math';
const U = 2 ** -24;

const range = (lo: number, hi: number, n: number) =>
  Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

const SWEEPS: [string, (x: Tensor) => Tensor, Float32Array, number][] = [
  ['exp on [−87, 88]', exp, range(-87, 88, 4001), 3],
  [
    'log on [1e−30, 1e30] (log-spaced) and on [0.9, 1.1]',
    log,
    Float32Array.from([...range(-69, 69, 2001).map(Math.exp), ...range(0.9, 1.1, 2001)]),
    6,
  ],
  ['tanh on [−1e−3, 1e−3]', tanh, range(-1e-3, 1e-3, 1001), 6],
  ['tanh on [−10, 10]', tanh, range(-10, 10, 2001), 6],
  ['sigmoid on [−87, 30]', sigmoid, range(-87, 30, 2001), 6],
  ['softplus on [−80, 20]', softplus, range(-80, 20, 2001), 6],
  ['erf on [−4, 4]', erf, range(-4, 4, 4001), 6],
  ['erfc on [−4, 0.5]', erfc, range(-4, 0.5, 2001), 6],
  ['erfc far tail on [0.5, 9.5] (erfc down to 1e−37)', erfc, range(0.5, 9.5, 4001), 8],
  ['gelu negative tail on [−12, −0.5]', (x) => gelu(x), range(-12, -0.5, 2001), 8],
  ['gelu on [−0.5, 5]', (x) => gelu(x), range(-0.5, 5, 2001), 6],
];

describe.runIf(runGPU)('WGSL math accuracy (relative error in f32 ULPs)', () => {
  beforeAll(async () => {
    engine.registerBackend(NAME, () => createWebGPUBackend({ name: NAME }), { replace: true });
    await engine.initBackend(NAME);
    await engine.initBackend('js64');
  });

  for (const [name, f, xs, bound] of SWEEPS) {
    it(`${name}: ≤ ${bound} ULP`, async () => {
      const got = await engine.tidy(() => f(tensor(xs, [xs.length], { backend: NAME }))).data();
      const want = engine.tidy(() => f(tensor(xs, [xs.length], { backend: 'js64' })).dataSync());
      let worst = 0;
      let at = Number.NaN;
      for (let i = 0; i < xs.length; i++) {
        if (Math.abs(want[i]) < 2 ** -126) continue; // subnormal results: absolute floor, not relative
        const e = Math.abs(got[i] - want[i]) / (Math.abs(want[i]) * U);
        if (!(e <= worst)) {
          worst = e;
          at = xs[i];
        }
      }
      expect(worst, `worst ${worst.toFixed(2)} ULP at x = ${at}`).toBeLessThanOrEqual(bound);
    });
  }
});

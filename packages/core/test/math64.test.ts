import { describe, expect, it } from 'vitest';
import { erf, erfc, gelu } from '../src/backends/js/math64.js';

// Reference values from CPython's math.erf / math.erfc (correctly rounded to ~1 ulp).
const ERF: [number, number][] = [
  [0.5, 0.5204998778130465],
  [2.9, 0.9999589021219005],
  [3.5, 0.9999992569016276],
];
const ERFC: [number, number][] = [
  [0.5, 0.4795001221869535],
  [3.5, 7.430983723414128e-7],
  [10, 2.088487583762545e-45],
  [-3.5, 1.9999992569016276],
];

describe('float64 reference math', () => {
  it('erf and erfc match high-precision values (relative 1e-12)', () => {
    for (const [x, v] of ERF) expect(Math.abs(erf(x) - v)).toBeLessThanOrEqual(1e-12 * Math.abs(v));
    for (const [x, v] of ERFC) expect(Math.abs(erfc(x) - v)).toBeLessThanOrEqual(1e-12 * Math.abs(v));
  });

  it('gives the limits at ±∞ and propagates NaN', () => {
    expect(erf(Number.POSITIVE_INFINITY)).toBe(1);
    expect(erf(Number.NEGATIVE_INFINITY)).toBe(-1);
    expect(erfc(Number.POSITIVE_INFINITY)).toBe(0);
    expect(erfc(Number.NEGATIVE_INFINITY)).toBe(2);
    expect(gelu(Number.POSITIVE_INFINITY, 'none')).toBe(Number.POSITIVE_INFINITY);
    expect(gelu(Number.POSITIVE_INFINITY, 'tanh')).toBe(Number.POSITIVE_INFINITY);
    // −∞·Φ(−∞) = −∞·0 is NaN in IEEE arithmetic, as silu(−∞) = −∞·σ(−∞) is: every backend agrees.
    expect(gelu(Number.NEGATIVE_INFINITY, 'none')).toBeNaN();
    expect(erf(Number.NaN)).toBeNaN();
    expect(erfc(Number.NaN)).toBeNaN();
  });
});

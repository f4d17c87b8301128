/**
 * Scalar math for the reference backend, in float64. JavaScript has no Math.erf, so it is here:
 * - erf(x) for |x| < 3 by its Maclaurin series (terms peak near e^(x²) ≈ 8·10³, so ~4 of the 16
 *   digits are lost: still ~1e-12 absolute);
 * - erfc(x) for x ≥ 3 by Lentz's evaluation of the continued fraction (fast there and accurate
 *   relative to the tiny result, down to underflow), and erf = 1 − erfc beyond 3.
 */
function erfSeries(x: number): number {
  // erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
  let term = x;
  let sum = x;
  const x2 = x * x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** erfc(x) for x ≥ 3: e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
function erfcTail(x: number): number {
  if (x === Number.POSITIVE_INFINITY) return 0; // the fraction below would compute e^(−∞)/∞·… = 0·∞
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (Math.abs(x) < 3) return erfSeries(x);
  return Math.sign(x) * (1 - erfcTail(Math.abs(x)));
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 3) return erfcTail(x);
  if (x <= -3) return 2 - erfcTail(-x);
  return 1 - erfSeries(x);
}

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + eˣ) = max(x, 0) + log1p(e^(−|x|)), exact for large |x|. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU: x·Φ(x) with Φ(x) = ½·erfc(−x/√2) (accurate in the negative tail); tanh form as x·σ(2u). */
export function gelu(x: number, approximate: 'none' | 'tanh'): number {
  if (approximate === 'tanh') return x * sigmoid(2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

// float64 references for the accuracy sweep and the tests (plain, obviously-correct formulas).
const SQRT_PI = Math.sqrt(Math.PI);

/** erf(x) in float64: Taylor series for |x| < 2.5, continued fraction for erfc beyond. */
export function erf64(x) {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < 2.5) {
    // erf x = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = a;
    let sum = a;
    const z = a * a;
    for (let n = 1; n < 200; n++) {
      term *= -z / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / SQRT_PI) * sum;
  }
  return Math.sign(x) * (1 - erfcLarge(a));
}

/** erfc(a) for a ≥ 2.5: exp(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))) (Lentz). */
function erfcLarge(a) {
  if (a > 27) return 0;
  // continued fraction K = a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...)))), erfc = exp(−a²)/(√π K)
  let f = a;
  let C = a;
  let D = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    D = a + an * D;
    D = D === 0 ? 1e-300 : 1 / D;
    C = a + an / C;
    if (C === 0) C = 1e-300;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-a * a) / (SQRT_PI * f);
}

/** erfc(x) in float64. */
export function erfc64(x) {
  if (Number.isNaN(x)) return NaN;
  if (x >= 2.5) return erfcLarge(x);
  if (x <= -2.5) return 2 - erfcLarge(-x);
  return 1 - erf64(x);
}

export const exp64 = Math.exp;
export const log64 = Math.log;
export const tanh64 = Math.tanh;
export function sigmoid64(x) {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
export function geluErf64(x) {
  return 0.5 * x * erfc64(-x / Math.SQRT2);
}
export function geluTanh64(x) {
  // ½x(1 + tanh u) = x·σ(2u), written without the cancellation of 1 + tanh u for u ≪ 0
  const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
  return x * sigmoid64(2 * u);
}
export function softplus64(x) {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}
export function silu64(x, beta = 1) {
  return x * sigmoid64(beta * x);
}

/** ulp distance between an f32 result y and an f64 reference (NaN/inf must match exactly). */
export function ulpError(y, ref) {
  if (Number.isNaN(ref)) return Number.isNaN(y) ? 0 : Infinity;
  const r32 = Math.fround(ref);
  if (!Number.isFinite(r32) || !Number.isFinite(y)) return y === r32 ? 0 : Infinity;
  const a = Math.abs(ref);
  if (a === 0) return y === 0 ? 0 : Math.abs(y) / 2 ** -149;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** Math.max(e - 23, -149);
  return Math.abs(y - ref) / ulp;
}

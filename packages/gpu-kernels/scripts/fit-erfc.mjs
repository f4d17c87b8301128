#!/usr/bin/env node
// Fits the piecewise polynomials the WGSL erfc uses: g(x) = erfc(x)·exp(x²) on [0.5, 10.5], one
// polynomial in t = x − center per interval, from Chebyshev interpolation of g computed in float64 by
// the continued fraction g(x) = 1/√π / (x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) evaluated backwards with
// many terms. Prints the f32 coefficients (paste into src/webgpu/wgsl-math.ts) and the worst relative
// error of the f32 Horner evaluation (emulated with Math.fround) against the float64 g.
const fr = Math.fround;
function g(x) {
  let f = x;
  for (let n = 200000; n >= 1; n--) f = x + n / 2 / f;
  return 1 / Math.sqrt(Math.PI) / f;
}
function chebFit(fn, a, b, deg) {
  const N = deg + 1;
  const xs = [],
    ys = [];
  for (let k = 0; k < N; k++) {
    const s = Math.cos((Math.PI * (k + 0.5)) / N);
    xs.push(s);
    ys.push(fn(((b - a) / 2) * s + (a + b) / 2));
  }
  const c = new Array(N).fill(0);
  for (let j = 0; j < N; j++) {
    let acc = 0;
    for (let k = 0; k < N; k++) acc += ys[k] * Math.cos((Math.PI * j * (k + 0.5)) / N);
    c[j] = ((j === 0 ? 1 : 2) / N) * acc;
  }
  // Chebyshev → monomial in s (T_{j+1} = 2 s T_j − T_{j−1}).
  let Tprev = [1],
    Tcur = [0, 1];
  const mono = new Array(N).fill(0);
  mono[0] += c[0];
  if (N > 1) mono[1] += c[1];
  for (let j = 2; j < N; j++) {
    const Tnext = new Array(j + 1).fill(0);
    for (let i = 0; i < Tcur.length; i++) Tnext[i + 1] += 2 * Tcur[i];
    for (let i = 0; i < Tprev.length; i++) Tnext[i] -= Tprev[i];
    for (let i = 0; i <= j; i++) mono[i] += c[j] * Tnext[i];
    Tprev = Tcur;
    Tcur = Tnext;
  }
  // s = t · 2/(b−a)
  const k = 2 / (b - a);
  return mono.map((m, i) => m * k ** i);
}
const intervals = [
  [0.5, 1.5, 12],
  [1.5, 2.75, 12],
  [2.75, 4.5, 12],
  [4.5, 7, 12],
  [7, 10.5, 10],
];
const out = [];
for (const [a, b, deg] of intervals) {
  const c = (a + b) / 2;
  const coef = chebFit(g, a, b, deg).map(fr);
  let worst = 0;
  for (let i = 0; i <= 2000; i++) {
    const x = fr(a + ((b - a) * i) / 2000);
    const t = fr(x - c);
    let p = coef[deg];
    for (let j = deg - 1; j >= 0; j--) p = fr(fr(p * t) + coef[j]);
    worst = Math.max(worst, Math.abs(p / g(x) - 1));
  }
  out.push({ a, b, c, coef });
  console.error(`[${a}, ${b}) degree ${deg}: worst f32 relative error ${(worst / 2 ** -24).toFixed(2)} u`);
}
console.log(
  JSON.stringify(
    out.map(({ a, b, c, coef }) => ({ a, b, c, coef: coef.map((v) => Number(v.toPrecision(9))) })),
  ),
);

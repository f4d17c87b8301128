// Vectorized transcendental functions on f32x4 (all @inline, so they fuse into the loops that use them).
// Accuracy (max ulp / relative error over every f32 input) is measured by test/accuracy and listed in the
// package README.
import { fma, splat, isplat } from './common';

// ---- exp ------------------------------------------------------------------------------------------
// exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln2 (ln2 split in a hi part with few bits, so
// n·LN2_HI is exact, and a lo correction). e^r on [−ln2/2, ln2/2] by a degree-7 polynomial
// (1 + r + r²·P(r), Cephes expf coefficients). 2^n is built in the exponent field as two factors
// 2^(n>>1) · 2^(n − n>>1), so results in the subnormal range round once, gracefully, and results past
// FLT_MAX overflow to +inf by themselves. x is clamped to [−104, 89] first (exp(−104) < 2^−150 rounds to 0,
// exp(89) > FLT_MAX), NaN lanes are restored at the end.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375; // 9 significant bits
const LN2_LO: f32 = -2.12194440e-4;
const ROUND_MAGIC: f32 = 12582912.0; // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
const EXP_MAX: f32 = 89.0;
const EXP_MIN: f32 = -104.0;

@inline function expPoly(r: v128): v128 {
  let p = fma(splat(1.9875691500e-4), r, splat(1.3981999507e-3));
  p = fma(p, r, splat(8.3334519073e-3));
  p = fma(p, r, splat(4.1665795894e-2));
  p = fma(p, r, splat(1.6666665459e-1));
  p = fma(p, r, splat(5.0000001201e-1));
  const r2 = f32x4.mul(r, r);
  return f32x4.add(fma(p, r2, r), splat(1.0));
}

/** e^(x + lo) for a clamped x and a small correction lo (|lo| ≪ 1). */
@inline function expScaled(x: v128, lo: v128, useLo: bool): v128 {
  // n = round(x·log2e) via the magic-number trick: t = x·log2e + 1.5·2^23 holds n in its low bits.
  const t = fma(x, splat(LOG2E), splat(ROUND_MAGIC));
  const nf = f32x4.sub(t, splat(ROUND_MAGIC));
  const ni = i32x4.sub(t, splat(ROUND_MAGIC)); // bit patterns differ by n (|n| < 2^22)
  let r = fma(nf, splat(-LN2_HI), x);
  if (useLo) r = f32x4.add(r, lo);
  r = fma(nf, splat(-LN2_LO), r);
  const p = expPoly(r);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, isplat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, isplat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

@inline function clampExpArg(x: v128): v128 {
  // pmin/pmax are single instructions; NaN lanes are fixed by the caller.
  return f32x4.pmax(f32x4.pmin(x, splat(EXP_MAX)), splat(EXP_MIN));
}

/** e^x, lane-wise, with Math.exp's special cases (±inf, NaN, overflow, graceful underflow). */
@inline export function vexp(x: v128): v128 {
  const y = expScaled(clampExpArg(x), x, false);
  return v128.bitselect(x, y, f32x4.ne(x, x));
}

/** e^(hi + lo) where hi + lo is an argument carried in two floats (|lo| ≤ ulp(hi)); hi is not NaN. */
@inline export function vexpHiLo(hi: v128, lo: v128): v128 {
  return expScaled(clampExpArg(hi), lo, true);
}

// ---- log ------------------------------------------------------------------------------------------
// x = m · 2^e with m in [√½, √2); log x = e·ln2 + log1p(m − 1), log1p by the Cephes logf polynomial.
// Subnormal inputs are scaled by 2^23 first. log(0) = −inf, log(x<0) = NaN, log(+inf) = +inf.

@inline export function vlog(x: v128): v128 {
  const sub = f32x4.lt(x, splat(1.17549435e-38)); // subnormal (or ≤ 0: those lanes are replaced below)
  const xs = v128.bitselect(f32x4.mul(x, splat(8388608.0)), x, sub);
  const ebias = v128.bitselect(isplat(126 + 23), isplat(126), sub);
  let e = i32x4.sub(i32x4.shr_u(xs, 23), ebias);
  let m = v128.or(v128.and(xs, isplat(0x007fffff)), isplat(0x3f000000)); // m in [0.5, 1)
  const small = f32x4.lt(m, splat(0.707106781186547524));
  e = i32x4.add(e, small); // e − 1 where m < √½
  // f = m − 1, or 2m − 1 where m < √½
  const f = f32x4.sub(f32x4.add(m, v128.and(m, small)), splat(1.0));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(f, f);
  let p = fma(splat(7.0376836292e-2), f, splat(-1.1514610310e-1));
  p = fma(p, f, splat(1.1676998740e-1));
  p = fma(p, f, splat(-1.2420140846e-1));
  p = fma(p, f, splat(1.4249322787e-1));
  p = fma(p, f, splat(-1.6668057665e-1));
  p = fma(p, f, splat(2.0000714765e-1));
  p = fma(p, f, splat(-2.4999993993e-1));
  p = fma(p, f, splat(3.3333331174e-1));
  let y = f32x4.mul(f32x4.mul(p, f), z);
  y = fma(ef, splat(-2.12194440e-4), y);
  y = fma(z, splat(-0.5), y);
  let r = f32x4.add(f, y);
  r = fma(ef, splat(0.693359375), r);
  // special cases
  const pos = f32x4.gt(x, splat(0.0));
  const zero = f32x4.eq(x, splat(0.0));
  const inf = f32x4.eq(x, splat(Infinity));
  r = v128.bitselect(r, splat(NaN), pos); // x < 0 or NaN → NaN
  r = v128.bitselect(splat(-Infinity), r, zero);
  r = v128.bitselect(x, r, inf);
  return r;
}

/** log(1 + t) for t ≥ 0 (or NaN), accurate for tiny t: log(u)·t/(u − 1) with u = 1 + t (Goldberg). */
@inline export function vlog1pPos(t: v128): v128 {
  const u = f32x4.add(t, splat(1.0));
  const d = f32x4.sub(u, splat(1.0));
  const l = f32x4.mul(vlog(u), f32x4.div(t, d));
  const exact = f32x4.eq(d, splat(0.0));
  const big = f32x4.eq(u, splat(Infinity));
  return v128.bitselect(t, v128.bitselect(u, l, big), exact);
}

// ---- tanh / sigmoid ----------------------------------------------------------------------------------

/** tanh: x + x³·P(x²) for |x| < 0.625, else sign(x)·(1 − 2/(e^{2|x|} + 1)) (Cephes tanhf). */
@inline export function vtanh(x: v128): v128 {
  const a = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = fma(splat(-5.70498872745e-3), z, splat(2.06390887954e-2));
  p = fma(p, z, splat(-5.37397155531e-2));
  p = fma(p, z, splat(1.33314422036e-1));
  p = fma(p, z, splat(-3.33332819422e-1));
  // evaluate on |x| and copy x's sign bit (tanh is odd; keeps tanh(−0) = −0)
  const small = fma(f32x4.mul(p, z), a, a);
  const e = vexp(f32x4.add(a, a));
  const big = f32x4.sub(splat(1.0), f32x4.div(splat(2.0), f32x4.add(e, splat(1.0))));
  const r = v128.bitselect(small, big, f32x4.lt(a, splat(0.625)));
  return v128.or(r, v128.and(x, isplat(0x80000000)));
}

/** σ(x) = 1/(1 + e^{−x}); uses t = e^{−|x|} so both tails keep full relative accuracy. */
@inline export function vsigmoid(x: v128): v128 {
  const t = vexp(f32x4.neg(f32x4.abs(x)));
  const s = f32x4.div(splat(1.0), f32x4.add(t, splat(1.0)));
  return v128.bitselect(s, f32x4.mul(t, s), f32x4.ge(x, splat(0.0)));
}

// ---- erf / erfc ----------------------------------------------------------------------------------------
// |x| < 1: erf(x) = x·P(x²) (Taylor series of erf to x^23; the first omitted term is < 1e-10).
// |x| ≥ 1: erf(x) = sign(x)·(1 − erfc(|x|)), erfc(a) = t·exp(−a² + R(t)), t = 1/(1 + a/2) (the Chebyshev
// fit of Numerical Recipes' erfcc, fractional error < 1.2e-7). a² is carried exactly as hi + lo
// (Dekker split), so erfc keeps its relative accuracy far into the tail (gelu uses it).

/** |x| below this: Taylor series; above: 1 − erfc. */
const ERF_SPLIT: f32 = 0.875;

@inline function erfSmall(x: v128): v128 {
  const z = f32x4.mul(x, x);
  let p = fma(splat(-1.22905552e-9), z, splat(1.48071928e-8));
  p = fma(p, z, splat(-1.63658441e-7));
  p = fma(p, z, splat(0.00000164621144));
  p = fma(p, z, splat(-0.0000149256502));
  p = fma(p, z, splat(0.000120553326));
  p = fma(p, z, splat(-0.000854832702));
  p = fma(p, z, splat(0.00522397785));
  p = fma(p, z, splat(-0.0268661715));
  p = fma(p, z, splat(0.112837918));
  p = fma(p, z, splat(-0.376126379));
  p = fma(p, z, splat(1.12837923));
  return f32x4.mul(p, x);
}

/** Exact square as hi + lo: a = ah + al with ah holding the top 12 significant bits. */
@inline function squareHi(a: v128): v128 {
  const ah = v128.and(a, isplat(0xfffff000));
  return f32x4.mul(ah, ah);
}
@inline function squareLo(a: v128): v128 {
  const ah = v128.and(a, isplat(0xfffff000));
  const al = f32x4.sub(a, ah);
  return f32x4.mul(f32x4.add(ah, a), al); // (ah + a)·al = 2·ah·al + al² (to a few ulp of lo)
}

/** erfc(a) for a ≥ 0 (or NaN) given a² = a2hi + a2lo. */
@inline function erfcPos(a: v128, a2hi: v128, a2lo: v128): v128 {
  const t = f32x4.div(splat(1.0), fma(splat(0.5), a, splat(1.0)));
  let r = fma(splat(0.17087277), t, splat(-0.82215223));
  r = fma(r, t, splat(1.48851587));
  r = fma(r, t, splat(-1.13520398));
  r = fma(r, t, splat(0.27886807));
  r = fma(r, t, splat(-0.18628806));
  r = fma(r, t, splat(0.09678418));
  r = fma(r, t, splat(0.37409196));
  r = fma(r, t, splat(1.00002368));
  r = fma(r, t, splat(-1.26551223));
  // exponent −a² + r, carried as (−a2hi) + (r − a2lo), renormalized by TwoSum so exp's range reduction
  // sees the rounded sum h and the remainder l.
  const hi = f32x4.neg(a2hi);
  const lo = f32x4.sub(r, a2lo);
  const h = f32x4.add(hi, lo);
  const bb = f32x4.sub(h, hi);
  const l = f32x4.add(f32x4.sub(hi, f32x4.sub(h, bb)), f32x4.sub(lo, bb));
  const e = f32x4.mul(t, vexpHiLo(h, l));
  // a² > 104: erfc(a) < 2^-150, and a = +inf must not turn into inf − inf = NaN.
  return v128.andnot(e, f32x4.gt(a2hi, splat(104.0)));
}

@inline export function verf(x: v128): v128 {
  const a = f32x4.abs(x);
  const big = f32x4.sub(splat(1.0), erfcPos(a, squareHi(a), squareLo(a)));
  const bigSigned = v128.or(big, v128.and(x, isplat(0x80000000)));
  const r = v128.bitselect(erfSmall(x), bigSigned, f32x4.lt(a, splat(ERF_SPLIT)));
  return v128.bitselect(x, r, f32x4.ne(x, x)); // NaN (the Dekker split turns some NaNs into inf)
}

/** erfc(x) for any x: |x| < 1 → 1 − erf(x); x ≥ 1 → erfcPos; x ≤ −1 → 2 − erfcPos(−x). */
@inline export function verfc(x: v128): v128 {
  return verfcSq(x, squareHi(x), squareLo(x));
}

/**
 * erfc(x) given x² = x2hi + x2lo (lets gelu pass an exact (x/√2)² = x²/2). erfcPos wherever 1 − erf(x)
 * would cancel (x ≥ 0.5); 1 − erf(x) on (−1, 0.5) (no cancellation); 2 − erfcPos(−x) for x ≤ −1.
 */
@inline export function verfcSq(x: v128, x2hi: v128, x2lo: v128): v128 {
  const a = f32x4.abs(x);
  const e = erfcPos(a, x2hi, x2lo);
  const neg = f32x4.lt(x, splat(0.0));
  const tail = v128.bitselect(f32x4.sub(splat(2.0), e), e, neg);
  const mid = v128.and(f32x4.gt(x, splat(-1.0)), f32x4.lt(x, splat(0.5)));
  const r = v128.bitselect(f32x4.sub(splat(1.0), erfSmall(x)), tail, mid);
  return v128.bitselect(x, r, f32x4.ne(x, x));
}

/** gelu(x) = x·Φ(x) = ½·x·erfc(−x/√2), with (x/√2)² = x²/2 carried exactly. */
@inline export function vgeluErf(x: v128): v128 {
  const u = f32x4.mul(x, splat(-0.7071067811865476));
  const h = f32x4.mul(squareHi(x), splat(0.5));
  const l = f32x4.mul(squareLo(x), splat(0.5));
  return f32x4.mul(f32x4.mul(x, splat(0.5)), verfcSq(u, h, l));
}

/** gelu, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2√(2/π)(x + 0.044715x³)). */
@inline export function vgeluTanh(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const u = f32x4.mul(fma(x3, splat(0.044715), x), splat(1.5957691216057308));
  return f32x4.mul(x, vsigmoid(u));
}

/** softplus(x) = max(x, 0) + log1p(e^{−|x|}). */
@inline export function vsoftplus(x: v128): v128 {
  const t = vexp(f32x4.neg(f32x4.abs(x)));
  const m = v128.andnot(x, f32x4.le(x, splat(0.0))); // max(x, 0), NaN kept
  return f32x4.add(m, vlog1pPos(t));
}

/**
 * silu(x) = x·σ(x). Far left (x < −80) e^x turns subnormal while x·e^x is still normal, so those lanes use
 * x·σ(x) ≈ −e^(x + log(−x)) with the exponent carried in two floats (only when such a lane exists).
 */
@inline export function vsilu(x: v128): v128 {
  const r = f32x4.mul(x, vsigmoid(x));
  const far = v128.and(f32x4.lt(x, splat(-80.0)), f32x4.gt(x, splat(-110.0)));
  if (!v128.any_true(far)) return r;
  const hi = x;
  const lo = vlog(f32x4.neg(x));
  const h = f32x4.add(hi, lo);
  const bb = f32x4.sub(h, hi);
  const l = f32x4.add(f32x4.sub(hi, f32x4.sub(h, bb)), f32x4.sub(lo, bb));
  const tail = f32x4.neg(vexpHiLo(h, l)); // for x < −80, σ(x) = e^x/(1 + e^x) and 1 + e^x rounds to 1
  return v128.bitselect(tail, r, far);
}

// Vectorized transcendental functions on f32x4 (all @inline, so they fuse into the loops that use them).
// Accuracy (max ulp / relative error over every f32 input) is measured by test/accuracy and listed in the
// package README.
import { fma, isplat, k, ki, splat } from './common';

// Constants live in static memory and are read with k()/ki() (see common.ts for why not splat()).
const ONE = memory.data<f32>([1.0]);
const TWO = memory.data<f32>([2.0]);
const HALF = memory.data<f32>([0.5]);
const NEG_HALF = memory.data<f32>([-0.5]);
const NEG_ONE = memory.data<f32>([-1.0]);
const INF = memory.data<f32>([Infinity]);
const NEG_INF = memory.data<f32>([-Infinity]);
const QNAN = memory.data<f32>([NaN]);
const ABS_MASK = memory.data<i32>([0x7fffffff]);
const SIGN_MASK = memory.data<i32>([0x80000000 as i32]);
const FLT_MIN = memory.data<f32>([1.17549435e-38]);
const TWO_P23 = memory.data<f32>([8388608.0]);
const MANTISSA_MASK = memory.data<i32>([0x007fffff]);
const LOG_EBIAS = memory.data<i32>([126]);
const LOG_EBIAS_SUBNORMAL = memory.data<i32>([126 + 23]);
const SQRT_HALF = memory.data<f32>([0.707106781186547524]);
const NEG_SQRT_HALF = memory.data<f32>([-0.7071067811865476]);
const LN2_HI = memory.data<f32>([0.693359375]);
const LN2_LO = memory.data<f32>([-2.12194440e-4]);
const TANH_SPLIT = memory.data<f32>([0.625]);
const HI12_MASK = memory.data<i32>([0xfffff000 as i32]);
const ERFC_ZERO_SQ = memory.data<f32>([104.0]);
const GELU_TANH_C = memory.data<f32>([0.044715]);
const GELU_TANH_SCALE = memory.data<f32>([1.5957691216057308]);
/** Polynomial coefficients, highest degree first (Horner). */
const LOG_P = memory.data<f32>([
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
]);
const TANH_P = memory.data<f32>([
  -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1,
]);
const ERF_SMALL_P = memory.data<f32>([
  -1.22905552e-9, 1.48071928e-8, -1.63658441e-7, 0.00000164621144, -0.0000149256502, 0.000120553326, -0.000854832702, 0.00522397785, -0.0268661715, 0.112837918, -0.376126379, 1.12837923,
]);
const ERFC_P = memory.data<f32>([
  0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223,
]);

// ---- exp ------------------------------------------------------------------------------------------
// exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln2 (ln2 split in a hi part with few bits, so
// n·LN2_HI is exact, and a lo correction). e^r on [−ln2/2, ln2/2] by a degree-6 polynomial
// 1 + (r + r²·(c2 + … + c6 r⁴)) (a relative-error minimax fit made for this file:
// scripts/fit-exp.py; 3.8e-9 before f32 rounding, so the result is rounding-dominated, ≤ 1 ulp).
//
// Two ways to apply 2^n, chosen per VECTOR (one uniform branch, never per lane):
// - fast, every lane in [−86, 86] (the usual case): n ∈ [−124, 124] and e^x is a normal float, so 2^n is
//   added straight into the exponent bits of the polynomial's value (one shift + one integer add).
// - slow, some lane outside (or NaN): x is clamped to [−104, 89] (exp(−104) < 2^−150 rounds to 0,
//   exp(89) > FLT_MAX) and 2^n is applied as two factors 2^(n>>1)·2^(n − n>>1), so results in the
//   subnormal range round once, gracefully, and results past FLT_MAX overflow to +inf by themselves;
//   NaN lanes are restored at the end.
// For lanes in [−86, 86] both give bit-identical results (the same r and polynomial; multiplying a
// normal float by 2^a·2^b without under/overflow is exact), so a lane's result never depends on its
// neighbours — threads and tails get the same bits.

const LOG2E = memory.data<f32>([1.44269504088896341]);
const NEG_LOG2E = memory.data<f32>([-1.44269504088896341]);
const LN2_HI_POS = memory.data<f32>([0.693359375]); // 9 significant bits: n·LN2_HI is exact
const LN2_LO_NEG = memory.data<f32>([-2.12194440e-4]);
const NEG_LN2_HI = memory.data<f32>([-0.693359375]);
const NEG_LN2_LO = memory.data<f32>([2.12194440e-4]);
/** 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits. */
const ROUND_MAGIC = memory.data<f32>([12582912.0]);
const ROUND_MAGIC_BITS = memory.data<i32>([0x4b400000]);
/** e^r = 1 + (r + r²·P(r)), P(r) = c2 + c3 r + c4 r² + c5 r³ + c6 r⁴: c6 … c2. */
const EXP_P = memory.data<f32>([
  1.381461275741458e-3, 8.368710055947304e-3, 4.166838899254799e-2, 1.666652113199234e-1,
  4.999999403953552e-1,
]);
/** −P(−u) (even-degree coefficients negated): the e^{−x} variant computes −(r + r²·P(r)) at u = −r. */
const EXP_P_NEG = memory.data<f32>([
  -1.381461275741458e-3, 8.368710055947304e-3, -4.166838899254799e-2, 1.666652113199234e-1,
  -4.999999403953552e-1,
]);
/** Bit pattern of 86.0: |x| above it (or NaN, whose bits are larger still) takes exp's slow path. */
const EXP_FAST_LIMIT_BITS = memory.data<i32>([0x42ac0000]);
const EXP_MAX = memory.data<f32>([89.0]);
const EXP_MIN = memory.data<f32>([-104.0]);

/** Lanes whose |x| is above 86 or NaN (integer compare of the magnitude bits). */
@inline export function expOutOfRange(x: v128): v128 {
  return i32x4.gt_s(v128.and(x, k(ABS_MASK)), k(EXP_FAST_LIMIT_BITS));
}

/** True when every lane of x is in [−86, 86]: exp may take its fast path. */
@inline export function expInRange(x: v128): bool {
  return !v128.any_true(expOutOfRange(x));
}

/**
 * Range reduction: t = s·x·log2e + 1.5·2^23 holds n = round(s·x·log2e) in its low mantissa bits (expT),
 * and expReduce returns the polynomial e^r for r = s·x + lo − n·ln2. s = −1 (neg) evaluates e^{−x}
 * without negating x: every step is the exact mirror image of the s = +1 step on −x (it computes u = −r,
 * then −(r + r²·P(r)) with mirrored coefficients, then 1 − that; rounding to nearest is symmetric), so
 * expFast(x, neg = true) ≡ expFast(−x, neg = false) bit for bit.
 */
@inline function expT(x: v128, neg: bool): v128 {
  return fma(x, neg ? k(NEG_LOG2E) : k(LOG2E), k(ROUND_MAGIC));
}

@inline function expReduce(x: v128, lo: v128, useLo: bool, t: v128, neg: bool): v128 {
  const nf = f32x4.sub(t, k(ROUND_MAGIC));
  const P = neg ? EXP_P_NEG : EXP_P;
  let r = fma(nf, neg ? k(LN2_HI_POS) : k(NEG_LN2_HI), x);
  if (useLo) r = f32x4.add(r, lo);
  r = fma(nf, neg ? k(LN2_LO_NEG) : k(NEG_LN2_LO), r);
  // 1 + (r + r²·P(r)): the last add rounds once onto |r + r²P| ≤ 0.41 (≤ 1 ulp also without FMA)
  let p = fma(ki(P, 0), r, ki(P, 1));
  p = fma(p, r, ki(P, 2));
  p = fma(p, r, ki(P, 3));
  p = fma(p, r, ki(P, 4));
  const q = fma(p, f32x4.mul(r, r), r);
  return neg ? f32x4.sub(k(ONE), q) : f32x4.add(k(ONE), q);
}

/** e^(±x + lo), every lane in [−86, 86]: t's bits are 0x4b400000 + n, so t << 23 = n << 23. */
@inline function expFast(x: v128, lo: v128, useLo: bool, neg: bool): v128 {
  const t = expT(x, neg);
  return i32x4.add(expReduce(x, lo, useLo, t, neg), i32x4.shl(t, 23));
}

/** e^(x + lo) for any non-NaN x (clamped here), 2^n in two factors (graceful underflow, overflow → inf). */
@inline function expSlow(x: v128, lo: v128, useLo: bool): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, k(EXP_MAX)), k(EXP_MIN));
  const t = expT(xc, false);
  const p = expReduce(xc, lo, useLo, t, false);
  const ni = i32x4.sub(t, k(ROUND_MAGIC_BITS)); // bit patterns differ by n (|n| < 2^22)
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, isplat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, isplat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** e^x for every lane in [−86, 86] (see expInRange). */
@inline export function vexpFast(x: v128): v128 {
  return expFast(x, x, false, false);
}

/** e^x for any lanes, with Math.exp's special cases (±inf, NaN, overflow, graceful underflow). */
@inline export function vexpSlow(x: v128): v128 {
  return v128.bitselect(x, expSlow(x, x, false), f32x4.ne(x, x));
}

/** e^x, lane-wise, Math.exp semantics; picks the fast path per vector. */
@inline export function vexp(x: v128): v128 {
  if (expInRange(x)) return vexpFast(x);
  return vexpSlow(x);
}

/** e^(hi + lo) where hi + lo is an argument carried in two floats (|lo| ≤ ulp(hi)); hi is not NaN. */
@inline export function vexpHiLo(hi: v128, lo: v128): v128 {
  if (expInRange(hi)) return expFast(hi, lo, true, false);
  return expSlow(hi, lo, true);
}

/** exp on a path chosen at compile time: `fast` when the caller has checked the range (see elementwise.ts). */
@inline function expSel(x: v128, fast: bool): v128 {
  return fast ? vexpFast(x) : vexpSlow(x);
}

@inline function expHiLoSel(hi: v128, lo: v128, fast: bool): v128 {
  return fast ? expFast(hi, lo, true, false) : expSlow(hi, lo, true);
}

// Fast-range masks of the ops built on exp (lanes where exp's argument may leave [−86, 86], or NaN):
/** tanh: e^{2|x|}. */
@inline export function tanhOutside(x: v128): v128 {
  return expOutOfRange(f32x4.add(x, x));
}
/** erf / erfc: e^{−x² + R}, R ∈ [−1.27, 0]: |x| ≤ 86/9.35 keeps x² ≤ 84.6 and the argument ≥ −85.9. */
@inline export function erfOutside(x: v128): v128 {
  return expOutOfRange(f32x4.mul(x, k(ERF_FAST_SCALE)));
}
/** gelu (erf): e^{−x²/2 + R}: |x| ≤ 86/6.62 keeps x²/2 ≤ 84.4. */
@inline export function geluOutside(x: v128): v128 {
  return expOutOfRange(f32x4.mul(x, k(GELU_FAST_SCALE)));
}
const ERF_FAST_SCALE = memory.data<f32>([9.35]);
const GELU_FAST_SCALE = memory.data<f32>([6.62]);

// ---- log ------------------------------------------------------------------------------------------
// x = m · 2^e with m in [√½, √2); log x = e·ln2 + log1p(m − 1), log1p by the Cephes logf polynomial.
// Subnormal inputs are scaled by 2^23 first. log(0) = −inf, log(x<0) = NaN, log(+inf) = +inf.

@inline export function vlog(x: v128): v128 {
  const sub = f32x4.lt(x, k(FLT_MIN)); // subnormal (or ≤ 0: those lanes are replaced below)
  const xs = v128.bitselect(f32x4.mul(x, k(TWO_P23)), x, sub);
  const ebias = v128.bitselect(k(LOG_EBIAS_SUBNORMAL), k(LOG_EBIAS), sub);
  let e = i32x4.sub(i32x4.shr_u(xs, 23), ebias);
  let m = v128.or(v128.and(xs, k(MANTISSA_MASK)), k(HALF)); // m in [0.5, 1)
  const small = f32x4.lt(m, k(SQRT_HALF));
  e = i32x4.add(e, small); // e − 1 where m < √½
  // f = m − 1, or 2m − 1 where m < √½
  const f = f32x4.sub(f32x4.add(m, v128.and(m, small)), k(ONE));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(f, f);
  let p = fma(ki(LOG_P, 0), f, ki(LOG_P, 1));
  p = fma(p, f, ki(LOG_P, 2));
  p = fma(p, f, ki(LOG_P, 3));
  p = fma(p, f, ki(LOG_P, 4));
  p = fma(p, f, ki(LOG_P, 5));
  p = fma(p, f, ki(LOG_P, 6));
  p = fma(p, f, ki(LOG_P, 7));
  p = fma(p, f, ki(LOG_P, 8));
  let y = f32x4.mul(f32x4.mul(p, f), z);
  y = fma(ef, k(LN2_LO), y);
  y = fma(z, k(NEG_HALF), y);
  let r = f32x4.add(f, y);
  r = fma(ef, k(LN2_HI), r);
  // special cases
  const pos = f32x4.gt(x, splat(0.0));
  const zero = f32x4.eq(x, splat(0.0));
  const inf = f32x4.eq(x, k(INF));
  r = v128.bitselect(r, k(QNAN), pos); // x < 0 or NaN → NaN
  r = v128.bitselect(k(NEG_INF), r, zero);
  r = v128.bitselect(x, r, inf);
  return r;
}

/** log(1 + t) for t ≥ 0 (or NaN), accurate for tiny t: log(u)·t/(u − 1) with u = 1 + t (Goldberg). */
@inline export function vlog1pPos(t: v128): v128 {
  const u = f32x4.add(t, k(ONE));
  const d = f32x4.sub(u, k(ONE));
  const l = f32x4.mul(vlog(u), f32x4.div(t, d));
  const exact = f32x4.eq(d, splat(0.0));
  const big = f32x4.eq(u, k(INF));
  return v128.bitselect(t, v128.bitselect(u, l, big), exact);
}

// ---- tanh / sigmoid ----------------------------------------------------------------------------------

/** tanh: x + x³·P(x²) for |x| < 0.625, else sign(x)·(1 − 2/(e^{2|x|} + 1)) (Cephes tanhf). */
@inline export function vtanh(x: v128, fast: bool): v128 {
  const a = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = fma(ki(TANH_P, 0), z, ki(TANH_P, 1));
  p = fma(p, z, ki(TANH_P, 2));
  p = fma(p, z, ki(TANH_P, 3));
  p = fma(p, z, ki(TANH_P, 4));
  // evaluate on |x| and copy x's sign bit (tanh is odd; keeps tanh(−0) = −0)
  const small = fma(f32x4.mul(p, z), a, a);
  const e = expSel(f32x4.add(a, a), fast);
  const big = f32x4.sub(k(ONE), f32x4.div(k(TWO), f32x4.add(e, k(ONE))));
  const r = v128.bitselect(small, big, f32x4.lt(a, k(TANH_SPLIT)));
  return v128.or(r, v128.and(x, k(SIGN_MASK)));
}

/**
 * σ(x). Fast path (every lane in [−86, 86]): 1/(1 + e^{−x}) — no cancellation anywhere (1 + e^{−x} adds
 * two positive numbers), and e^{−x} ≤ e^86 stays finite. Slow path: the out-of-range lanes use
 * t = e^{−|x|}: σ = 1/(1 + t) for x ≥ 0, t/(1 + t) for x < 0 (keeps the subnormal left tail), while the
 * in-range lanes get exactly the fast path's bits.
 */
@inline export function vsigmoidFast(x: v128): v128 {
  return f32x4.div(k(ONE), f32x4.add(k(ONE), expFast(x, x, false, true)));
}

@inline export function vsigmoidSlow(x: v128): v128 {
  const main = f32x4.div(k(ONE), f32x4.add(k(ONE), vexpSlow(f32x4.neg(x))));
  const t = vexpSlow(v128.or(x, k(SIGN_MASK))); // e^{−|x|}
  const s = f32x4.div(k(ONE), f32x4.add(t, k(ONE)));
  const tails = v128.bitselect(s, f32x4.mul(t, s), f32x4.ge(x, splat(0.0)));
  return v128.bitselect(tails, main, expOutOfRange(x));
}

@inline export function vsigmoid(x: v128): v128 {
  if (expInRange(x)) return vsigmoidFast(x);
  return vsigmoidSlow(x);
}

// ---- erf / erfc ----------------------------------------------------------------------------------------
// |x| < 1: erf(x) = x·P(x²) (Taylor series of erf to x^23; the first omitted term is < 1e-10).
// |x| ≥ 1: erf(x) = sign(x)·(1 − erfc(|x|)), erfc(a) = t·exp(−a² + R(t)), t = 1/(1 + a/2) (the Chebyshev
// fit of Numerical Recipes' erfcc, fractional error < 1.2e-7). a² is carried exactly as hi + lo
// (Dekker split), so erfc keeps its relative accuracy far into the tail (gelu uses it).

/** |x| below this: Taylor series; above: 1 − erfc. */
const ERF_SPLIT = memory.data<f32>([0.875]);

@inline function erfSmall(x: v128): v128 {
  const z = f32x4.mul(x, x);
  let p = fma(ki(ERF_SMALL_P, 0), z, ki(ERF_SMALL_P, 1));
  p = fma(p, z, ki(ERF_SMALL_P, 2));
  p = fma(p, z, ki(ERF_SMALL_P, 3));
  p = fma(p, z, ki(ERF_SMALL_P, 4));
  p = fma(p, z, ki(ERF_SMALL_P, 5));
  p = fma(p, z, ki(ERF_SMALL_P, 6));
  p = fma(p, z, ki(ERF_SMALL_P, 7));
  p = fma(p, z, ki(ERF_SMALL_P, 8));
  p = fma(p, z, ki(ERF_SMALL_P, 9));
  p = fma(p, z, ki(ERF_SMALL_P, 10));
  p = fma(p, z, ki(ERF_SMALL_P, 11));
  return f32x4.mul(p, x);
}

/** Exact square as hi + lo: a = ah + al with ah holding the top 12 significant bits. */
@inline function squareHi(a: v128): v128 {
  const ah = v128.and(a, k(HI12_MASK));
  return f32x4.mul(ah, ah);
}
@inline function squareLo(a: v128): v128 {
  const ah = v128.and(a, k(HI12_MASK));
  const al = f32x4.sub(a, ah);
  return f32x4.mul(f32x4.add(ah, a), al); // (ah + a)·al = 2·ah·al + al² (to a few ulp of lo)
}

/** erfc(a) for a ≥ 0 (or NaN) given a² = a2hi + a2lo. */
@inline function erfcPos(a: v128, a2hi: v128, a2lo: v128, fast: bool): v128 {
  const t = f32x4.div(k(ONE), fma(k(HALF), a, k(ONE)));
  let r = fma(ki(ERFC_P, 0), t, ki(ERFC_P, 1));
  r = fma(r, t, ki(ERFC_P, 2));
  r = fma(r, t, ki(ERFC_P, 3));
  r = fma(r, t, ki(ERFC_P, 4));
  r = fma(r, t, ki(ERFC_P, 5));
  r = fma(r, t, ki(ERFC_P, 6));
  r = fma(r, t, ki(ERFC_P, 7));
  r = fma(r, t, ki(ERFC_P, 8));
  r = fma(r, t, ki(ERFC_P, 9));
  // exponent −a² + r, carried as (−a2hi) + (r − a2lo), renormalized by TwoSum so exp's range reduction
  // sees the rounded sum h and the remainder l.
  const hi = f32x4.neg(a2hi);
  const lo = f32x4.sub(r, a2lo);
  const h = f32x4.add(hi, lo);
  const bb = f32x4.sub(h, hi);
  const l = f32x4.add(f32x4.sub(hi, f32x4.sub(h, bb)), f32x4.sub(lo, bb));
  const e = f32x4.mul(t, expHiLoSel(h, l, fast));
  // a² > 104: erfc(a) < 2^-150, and a = +inf must not turn into inf − inf = NaN.
  return v128.andnot(e, f32x4.gt(a2hi, k(ERFC_ZERO_SQ)));
}

@inline export function verf(x: v128, fast: bool): v128 {
  const a = f32x4.abs(x);
  const big = f32x4.sub(k(ONE), erfcPos(a, squareHi(a), squareLo(a), fast));
  const bigSigned = v128.or(big, v128.and(x, k(SIGN_MASK)));
  const r = v128.bitselect(erfSmall(x), bigSigned, f32x4.lt(a, k(ERF_SPLIT)));
  return v128.bitselect(x, r, f32x4.ne(x, x)); // NaN (the Dekker split turns some NaNs into inf)
}

/** erfc(x) for any x: |x| < 1 → 1 − erf(x); x ≥ 1 → erfcPos; x ≤ −1 → 2 − erfcPos(−x). */
@inline export function verfc(x: v128, fast: bool): v128 {
  return verfcSq(x, squareHi(x), squareLo(x), fast);
}

/**
 * erfc(x) given x² = x2hi + x2lo (lets gelu pass an exact (x/√2)² = x²/2). erfcPos wherever 1 − erf(x)
 * would cancel (x ≥ 0.5); 1 − erf(x) on (−1, 0.5) (no cancellation); 2 − erfcPos(−x) for x ≤ −1.
 */
@inline export function verfcSq(x: v128, x2hi: v128, x2lo: v128, fast: bool): v128 {
  const a = f32x4.abs(x);
  const e = erfcPos(a, x2hi, x2lo, fast);
  const neg = f32x4.lt(x, splat(0.0));
  const tail = v128.bitselect(f32x4.sub(k(TWO), e), e, neg);
  const mid = v128.and(f32x4.gt(x, k(NEG_ONE)), f32x4.lt(x, k(HALF)));
  const r = v128.bitselect(f32x4.sub(k(ONE), erfSmall(x)), tail, mid);
  return v128.bitselect(x, r, f32x4.ne(x, x));
}

/** gelu(x) = x·Φ(x) = ½·x·erfc(−x/√2), with (x/√2)² = x²/2 carried exactly. */
@inline export function vgeluErf(x: v128, fast: bool): v128 {
  const u = f32x4.mul(x, k(NEG_SQRT_HALF));
  const h = f32x4.mul(squareHi(x), k(HALF));
  const l = f32x4.mul(squareLo(x), k(HALF));
  return f32x4.mul(f32x4.mul(x, k(HALF)), verfcSq(u, h, l, fast));
}

/** gelu, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2√(2/π)(x + 0.044715x³)). */
@inline export function vgeluTanh(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const u = f32x4.mul(fma(x3, k(GELU_TANH_C), x), k(GELU_TANH_SCALE));
  return f32x4.mul(x, vsigmoid(u));
}

/** softplus(x) = max(x, 0) + log1p(e^{−|x|}). */
@inline export function vsoftplus(x: v128, fast: bool): v128 {
  const t = expSel(v128.or(x, k(SIGN_MASK)), fast); // e^{−|x|}
  const m = v128.andnot(x, f32x4.le(x, splat(0.0))); // max(x, 0), NaN kept
  return f32x4.add(m, vlog1pPos(t));
}

/**
 * silu(x) = x·σ(x) = x/(1 + e^{−x}). Fast path (every lane in [−86, 86]): that quotient, one rounding
 * less than x·σ(x) and no select. Slow path, out-of-range lanes: x > 86 → x/(1 + e^{−x}) = x;
 * x < −86, where e^{−x} overflows while x·e^x is still normal down to x ≈ −92, → −e^(x + log(−x)) with the
 * exponent carried in two floats; x ≤ −110 (and −inf, NaN) → x·σ(x) (−0, or NaN). In-range lanes get
 * exactly the fast path's bits.
 */
@inline export function vsiluFast(x: v128): v128 {
  return f32x4.div(x, f32x4.add(k(ONE), expFast(x, x, false, true)));
}

@inline export function vsiluSlow(x: v128): v128 {
  const main = f32x4.div(x, f32x4.add(k(ONE), vexpSlow(f32x4.neg(x))));
  const r = v128.bitselect(f32x4.mul(x, vsigmoidSlow(x)), main, expOutOfRange(x));
  const far = v128.and(f32x4.lt(x, k(SILU_FAR_HI)), f32x4.gt(x, k(SILU_FAR_LO)));
  if (!v128.any_true(far)) return r;
  const hi = x;
  const lo = vlog(f32x4.neg(x));
  const h = f32x4.add(hi, lo);
  const bb = f32x4.sub(h, hi);
  const l = f32x4.add(f32x4.sub(hi, f32x4.sub(h, bb)), f32x4.sub(lo, bb));
  const tail = f32x4.neg(vexpHiLo(h, l)); // for x < −86, σ(x) = e^x/(1 + e^x) and 1 + e^x rounds to 1
  return v128.bitselect(tail, r, far);
}

@inline export function vsilu(x: v128): v128 {
  if (expInRange(x)) return vsiluFast(x);
  return vsiluSlow(x);
}
const SILU_FAR_HI = memory.data<f32>([-86.0]);
const SILU_FAR_LO = memory.data<f32>([-110.0]);

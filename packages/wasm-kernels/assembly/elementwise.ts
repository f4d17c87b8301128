// Elementwise kernels: unary maps, broadcast binary maps (f32 and i32), where, fill.
//
// One generic mechanism: an op is a tiny class with an @inline method `f` on f32x4 lanes; the generic loop
// `mapUnary<Op>` / `binaryRow<Op>` is instantiated once per op (AssemblyScript monomorphises generics and
// inlines `f`), and the exported entry points switch on an op code once per call, not per element.
// Tails (n % 4) run through the same vector `f` on a partially loaded vector, so every element of a
// tensor gets bit-identical math whatever its position.
import { loadPartial, storePartial, splat, isplat } from './common';
import {
  erfOutside, expOutOfRange, geluOutside, tanhOutside, vexpFast, vexpSlow, vlog, vtanh, vsigmoid,
  vsigmoidFast, vsigmoidSlow, vsiluFast, vsiluSlow, verf, verfc, vgeluErf, vgeluTanh, vsoftplus,
} from './math';

// ---------------------------------------------------------------------------------------------------
// Unary ops. p0/p1 are the op's scalar parameters, already splatted.

class Neg { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.neg(x); } }
class Abs { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.abs(x); } }
class Sign {
  @inline f(x: v128, p0: v128, p1: v128): v128 {
    // 1 for x > 0, −1 for x < 0, x itself for ±0 and NaN
    const one = splat(1.0);
    const s = v128.or(one, v128.and(x, isplat(0x80000000)));
    return v128.bitselect(s, x, v128.or(f32x4.gt(x, splat(0)), f32x4.lt(x, splat(0))));
  }
}
// Ops built on exp's fast path also define `outside` (lanes the fast path does not cover) and `slow` (any
// lanes; equal to f bit for bit on the covered ones): mapUnary then tests two vectors per branch.
// (Exp, Sigmoid, Silu, Tanh, Softplus, Erf, Erfc, GeluErf.)
class Exp {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return vexpFast(x); }
  @inline outside(x: v128): v128 { return expOutOfRange(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return vexpSlow(x); }
}
class Log { @inline f(x: v128, p0: v128, p1: v128): v128 { return vlog(x); } }
class Sqrt { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.sqrt(x); } }
class Rsqrt { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.div(splat(1.0), f32x4.sqrt(x)); } }
class Square { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.mul(x, x); } }
class Recip { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.div(splat(1.0), x); } }
class Relu {
  // x where !(x <= 0): keeps NaN, maps −0 to 0
  @inline f(x: v128, p0: v128, p1: v128): v128 { return v128.andnot(x, f32x4.le(x, splat(0))); }
}
class Sigmoid {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return vsigmoidFast(x); }
  @inline outside(x: v128): v128 { return expOutOfRange(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return vsigmoidSlow(x); }
}
class Tanh {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return vtanh(x, true); }
  @inline outside(x: v128): v128 { return tanhOutside(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return vtanh(x, false); }
}
// silu(x) = x·σ(βx). β is uniform over a call, so unary_f32 picks the map once: β = 1 (SiLU) takes
// vsilu's path (accurate in the far-left tail), any other β the plain product. (Selecting per vector
// evaluated both paths: twice the transcendental work.)
class Silu {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return vsiluFast(x); }
  @inline outside(x: v128): v128 { return expOutOfRange(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return vsiluSlow(x); }
}
class SiluBeta { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.mul(x, vsigmoid(f32x4.mul(x, p0))); } }
class GeluErf {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return vgeluErf(x, true); }
  @inline outside(x: v128): v128 { return geluOutside(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return vgeluErf(x, false); }
}
class GeluTanh { @inline f(x: v128, p0: v128, p1: v128): v128 { return vgeluTanh(x); } }
class Softplus {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return vsoftplus(x, true); }
  @inline outside(x: v128): v128 { return expOutOfRange(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return vsoftplus(x, false); }
}
class LeakyRelu {
  @inline f(x: v128, p0: v128, p1: v128): v128 {
    return v128.bitselect(f32x4.mul(x, p0), x, f32x4.lt(x, splat(0)));
  }
}
class Clamp {
  // min(max(x, lo), hi) with NaN propagated
  @inline f(x: v128, p0: v128, p1: v128): v128 {
    const c = f32x4.pmin(f32x4.pmax(x, p0), p1);
    return v128.bitselect(x, c, f32x4.ne(x, x));
  }
}
class Erf {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return verf(x, true); }
  @inline outside(x: v128): v128 { return erfOutside(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return verf(x, false); }
}
class Affine { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.add(f32x4.mul(x, p0), p1); } }
class Step {
  // x > 0 ? 1 : 0 (relu's derivative)
  @inline f(x: v128, p0: v128, p1: v128): v128 { return v128.and(f32x4.gt(x, splat(0)), splat(1.0)); }
}
class Floor { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.floor(x); } }
class Ceil { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.ceil(x); } }
class Round { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.nearest(x); } }
class Erfc {
  @inline f(x: v128, p0: v128, p1: v128): v128 { return verfc(x, true); }
  @inline outside(x: v128): v128 { return erfOutside(x); }
  @inline slow(x: v128, p0: v128, p1: v128): v128 { return verfc(x, false); }
}
/** f32 → i32 toward zero, saturating (NaN → 0, ±inf and out-of-range → INT32_MIN/MAX), like WGSL's cast. */
class ToI32 { @inline f(x: v128, p0: v128, p1: v128): v128 { return i32x4.trunc_sat_f32x4_s(x); } }

// i32 lanes (wrap-around arithmetic, as Int32Array stores do). p0/p1 are i32 splats.
class INeg { @inline f(x: v128, p0: v128, p1: v128): v128 { return i32x4.neg(x); } }
class IAbs { @inline f(x: v128, p0: v128, p1: v128): v128 { return i32x4.abs(x); } }
class ISign {
  // (x > 0) − (x < 0): the comparison masks are 0 / −1
  @inline f(x: v128, p0: v128, p1: v128): v128 {
    const z = isplat(0);
    return i32x4.sub(i32x4.lt_s(x, z), i32x4.gt_s(x, z));
  }
}
class ISquare { @inline f(x: v128, p0: v128, p1: v128): v128 { return i32x4.mul(x, x); } }
class IRelu { @inline f(x: v128, p0: v128, p1: v128): v128 { return i32x4.max_s(x, isplat(0)); } }
class IClamp { @inline f(x: v128, p0: v128, p1: v128): v128 { return i32x4.min_s(i32x4.max_s(x, p0), p1); } }
/** i32 → f32, round to nearest (exact below 2^24). */
class ToF32 { @inline f(x: v128, p0: v128, p1: v128): v128 { return f32x4.convert_i32x4_s(x); } }

/**
 * Ops built on exp's fast path (Exp, Sigmoid, Silu) define `outside(x)` (a mask of the lanes the fast
 * path `f` does not cover: |x| > 86 or NaN) and `slow` (right for every lane, equal to `f` bit for bit on
 * the covered ones, so a lane's result never depends on its neighbours). The slow path runs out of line,
 * in slowLanes: the fast loop then keeps its values in registers (inlined, its rarely used branch made V8
 * spill around it on every iteration). slowLanes has a loop and several call sites, so Binaryen does not
 * inline it.
 */
function slowLanes<Op>(x: usize, y: usize, n: i32, a: v128, b: v128): void {
  const op = changetype<Op>(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, op.slow(v128.load(x + o), a, b));
  }
  const t = n - i;
  if (t > 0) {
    const o = <usize>i << 2;
    storePartial(y + o, op.slow(loadPartial(x + o, t), a, b), t);
  }
}

/** Lanes of x outside op's fast path (call only where isDefined(op.outside)). */
@inline function anyOutside<Op>(op: Op, x: v128): bool {
  return v128.any_true(op.outside(x));
}

/**
 * y = op(x) over n 4-byte lanes; a/b: the op's parameters, already splatted (as f32 or i32 lanes).
 * Two vectors per iteration, both computed before either is stored: V8 then loads each static constant
 * (common.ts k()) once for both. Ops with a fast path test both vectors with one branch.
 */
function mapUnary<Op>(x: usize, y: usize, n: i32, a: v128, b: v128): void {
  const op = changetype<Op>(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const x0 = v128.load(x + o);
    const x1 = v128.load(x + o, 16);
    const x2 = v128.load(x + o, 32);
    const x3 = v128.load(x + o, 48);
    if (
      isDefined(op.outside) &&
      v128.any_true(v128.or(v128.or(op.outside(x0), op.outside(x1)), v128.or(op.outside(x2), op.outside(x3))))
    ) {
      slowLanes<Op>(x + o, y + o, 16, a, b);
      continue;
    }
    const v0 = op.f(x0, a, b);
    const v1 = op.f(x1, a, b);
    const v2 = op.f(x2, a, b);
    const v3 = op.f(x3, a, b);
    v128.store(y + o, v0);
    v128.store(y + o, v1, 16);
    v128.store(y + o, v2, 32);
    v128.store(y + o, v3, 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const x0 = v128.load(x + o);
    if (isDefined(op.outside) && anyOutside<Op>(op, x0)) slowLanes<Op>(x + o, y + o, 4, a, b);
    else v128.store(y + o, op.f(x0, a, b));
  }
  const t = n - i;
  if (t > 0) {
    const o = <usize>i << 2;
    const x0 = loadPartial(x + o, t);
    if (isDefined(op.outside) && anyOutside<Op>(op, x0)) slowLanes<Op>(x + o, y + o, t, a, b);
    else storePartial(y + o, op.f(x0, a, b), t);
  }
}

// Op codes (mirrored in src/ops.ts).
export const U_NEG = 0;
export const U_ABS = 1;
export const U_SIGN = 2;
export const U_EXP = 3;
export const U_LOG = 4;
export const U_SQRT = 5;
export const U_RSQRT = 6;
export const U_SQUARE = 7;
export const U_RECIPROCAL = 8;
export const U_RELU = 9;
export const U_SIGMOID = 10;
export const U_TANH = 11;
export const U_SILU = 12;
export const U_GELU_ERF = 13;
export const U_GELU_TANH = 14;
export const U_SOFTPLUS = 15;
export const U_LEAKY_RELU = 16;
export const U_CLAMP = 17;
export const U_ERF = 18;
export const U_AFFINE = 19;
export const U_STEP = 20;
export const U_FLOOR = 21;
export const U_CEIL = 22;
export const U_ROUND = 23;
export const U_ERFC = 24;
export const U_TO_I32 = 25;
export const U_TO_F32 = 26;

/** y[i] = op(x[i]) for i < n (x == y allowed). p0/p1: silu β, leakyRelu α, clamp lo/hi, affine scale/shift. */
export function unary_f32(op: i32, x: usize, y: usize, n: i32, p0: f32, p1: f32): void {
  const a = splat(p0);
  const b = splat(p1);
  switch (op) {
    case U_NEG: mapUnary<Neg>(x, y, n, a, b); break;
    case U_ABS: mapUnary<Abs>(x, y, n, a, b); break;
    case U_SIGN: mapUnary<Sign>(x, y, n, a, b); break;
    case U_EXP: mapUnary<Exp>(x, y, n, a, b); break;
    case U_LOG: mapUnary<Log>(x, y, n, a, b); break;
    case U_SQRT: mapUnary<Sqrt>(x, y, n, a, b); break;
    case U_RSQRT: mapUnary<Rsqrt>(x, y, n, a, b); break;
    case U_SQUARE: mapUnary<Square>(x, y, n, a, b); break;
    case U_RECIPROCAL: mapUnary<Recip>(x, y, n, a, b); break;
    case U_RELU: mapUnary<Relu>(x, y, n, a, b); break;
    case U_SIGMOID: mapUnary<Sigmoid>(x, y, n, a, b); break;
    case U_TANH: mapUnary<Tanh>(x, y, n, a, b); break;
    case U_SILU: if (p0 == 1) mapUnary<Silu>(x, y, n, a, b); else mapUnary<SiluBeta>(x, y, n, a, b); break;
    case U_GELU_ERF: mapUnary<GeluErf>(x, y, n, a, b); break;
    case U_GELU_TANH: mapUnary<GeluTanh>(x, y, n, a, b); break;
    case U_SOFTPLUS: mapUnary<Softplus>(x, y, n, a, b); break;
    case U_LEAKY_RELU: mapUnary<LeakyRelu>(x, y, n, a, b); break;
    case U_CLAMP: mapUnary<Clamp>(x, y, n, a, b); break;
    case U_ERF: mapUnary<Erf>(x, y, n, a, b); break;
    case U_AFFINE: mapUnary<Affine>(x, y, n, a, b); break;
    case U_STEP: mapUnary<Step>(x, y, n, a, b); break;
    case U_FLOOR: mapUnary<Floor>(x, y, n, a, b); break;
    case U_CEIL: mapUnary<Ceil>(x, y, n, a, b); break;
    case U_ROUND: mapUnary<Round>(x, y, n, a, b); break;
    case U_ERFC: mapUnary<Erfc>(x, y, n, a, b); break;
    case U_TO_I32: mapUnary<ToI32>(x, y, n, a, b); break;
    default: unreachable();
  }
}

/**
 * i32 version over n lanes: neg, abs, sign, square, relu, clamp (p0/p1 = lo/hi) write i32 with
 * wrap-around (−INT32_MIN = INT32_MIN); U_TO_F32 writes f32. Other codes are not provided.
 */
export function unary_i32(op: i32, x: usize, y: usize, n: i32, p0: i32, p1: i32): void {
  const a = isplat(p0);
  const b = isplat(p1);
  switch (op) {
    case U_NEG: mapUnary<INeg>(x, y, n, a, b); break;
    case U_ABS: mapUnary<IAbs>(x, y, n, a, b); break;
    case U_SIGN: mapUnary<ISign>(x, y, n, a, b); break;
    case U_SQUARE: mapUnary<ISquare>(x, y, n, a, b); break;
    case U_RELU: mapUnary<IRelu>(x, y, n, a, b); break;
    case U_CLAMP: mapUnary<IClamp>(x, y, n, a, b); break;
    case U_TO_F32: mapUnary<ToF32>(x, y, n, a, b); break;
    default: unreachable();
  }
}

/** y[i] = value for i < n (4-byte elements; pass an i32 bit pattern through `bits`). */
export function fill32(y: usize, n: i32, bits: i32): void {
  const v = isplat(bits);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), v);
  for (; i < n; i++) store<i32>(y + (<usize>i << 2), bits);
}

// ---------------------------------------------------------------------------------------------------
// Binary ops with broadcasting. The caller passes the output shape (rank ≤ 6, dims merged where possible)
// and per-input element strides (0 on broadcast dims) as i32 arrays in memory.

class Add { @inline f(a: v128, b: v128): v128 { return f32x4.add(a, b); } }
class Sub { @inline f(a: v128, b: v128): v128 { return f32x4.sub(a, b); } }
class Mul { @inline f(a: v128, b: v128): v128 { return f32x4.mul(a, b); } }
class Div { @inline f(a: v128, b: v128): v128 { return f32x4.div(a, b); } }
class Max { @inline f(a: v128, b: v128): v128 { return f32x4.max(a, b); } }
class Min { @inline f(a: v128, b: v128): v128 { return f32x4.min(a, b); } }
class Pow {
  // Lane-wise f64 pow (correctly rounded to f32 in practice), with JS semantics for NaN exponents.
  @inline f(a: v128, b: v128): v128 {
    return f32x4(pw(f32x4.extract_lane(a, 0), f32x4.extract_lane(b, 0)),
      pw(f32x4.extract_lane(a, 1), f32x4.extract_lane(b, 1)),
      pw(f32x4.extract_lane(a, 2), f32x4.extract_lane(b, 2)),
      pw(f32x4.extract_lane(a, 3), f32x4.extract_lane(b, 3)));
  }
}
@inline function pw(a: f32, b: f32): f32 {
  if (b != b) return NaN;
  if ((a == 1.0 || a == -1.0) && (b == Infinity || b == -Infinity)) return NaN; // JS Math.pow
  return <f32>Math.pow(<f64>a, <f64>b);
}
/** JumpReLU: a where a > b (the threshold), else 0 (NaN → 0, as z > κ is false). */
class JumpRelu { @inline f(a: v128, b: v128): v128 { return v128.and(a, f32x4.gt(a, b)); } }
const ONE_BITS = 0x3f800000;
class Eq { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.eq(a, b), isplat(ONE_BITS)); } }
class Ne { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.ne(a, b), isplat(ONE_BITS)); } }
class Lt { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.lt(a, b), isplat(ONE_BITS)); } }
class Le { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.le(a, b), isplat(ONE_BITS)); } }
class Gt { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.gt(a, b), isplat(ONE_BITS)); } }
class Ge { @inline f(a: v128, b: v128): v128 { return v128.and(f32x4.ge(a, b), isplat(ONE_BITS)); } }
// i32 (inputs i32; arithmetic outputs i32, comparisons output f32 0/1)
class IAdd { @inline f(a: v128, b: v128): v128 { return i32x4.add(a, b); } }
class ISub { @inline f(a: v128, b: v128): v128 { return i32x4.sub(a, b); } }
class IMul { @inline f(a: v128, b: v128): v128 { return i32x4.mul(a, b); } }
class IMax { @inline f(a: v128, b: v128): v128 { return i32x4.max_s(a, b); } }
class IMin { @inline f(a: v128, b: v128): v128 { return i32x4.min_s(a, b); } }
class IEq { @inline f(a: v128, b: v128): v128 { return v128.and(i32x4.eq(a, b), isplat(ONE_BITS)); } }
class INe { @inline f(a: v128, b: v128): v128 { return v128.and(i32x4.ne(a, b), isplat(ONE_BITS)); } }
class ILt { @inline f(a: v128, b: v128): v128 { return v128.and(i32x4.lt_s(a, b), isplat(ONE_BITS)); } }
class ILe { @inline f(a: v128, b: v128): v128 { return v128.and(i32x4.le_s(a, b), isplat(ONE_BITS)); } }
class IGt { @inline f(a: v128, b: v128): v128 { return v128.and(i32x4.gt_s(a, b), isplat(ONE_BITS)); } }
class IGe { @inline f(a: v128, b: v128): v128 { return v128.and(i32x4.ge_s(a, b), isplat(ONE_BITS)); } }

/** One output row of n elements; input strides sa/sb in elements. */
@inline function binaryRow<Op>(a: usize, sa: i32, b: usize, sb: i32, y: usize, n: i32): void {
  const op = changetype<Op>(0);
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      const r0 = op.f(v128.load(a + o), v128.load(b + o));
      const r1 = op.f(v128.load(a + o, 16), v128.load(b + o, 16));
      v128.store(y + o, r0);
      v128.store(y + o, r1, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, op.f(v128.load(a + o), v128.load(b + o)));
    }
    const t = n - i;
    if (t > 0) {
      const o = <usize>i << 2;
      storePartial(y + o, op.f(loadPartial(a + o, t), loadPartial(b + o, t)), t);
    }
  } else if (sa == 0 && sb == 1) {
    const va = v128.load32_splat(a);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, op.f(va, v128.load(b + o)));
    }
    const t = n - i;
    if (t > 0) {
      const o = <usize>i << 2;
      storePartial(y + o, op.f(va, loadPartial(b + o, t)), t);
    }
  } else if (sa == 1 && sb == 0) {
    const vb = v128.load32_splat(b);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, op.f(v128.load(a + o), vb));
    }
    const t = n - i;
    if (t > 0) {
      const o = <usize>i << 2;
      storePartial(y + o, op.f(loadPartial(a + o, t), vb), t);
    }
  } else if (sa == 0 && sb == 0) {
    const r = op.f(v128.load32_splat(a), v128.load32_splat(b));
    for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), r);
    const t = n - i;
    if (t > 0) storePartial(y + (<usize>i << 2), r, t);
  } else {
    // general strides: gather lane by lane
    const ba = <usize>sa << 2;
    const bb = <usize>sb << 2;
    for (; i < n; i++) {
      const r = op.f(v128.load32_zero(a + ba * i), v128.load32_zero(b + bb * i));
      v128.store32_lane(y + (<usize>i << 2), r, 0);
    }
  }
}

// Scratch for the odometer (6 i32 indices). A global, so per instance: every thread's instance of the module
// shares one linear memory (src/threads), and each worker points this at its own 64 bytes.
let IDX: usize = memory.data(64, 16);

/** Moves this instance's odometer scratch to `p` (64 bytes, 16-aligned), away from other threads'. */
export function set_odometer_scratch(p: usize): void {
  IDX = p;
}

/** Runs `binaryRow<Op>` over all rows of a rank-`rank` output (rank ≥ 1). */
function binaryBroadcast<Op>(a: usize, b: usize, y: usize, rank: i32, shape: usize, sa: usize, sb: usize): void {
  const r1 = rank - 1;
  const n = load<i32>(shape + (<usize>r1 << 2));
  const ia = load<i32>(sa + (<usize>r1 << 2));
  const ib = load<i32>(sb + (<usize>r1 << 2));
  let rows = 1;
  for (let d = 0; d < r1; d++) {
    rows *= load<i32>(shape + (<usize>d << 2));
    store<i32>(IDX + (<usize>d << 2), 0);
  }
  if (n == 0 || rows == 0) return;
  let pa = a;
  let pb = b;
  let py = y;
  const rowBytes = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    binaryRow<Op>(pa, ia, pb, ib, py, n);
    py += rowBytes;
    // advance the odometer over dims r1-1 .. 0
    for (let d = r1 - 1; d >= 0; d--) {
      const off = <usize>d << 2;
      const k = load<i32>(IDX + off) + 1;
      const dsa = <usize>load<i32>(sa + off) << 2;
      const dsb = <usize>load<i32>(sb + off) << 2;
      if (k < load<i32>(shape + off)) {
        store<i32>(IDX + off, k);
        pa += dsa;
        pb += dsb;
        break;
      }
      store<i32>(IDX + off, 0);
      pa -= dsa * <usize>(k - 1);
      pb -= dsb * <usize>(k - 1);
    }
  }
}

export const B_ADD = 0;
export const B_SUB = 1;
export const B_MUL = 2;
export const B_DIV = 3;
export const B_POW = 4;
export const B_MAX = 5;
export const B_MIN = 6;
export const B_EQ = 7;
export const B_NE = 8;
export const B_LT = 9;
export const B_LE = 10;
export const B_GT = 11;
export const B_GE = 12;
export const B_JUMP_RELU = 13;

/**
 * y = op(a, b) with broadcasting. `shape`, `sa`, `sb` point to `rank` i32s: the output shape and the element
 * strides of a and b (0 on broadcast dims). Output is contiguous. Comparisons write f32 0/1.
 */
export function binary_f32(op: i32, a: usize, b: usize, y: usize, rank: i32, shape: usize, sa: usize, sb: usize): void {
  switch (op) {
    case B_ADD: binaryBroadcast<Add>(a, b, y, rank, shape, sa, sb); break;
    case B_SUB: binaryBroadcast<Sub>(a, b, y, rank, shape, sa, sb); break;
    case B_MUL: binaryBroadcast<Mul>(a, b, y, rank, shape, sa, sb); break;
    case B_DIV: binaryBroadcast<Div>(a, b, y, rank, shape, sa, sb); break;
    case B_POW: binaryBroadcast<Pow>(a, b, y, rank, shape, sa, sb); break;
    case B_MAX: binaryBroadcast<Max>(a, b, y, rank, shape, sa, sb); break;
    case B_MIN: binaryBroadcast<Min>(a, b, y, rank, shape, sa, sb); break;
    case B_EQ: binaryBroadcast<Eq>(a, b, y, rank, shape, sa, sb); break;
    case B_NE: binaryBroadcast<Ne>(a, b, y, rank, shape, sa, sb); break;
    case B_LT: binaryBroadcast<Lt>(a, b, y, rank, shape, sa, sb); break;
    case B_LE: binaryBroadcast<Le>(a, b, y, rank, shape, sa, sb); break;
    case B_GT: binaryBroadcast<Gt>(a, b, y, rank, shape, sa, sb); break;
    case B_GE: binaryBroadcast<Ge>(a, b, y, rank, shape, sa, sb); break;
    case B_JUMP_RELU: binaryBroadcast<JumpRelu>(a, b, y, rank, shape, sa, sb); break;
    default: unreachable();
  }
}

/** i32 version: add, sub, mul, max, min write i32; comparisons write f32 0/1. POW and DIV are not provided. */
export function binary_i32(op: i32, a: usize, b: usize, y: usize, rank: i32, shape: usize, sa: usize, sb: usize): void {
  switch (op) {
    case B_ADD: binaryBroadcast<IAdd>(a, b, y, rank, shape, sa, sb); break;
    case B_SUB: binaryBroadcast<ISub>(a, b, y, rank, shape, sa, sb); break;
    case B_MUL: binaryBroadcast<IMul>(a, b, y, rank, shape, sa, sb); break;
    case B_MAX: binaryBroadcast<IMax>(a, b, y, rank, shape, sa, sb); break;
    case B_MIN: binaryBroadcast<IMin>(a, b, y, rank, shape, sa, sb); break;
    case B_EQ: binaryBroadcast<IEq>(a, b, y, rank, shape, sa, sb); break;
    case B_NE: binaryBroadcast<INe>(a, b, y, rank, shape, sa, sb); break;
    case B_LT: binaryBroadcast<ILt>(a, b, y, rank, shape, sa, sb); break;
    case B_LE: binaryBroadcast<ILe>(a, b, y, rank, shape, sa, sb); break;
    case B_GT: binaryBroadcast<IGt>(a, b, y, rank, shape, sa, sb); break;
    case B_GE: binaryBroadcast<IGe>(a, b, y, rank, shape, sa, sb); break;
    default: unreachable();
  }
}

/**
 * y = cond != 0 ? a : b with broadcasting over three inputs (cond f32). `strides` points to 3·rank i32s:
 * cond's, a's, then b's strides.
 */
export function where_f32(c: usize, a: usize, b: usize, y: usize, rank: i32, shape: usize, strides: usize): void {
  const r1 = rank - 1;
  const sc = strides;
  const sa = strides + (<usize>rank << 2);
  const sb = strides + (<usize>rank << 3);
  const n = load<i32>(shape + (<usize>r1 << 2));
  const ic = <usize>load<i32>(sc + (<usize>r1 << 2)) << 2;
  const ia = <usize>load<i32>(sa + (<usize>r1 << 2)) << 2;
  const ib = <usize>load<i32>(sb + (<usize>r1 << 2)) << 2;
  let rows = 1;
  for (let d = 0; d < r1; d++) {
    rows *= load<i32>(shape + (<usize>d << 2));
    store<i32>(IDX + (<usize>d << 2), 0);
  }
  if (n == 0 || rows == 0) return;
  let pc = c;
  let pa = a;
  let pb = b;
  let py = y;
  const contiguous = ic == 4 && ia == 4 && ib == 4;
  for (let r = 0; r < rows; r++) {
    let i = 0;
    if (contiguous) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        const m = f32x4.ne(v128.load(pc + o), splat(0));
        v128.store(py + o, v128.bitselect(v128.load(pa + o), v128.load(pb + o), m));
      }
    }
    for (; i < n; i++) {
      const cv = load<f32>(pc + ic * i);
      store<f32>(py + (<usize>i << 2), cv != 0 ? load<f32>(pa + ia * i) : load<f32>(pb + ib * i));
    }
    py += <usize>n << 2;
    for (let d = r1 - 1; d >= 0; d--) {
      const off = <usize>d << 2;
      const k = load<i32>(IDX + off) + 1;
      const dc = <usize>load<i32>(sc + off) << 2;
      const da = <usize>load<i32>(sa + off) << 2;
      const db = <usize>load<i32>(sb + off) << 2;
      if (k < load<i32>(shape + off)) {
        store<i32>(IDX + off, k);
        pc += dc;
        pa += da;
        pb += db;
        break;
      }
      store<i32>(IDX + off, 0);
      pc -= dc * <usize>(k - 1);
      pa -= da * <usize>(k - 1);
      pb -= db * <usize>(k - 1);
    }
  }
}

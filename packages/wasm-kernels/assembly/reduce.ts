// Reductions over a [outer, R, inner] view, softmax / log-softmax over rows, cross-entropy.
//
// The reductions are generic over the lane type: an op class folds whole vectors only (tails are padded
// with the op's identity), so one loop serves f32 and i32 and every result is a vector whose lane 0 is
// the answer.
import { loadPartial, storePartial, splat, isplat, hsum, fma } from './common';
import { vexp, vexpFast, vexpSlow, vlog, vlog1pPos } from './math';

// A reduction: `id` is the identity (splatted), `v` folds an input vector into an accumulator, `c`
// merges two accumulators (≠ v for sums of squares).
class RSum {
  @inline id(): v128 { return splat(0); }
  @inline v(acc: v128, x: v128): v128 { return f32x4.add(acc, x); }
  @inline c(a: v128, b: v128): v128 { return f32x4.add(a, b); }
}
class RSumSq {
  @inline id(): v128 { return splat(0); }
  @inline v(acc: v128, x: v128): v128 { return fma(x, x, acc); }
  @inline c(a: v128, b: v128): v128 { return f32x4.add(a, b); }
}
class RMax {
  @inline id(): v128 { return splat(-Infinity); }
  @inline v(acc: v128, x: v128): v128 { return f32x4.max(acc, x); } // NaN-propagating
  @inline c(a: v128, b: v128): v128 { return f32x4.max(a, b); }
}
class RMin {
  @inline id(): v128 { return splat(Infinity); }
  @inline v(acc: v128, x: v128): v128 { return f32x4.min(acc, x); }
  @inline c(a: v128, b: v128): v128 { return f32x4.min(a, b); }
}
class RISum {
  @inline id(): v128 { return isplat(0); }
  @inline v(acc: v128, x: v128): v128 { return i32x4.add(acc, x); } // wraps, like Int32Array stores
  @inline c(a: v128, b: v128): v128 { return i32x4.add(a, b); }
}
class RIMax {
  @inline id(): v128 { return isplat(i32.MIN_VALUE); }
  @inline v(acc: v128, x: v128): v128 { return i32x4.max_s(acc, x); }
  @inline c(a: v128, b: v128): v128 { return i32x4.max_s(a, b); }
}
class RIMin {
  @inline id(): v128 { return isplat(i32.MAX_VALUE); }
  @inline v(acc: v128, x: v128): v128 { return i32x4.min_s(acc, x); }
  @inline c(a: v128, b: v128): v128 { return i32x4.min_s(a, b); }
}

/** Lanes l < t are all-ones (t in 0..4). */
@inline function tailMask(t: i32): v128 {
  return i32x4.gt_s(isplat(t), i32x4(0, 1, 2, 3));
}

/** t (1..3) lanes from p, the others set to `fill`. */
@inline function loadTail(p: usize, t: i32, fill: v128): v128 {
  return v128.bitselect(loadPartial(p, t), fill, tailMask(t));
}

/** Merges the four lanes of an accumulator; the result is in every lane. */
@inline function across<Op>(v: v128): v128 {
  const op = changetype<Op>(0);
  const s = op.c(v, v128.shuffle<i32>(v, v, 2, 3, 0, 1));
  return op.c(s, v128.shuffle<i32>(s, s, 1, 0, 3, 2));
}

/** Reduces one contiguous row of n lanes (4 independent vector accumulators); the result is in lane 0. */
@inline function reduceRow<Op>(p: usize, n: i32): v128 {
  const op = changetype<Op>(0);
  const z = op.id();
  let a0 = z, a1 = z, a2 = z, a3 = z;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    a0 = op.v(a0, v128.load(q));
    a1 = op.v(a1, v128.load(q, 16));
    a2 = op.v(a2, v128.load(q, 32));
    a3 = op.v(a3, v128.load(q, 48));
  }
  for (; i + 4 <= n; i += 4) a0 = op.v(a0, v128.load(p + (<usize>i << 2)));
  const t = n - i;
  if (t > 0) a1 = op.v(a1, loadTail(p + (<usize>i << 2), t, z));
  // (a0 ⊕ a1) ⊕ (a2 ⊕ a3) lane-wise, then across lanes
  return across<Op>(op.c(op.c(a0, a1), op.c(a2, a3)));
}

@inline function reduceRowF32<Op>(p: usize, n: i32): f32 {
  return f32x4.extract_lane(reduceRow<Op>(p, n), 0);
}

/** Reduces over r for a [R, inner] slab: y[j] = ⊕_r x[r·inner + j]. */
@inline function reduceCols<Op>(x: usize, y: usize, R: i32, inner: i32): void {
  const op = changetype<Op>(0);
  const z = op.id();
  const rowB = <usize>inner << 2;
  let j = 0;
  for (; j + 16 <= inner; j += 16) {
    let a0 = z, a1 = z, a2 = z, a3 = z;
    let q = x + (<usize>j << 2);
    for (let r = 0; r < R; r++) {
      a0 = op.v(a0, v128.load(q));
      a1 = op.v(a1, v128.load(q, 16));
      a2 = op.v(a2, v128.load(q, 32));
      a3 = op.v(a3, v128.load(q, 48));
      q += rowB;
    }
    const o = y + (<usize>j << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; j + 4 <= inner; j += 4) {
    let a0 = z;
    let q = x + (<usize>j << 2);
    for (let r = 0; r < R; r++) {
      a0 = op.v(a0, v128.load(q));
      q += rowB;
    }
    v128.store(y + (<usize>j << 2), a0);
  }
  const t = inner - j;
  if (t > 0) {
    let a0 = z;
    let q = x + (<usize>j << 2);
    for (let r = 0; r < R; r++) {
      a0 = op.v(a0, loadPartial(q, t)); // lanes ≥ t are never stored
      q += rowB;
    }
    storePartial(y + (<usize>j << 2), a0, t);
  }
}

/** `scale` ≠ 1 multiplies f32 results (mean); i32 reductions pass 1. */
function reduceView<Op>(x: usize, y: usize, outer: i32, R: i32, inner: i32, scale: f32): void {
  const slab = <usize>R * inner << 2;
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      let r = reduceRow<Op>(x + slab * o, R);
      if (scale != 1) r = f32x4.mul(r, splat(scale));
      v128.store32_lane(y + (<usize>o << 2), r, 0);
    }
  } else {
    const rowOut = <usize>inner << 2;
    for (let o = 0; o < outer; o++) {
      const yo = y + rowOut * o;
      reduceCols<Op>(x + slab * o, yo, R, inner);
      if (scale != 1) {
        for (let j = 0; j < inner; j++) store<f32>(yo + (<usize>j << 2), load<f32>(yo + (<usize>j << 2)) * scale);
      }
    }
  }
}

export const R_SUM = 0;
export const R_MAX = 1;
export const R_MIN = 2;
export const R_MEAN = 3;
export const R_SUM_SQUARES = 4;

/**
 * y[o, j] = ⊕_{r<R} x[o, r, j] over the [outer, R, inner] view (the caller maps any axis set onto it).
 * R = 0 gives the identity (0, −inf, +inf; mean → NaN). max/min propagate NaN.
 */
export function reduce_f32(op: i32, x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  switch (op) {
    case R_SUM: reduceView<RSum>(x, y, outer, R, inner, 1); break;
    case R_MAX: reduceView<RMax>(x, y, outer, R, inner, 1); break;
    case R_MIN: reduceView<RMin>(x, y, outer, R, inner, 1); break;
    case R_MEAN: reduceView<RSum>(x, y, outer, R, inner, <f32>(1.0 / <f64>R)); break;
    case R_SUM_SQUARES: reduceView<RSumSq>(x, y, outer, R, inner, 1); break;
    default: unreachable();
  }
}

/** i32 version: sum (wrap-around), max, min. R = 0 gives 0, INT32_MIN, INT32_MAX. */
export function reduce_i32(op: i32, x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  switch (op) {
    case R_SUM: reduceView<RISum>(x, y, outer, R, inner, 1); break;
    case R_MAX: reduceView<RIMax>(x, y, outer, R, inner, 1); break;
    case R_MIN: reduceView<RIMin>(x, y, outer, R, inner, 1); break;
    default: unreachable();
  }
}

// ---- argmax / argmin: index of the first extreme; a NaN counts as the extreme (NumPy) ----------------
// `better` is the strict comparison, `nan` marks NaN lanes (none for i32), `eq` is lane equality.

class AMax {
  @inline better(v: v128, b: v128): v128 { return f32x4.gt(v, b); }
  @inline nan(v: v128): v128 { return f32x4.ne(v, v); }
  @inline eq(v: v128, b: v128): v128 { return f32x4.eq(v, b); }
}
class AMin {
  @inline better(v: v128, b: v128): v128 { return f32x4.lt(v, b); }
  @inline nan(v: v128): v128 { return f32x4.ne(v, v); }
  @inline eq(v: v128, b: v128): v128 { return f32x4.eq(v, b); }
}
class AIMax {
  @inline better(v: v128, b: v128): v128 { return i32x4.gt_s(v, b); }
  @inline nan(v: v128): v128 { return isplat(0); }
  @inline eq(v: v128, b: v128): v128 { return i32x4.eq(v, b); }
}
class AIMin {
  @inline better(v: v128, b: v128): v128 { return i32x4.lt_s(v, b); }
  @inline nan(v: v128): v128 { return isplat(0); }
  @inline eq(v: v128, b: v128): v128 { return i32x4.eq(v, b); }
}

/**
 * Lanes where a later element v replaces the running best b: v is better, or v is the first NaN
 * (once a lane's best is NaN nothing replaces it).
 */
@inline function replaces<Op>(v: v128, b: v128): v128 {
  const op = changetype<Op>(0);
  return v128.or(op.better(v, b), v128.andnot(op.nan(v), op.nan(b)));
}

/**
 * Lanes where candidate (w, j) beats (v, i) when merging candidates of different lanes: it replaces v,
 * or it ties (equal, or both NaN) with a smaller index.
 */
@inline function beats<Op>(w: v128, j: v128, v: v128, i: v128): v128 {
  const op = changetype<Op>(0);
  const tie = v128.or(op.eq(w, v), v128.and(op.nan(w), op.nan(v)));
  return v128.or(replaces<Op>(w, v), v128.and(tie, i32x4.lt_s(j, i)));
}

/**
 * Index of the first extreme of a contiguous row of n ≥ 1 lanes. Each of the 4 lanes tracks the first
 * extreme of its residue class; the lanes are then merged. Past-the-end tail lanes hold x[0] (whose own
 * index 0 is already a candidate of lane 0, so they can only tie it with a larger index).
 */
@inline function argRow<Op>(p: usize, n: i32): i32 {
  const x0 = v128.load32_splat(p);
  let bv = x0;
  let bi = isplat(0);
  let idx = i32x4(0, 1, 2, 3);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(p + (<usize>i << 2));
    const m = replaces<Op>(v, bv);
    bv = v128.bitselect(v, bv, m);
    bi = v128.bitselect(idx, bi, m);
    idx = i32x4.add(idx, isplat(4));
  }
  const t = n - i;
  if (t > 0) {
    const v = loadTail(p + (<usize>i << 2), t, x0);
    const m = replaces<Op>(v, bv);
    bv = v128.bitselect(v, bv, m);
    bi = v128.bitselect(idx, bi, m);
  }
  // merge lanes (2,3) into (0,1), then lane 1 into lane 0
  let wv = v128.shuffle<i32>(bv, bv, 2, 3, 0, 1);
  let wi = v128.shuffle<i32>(bi, bi, 2, 3, 0, 1);
  let m = beats<Op>(wv, wi, bv, bi);
  bv = v128.bitselect(wv, bv, m);
  bi = v128.bitselect(wi, bi, m);
  wv = v128.shuffle<i32>(bv, bv, 1, 0, 3, 2);
  wi = v128.shuffle<i32>(bi, bi, 1, 0, 3, 2);
  m = beats<Op>(wv, wi, bv, bi);
  return i32x4.extract_lane(v128.bitselect(wi, bi, m), 0);
}

/** y[j] = argext_r x[r·inner + j] for a [R, inner] slab, 4 columns at a time. */
@inline function argCols<Op>(x: usize, y: usize, R: i32, inner: i32): void {
  const rowB = <usize>inner << 2;
  for (let j = 0; j < inner; j += 4) {
    const t = min(4, inner - j);
    let q = x + (<usize>j << 2);
    let bv = t == 4 ? v128.load(q) : loadPartial(q, t);
    let bi = isplat(0);
    for (let r = 1; r < R; r++) {
      q += rowB;
      const v = t == 4 ? v128.load(q) : loadPartial(q, t);
      const m = replaces<Op>(v, bv);
      bv = v128.bitselect(v, bv, m);
      bi = v128.bitselect(isplat(r), bi, m);
    }
    const o = y + (<usize>j << 2);
    if (t == 4) v128.store(o, bi);
    else storePartial(o, bi, t);
  }
}

function argView<Op>(x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  const slab = <usize>R * inner << 2;
  for (let o = 0; o < outer; o++) {
    if (R <= 0) memory.fill(y + (<usize>o * inner << 2), 0, <usize>inner << 2);
    else if (inner == 1) store<i32>(y + (<usize>o << 2), argRow<Op>(x + slab * o, R));
    else argCols<Op>(x + slab * o, y + (<usize>o * inner << 2), R, inner);
  }
}

export const A_ARGMAX = 0;
export const A_ARGMIN = 1;

/** y (i32) [outer, inner] = index r of the first max/min of x[o, ·, j]; a NaN counts as the extreme. */
export function argreduce_f32(op: i32, x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  if (op == A_ARGMAX) argView<AMax>(x, y, outer, R, inner);
  else argView<AMin>(x, y, outer, R, inner);
}

/** i32 input version of argreduce_f32. */
export function argreduce_i32(op: i32, x: usize, y: usize, outer: i32, R: i32, inner: i32): void {
  if (op == A_ARGMAX) argView<AIMax>(x, y, outer, R, inner);
  else argView<AIMin>(x, y, outer, R, inner);
}

// ---- softmax family (rows of n, last axis) ------------------------------------------------------------

@inline function rowMax(p: usize, n: i32): f32 {
  return reduceRowF32<RMax>(p, n);
}

/**
 * The row's max, and whether exp's fast path covers every x − max of the row (no NaN, max − min ≤ 86,
 * see math.ts): one pass with pmax/pmin (one instruction each; wasm's NaN-propagating f32x4.max costs
 * V8 about eight) and a NaN flag. Returns the max, with its sign of zero as rowMax gives it, or NaN when
 * the fast path does not apply (then the caller takes rowMax and the slow path).
 */
@inline function rowMaxFast(p: usize, n: i32): f32 {
  let mx0 = splat(-Infinity), mx1 = mx0, mn0 = splat(Infinity), mn1 = mn0;
  let bad = splat(0);
  let i = 0;
  // 16 floats per iteration: V8 adds a stack check and a few moves to every loop iteration, which cost
  // as much as the work itself at 8.
  for (; i + 16 <= n; i += 16) {
    const q = p + (<usize>i << 2);
    const a = v128.load(q);
    const b = v128.load(q, 16);
    const c = v128.load(q, 32);
    const d = v128.load(q, 48);
    mx0 = f32x4.pmax(mx0, f32x4.pmax(a, c));
    mx1 = f32x4.pmax(mx1, f32x4.pmax(b, d));
    mn0 = f32x4.pmin(mn0, f32x4.pmin(a, c));
    mn1 = f32x4.pmin(mn1, f32x4.pmin(b, d));
    bad = v128.or(bad, v128.or(v128.or(f32x4.ne(a, a), f32x4.ne(b, b)), v128.or(f32x4.ne(c, c), f32x4.ne(d, d))));
  }
  for (; i + 4 <= n; i += 4) {
    const a = v128.load(p + (<usize>i << 2));
    mx0 = f32x4.pmax(mx0, a);
    mn0 = f32x4.pmin(mn0, a);
    bad = v128.or(bad, f32x4.ne(a, a));
  }
  const t = n - i;
  if (t > 0) {
    const q = p + (<usize>i << 2);
    const a = loadTail(q, t, splat(-Infinity));
    mx1 = f32x4.pmax(mx1, a);
    mn1 = f32x4.pmin(mn1, loadTail(q, t, splat(Infinity)));
    bad = v128.or(bad, f32x4.ne(a, a));
  }
  const mx = across<RMax>(f32x4.pmax(mx0, mx1));
  const mn = across<RMin>(f32x4.pmin(mn0, mn1));
  const m = f32x4.extract_lane(mx, 0);
  // max − min ≤ 86 (false for ±inf and NaN)
  if (v128.any_true(bad) || !(m - f32x4.extract_lane(mn, 0) <= 86)) return NaN;
  // pmax keeps the first of −0 and +0; rowMax's NaN-propagating max prefers +0 (log-softmax sees it)
  return m == 0 ? rowMax(p, n) : m;
}

/**
 * Σ exp(x − m) over a row; writes the exps to y when y ≠ 0. fast: every x − m is in exp's fast range.
 * split (for log Σ): returns only the sum s' over the elements below the max (x − m ≠ 0, masked out of
 * the vector sums with andnot) and counts the maxima, whose e⁰ = 1 exactly, in `rowMaximaOut` — the
 * whole sum is rowMaximaOut + s'. Constant at every call, so softmax's path (split = false) has none of it.
 */
@inline function sumExpWith(x: usize, y: usize, n: i32, m: f32, fast: bool, split: bool): f32 {
  const vm = splat(m);
  let s0 = splat(0), s1 = splat(0);
  let k0 = isplat(0); // −(count of maxima) per lane: an all-ones mask lane is −1
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const d0 = f32x4.sub(v128.load(x + o), vm);
    const d1 = f32x4.sub(v128.load(x + o, 16), vm);
    const d2 = f32x4.sub(v128.load(x + o, 32), vm);
    const d3 = f32x4.sub(v128.load(x + o, 48), vm);
    let e0 = fast ? vexpFast(d0) : vexpSlow(d0);
    let e1 = fast ? vexpFast(d1) : vexpSlow(d1);
    let e2 = fast ? vexpFast(d2) : vexpSlow(d2);
    let e3 = fast ? vexpFast(d3) : vexpSlow(d3);
    if (y) {
      v128.store(y + o, e0);
      v128.store(y + o, e1, 16);
      v128.store(y + o, e2, 32);
      v128.store(y + o, e3, 48);
    }
    if (split) {
      const z0 = f32x4.eq(d0, splat(0)), z1 = f32x4.eq(d1, splat(0));
      const z2 = f32x4.eq(d2, splat(0)), z3 = f32x4.eq(d3, splat(0));
      k0 = i32x4.add(k0, i32x4.add(i32x4.add(z0, z1), i32x4.add(z2, z3)));
      e0 = v128.andnot(e0, z0);
      e1 = v128.andnot(e1, z1);
      e2 = v128.andnot(e2, z2);
      e3 = v128.andnot(e3, z3);
    }
    s0 = f32x4.add(s0, f32x4.add(e0, e2));
    s1 = f32x4.add(s1, f32x4.add(e1, e3));
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const d0 = f32x4.sub(v128.load(x + o), vm);
    let e0 = fast ? vexpFast(d0) : vexpSlow(d0);
    if (y) v128.store(y + o, e0);
    if (split) {
      const z0 = f32x4.eq(d0, splat(0));
      k0 = i32x4.add(k0, z0);
      e0 = v128.andnot(e0, z0);
    }
    s0 = f32x4.add(s0, e0);
  }
  let s = hsum(f32x4.add(s0, s1));
  let maxima = 0;
  if (split) {
    maxima = -(i32x4.extract_lane(k0, 0) + i32x4.extract_lane(k0, 1) + i32x4.extract_lane(k0, 2) + i32x4.extract_lane(k0, 3));
  }
  const t = n - i;
  if (t > 0) {
    const o = <usize>i << 2;
    const d = f32x4.sub(loadPartial(x + o, t), vm);
    const e = fast ? vexpFast(d) : vexpSlow(d);
    if (y) storePartial(y + o, e, t);
    if (split) {
      // lane by lane: the zero-filled lanes past t have d = −m, which is 0 when m is
      if (f32x4.extract_lane(d, 0) == 0) maxima++;
      else s += f32x4.extract_lane(e, 0);
      if (t > 1) {
        if (f32x4.extract_lane(d, 1) == 0) maxima++;
        else s += f32x4.extract_lane(e, 1);
      }
      if (t > 2) {
        if (f32x4.extract_lane(d, 2) == 0) maxima++;
        else s += f32x4.extract_lane(e, 2);
      }
    } else {
      s += f32x4.extract_lane(e, 0);
      if (t > 1) s += f32x4.extract_lane(e, 1);
      if (t > 2) s += f32x4.extract_lane(e, 2);
    }
  }
  if (split) rowMaximaOut = maxima;
  return s;
}
/**
 * Σ exp(x − max) over a row of n, writing the exps to y when y ≠ 0; the max goes to `rowMaxOut`.
 * Whole rows take exp's fast path (chosen once per row, no per-vector test); a row with NaN, ±inf or a
 * spread over 86 (e.g. a −inf attention mask) takes the slow path, which gives the same bits for every
 * element the fast path covers. split: see sumExpWith.
 */
@inline function rowSumExp(x: usize, y: usize, n: i32, split: bool = false): f32 {
  const mf = rowMaxFast(x, n);
  if (mf == mf) {
    rowMaxOut = mf;
    return sumExpWith(x, y, n, mf, true, split);
  }
  const m = rowMax(x, n);
  rowMaxOut = m;
  return sumExpWith(x, y, n, m, false, split);
}
/** The max of the last rowSumExp row (a second return value; per instance, so per thread). */
let rowMaxOut: f32 = 0;
/** How many elements of the last split rowSumExp row equal its max. */
let rowMaximaOut: i32 = 0;

/**
 * log Σ exp(x − max) over a row of n (the max in `rowMaxOut`), keeping what log(Σ) loses when Σ is within
 * an ulp of 1: in a confident row (one logit L above the rest) Σ = 1 + s' with s' ≈ e⁻ᴸ, so log Σ ≈ s'
 * — the whole log-softmax at the max, or the loss of a correct label — but fl(1 + s') = 1 for s' < 2⁻²⁴.
 * With one max, log1p(s') keeps it; with k ≥ 2 maxima log(k + s') ≥ log 2, whose rounding of the sum is
 * only relative. A row with NaN or ±∞ (x − max NaN at the max, counted in neither) gives NaN.
 */
@inline function rowLogSumExp(x: usize, n: i32): f32 {
  const s = rowSumExp(x, 0, n, true);
  return rowMaximaOut == 1 ? f32x4.extract_lane(vlog1pPos(f32x4.splat(s)), 0) : slog(<f32>rowMaximaOut + s);
}

@inline function slog(x: f32): f32 {
  return f32x4.extract_lane(vlog(f32x4.splat(x)), 0);
}

@inline function scaleRow(y: usize, n: i32, a: f32, b: f32): void {
  // y = y·a + b  (b added after the product: y·a exact-rounded, then + b). b = −0 adds nothing (x + −0 = x
  // for every x, −0 included), so softmax passes −0 and gets a multiply-only pass.
  const va = splat(a);
  const vb = splat(b);
  const mulOnly = b == 0 && (reinterpret<u32>(b) >> 31) != 0;
  let i = 0;
  if (mulOnly) {
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2;
      const p = y + o;
      const a = f32x4.mul(v128.load(p), va);
      const b = f32x4.mul(v128.load(p, 16), va);
      const c = f32x4.mul(v128.load(p, 32), va);
      const d = f32x4.mul(v128.load(p, 48), va);
      v128.store(p, a);
      v128.store(p, b, 16);
      v128.store(p, c, 32);
      v128.store(p, d, 48);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(y + o), va));
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(f32x4.mul(v128.load(y + o), va), vb));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) * a + b);
  }
}

/**
 * y = (x − a) − b over a row of n (y may equal x): log-softmax's (x − max) − log Σ, which is exactly −log Σ
 * at the max, where x − (max + log Σ) would round a confident row's log Σ ≈ e⁻ᴸ away.
 */
@inline function subSubRow(x: usize, y: usize, n: i32, a: f32, b: f32): void {
  const va = splat(a);
  const vb = splat(b);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const p = f32x4.sub(f32x4.sub(v128.load(x + o), va), vb);
    const q = f32x4.sub(f32x4.sub(v128.load(x + o, 16), va), vb);
    const r = f32x4.sub(f32x4.sub(v128.load(x + o, 32), va), vb);
    const t = f32x4.sub(f32x4.sub(v128.load(x + o, 48), va), vb);
    v128.store(y + o, p);
    v128.store(y + o, q, 16);
    v128.store(y + o, r, 32);
    v128.store(y + o, t, 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.sub(f32x4.sub(v128.load(x + o), va), vb));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) - a - b);
  }
}

/** y = softmax(x) over each row of n (numerically stable, max-subtracted). y may equal x. */
export function softmax_f32(x: usize, y: usize, rows: i32, n: i32): void {
  const rb = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const yr = y + rb * r;
    const s = rowSumExp(xr, yr, n);
    scaleRow(yr, n, 1 / s, -0.0);
  }
}

/** y = x − logsumexp(x) over each row of n. y may equal x. */
export function log_softmax_f32(x: usize, y: usize, rows: i32, n: i32): void {
  const rb = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const yr = y + rb * r;
    const ls = rowLogSumExp(xr, n);
    subSubRow(xr, yr, n, rowMaxOut, ls);
  }
}

/** y[r] = logsumexp(x[r, :]) for each row. */
export function logsumexp_f32(x: usize, y: usize, rows: i32, n: i32): void {
  const rb = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const ls = rowLogSumExp(xr, n); // (NaN for a row of −inf: not used)
    const m = rowMaxOut;
    store<f32>(y + (<usize>r << 2), m == -Infinity ? m : m + ls);
  }
}

/**
 * Cross-entropy per row from logits [rows, C] and i32 labels, label smoothing eps:
 * loss[r] = lse(x_r) − (1 − eps)·x_r[label] − eps·mean_j x_r[j]. A label outside [0, C) gives NaN.
 */
export function cross_entropy_f32(x: usize, labels: usize, loss: usize, rows: i32, C: i32, eps: f32): void {
  const rb = <usize>C << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const ls = rowLogSumExp(xr, C);
    const m = rowMaxOut;
    const lab = load<i32>(labels + (<usize>r << 2));
    let l: f32 = NaN;
    if (lab >= 0 && lab < C) {
      // log Σ added last: m − x_label is exactly 0 for a label at the max, and the loss log Σ ≈ e⁻ᴸ of a
      // confident row would not survive m + log Σ
      l = m - (1 - eps) * load<f32>(xr + (<usize>lab << 2));
      if (eps != 0) l -= eps * (reduceRowF32<RSum>(xr, C) / <f32>C);
      l += ls;
    }
    store<f32>(loss + (<usize>r << 2), l);
  }
}

/**
 * Gradient of cross_entropy_f32: dx[r, j] = g_r·(softmax(x_r)_j − (1 − eps)·[j = label_r] − eps/C), with
 * g_r = dloss[r·dlossStride] (stride 0: one upstream gradient for all rows, e.g. 1/rows for a mean).
 */
export function cross_entropy_backward_f32(
  x: usize, labels: usize, dloss: usize, dlossStride: i32, dx: usize, rows: i32, C: i32, eps: f32,
): void {
  const rb = <usize>C << 2;
  const u = eps / <f32>C;
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const dr = dx + rb * r;
    const g = load<f32>(dloss + (<usize>(r * dlossStride) << 2));
    const s = rowSumExp(xr, dr, C);
    scaleRow(dr, C, g / s, -g * u);
    const lab = load<i32>(labels + (<usize>r << 2));
    if (lab >= 0 && lab < C) {
      const o = dr + (<usize>lab << 2);
      store<f32>(o, load<f32>(o) - g * (1 - eps));
    }
  }
}

/** dx = y·(dy − Σ_j dy·y) per row (softmax backward from the forward output y). */
export function softmax_backward_f32(y: usize, dy: usize, dx: usize, rows: i32, n: i32): void {
  const rb = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const yr = y + rb * r, gr = dy + rb * r, dr = dx + rb * r;
    let acc = splat(0);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      acc = fma(v128.load(yr + o), v128.load(gr + o), acc);
    }
    let d = hsum(acc);
    for (; i < n; i++) d += load<f32>(yr + (<usize>i << 2)) * load<f32>(gr + (<usize>i << 2));
    const vd = splat(d);
    i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dr + o, f32x4.mul(v128.load(yr + o), f32x4.sub(v128.load(gr + o), vd)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(dr + o, load<f32>(yr + o) * (load<f32>(gr + o) - d));
    }
  }
}

/** dx = dy − exp(y)·Σ_j dy per row (log-softmax backward from the forward output y). */
export function log_softmax_backward_f32(y: usize, dy: usize, dx: usize, rows: i32, n: i32): void {
  const rb = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const yr = y + rb * r, gr = dy + rb * r, dr = dx + rb * r;
    const s = splat(reduceRowF32<RSum>(gr, n));
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dr + o, f32x4.sub(v128.load(gr + o), f32x4.mul(vexp(v128.load(yr + o)), s)));
    }
    const t = n - i;
    if (t > 0) {
      const o = <usize>i << 2;
      storePartial(dr + o, f32x4.sub(loadPartial(gr + o, t), f32x4.mul(vexp(loadPartial(yr + o, t)), s)), t);
    }
  }
}

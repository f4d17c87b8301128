// Shared helpers for the kernels. Everything here is @inline so it costs nothing at the call site.
//
// ONE source, two builds: `ASC_FEATURE_RELAXED_SIMD` is a compile-time constant (true when the module
// is compiled with `--enable relaxed-simd`), so the dead branch disappears at compile time.

/** a*b + c. Fused (relaxed_madd → vfmadd on x86) in the relaxed build; mul + add otherwise. */
@inline export function fma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** c - a*b. */
@inline export function fnma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_nmadd(a, b, c);
  } else {
    return f32x4.sub(c, f32x4.mul(a, b));
  }
}

/**
 * A splatted constant read from static memory: `k(C)` with `const C = memory.data<f32>([value])` (or
 * `<i32>`), one `vbroadcastss` load. Why not `splat(1.5)`: Binaryen folds that into a `v128.const`, and V8
 * (Node 20, and Chromium at least up to its Turboshaft switch) materializes a `v128.const` *inside the
 * loop, at every use*: `movq r10, imm64; vmovq xmm, r10; vpunpcklqdq` — three instructions per constant
 * per vector (checked with `node --print-wasm-code`). The exp polynomial alone has a dozen constants, so
 * that tripled the instruction count of every transcendental map. Constants used in hot loops go through
 * `k()`; `splat()` stays for values computed at run time and for 0 / all-ones (one-instruction idioms).
 */
@inline export function k(p: usize): v128 {
  return v128.load32_splat(p);
}

/** k() of entry i of a static table of 4-byte constants. */
@inline export function ki(table: usize, i: i32): v128 {
  return v128.load32_splat(table + (<usize>i << 2));
}

@inline export function splat(x: f32): v128 {
  return f32x4.splat(x);
}

@inline export function isplat(x: i32): v128 {
  return i32x4.splat(x);
}

/** Loads t (1..3) consecutive f32 lanes, the rest zero. */
@inline export function loadPartial(p: usize, t: i32): v128 {
  if (t == 1) return v128.load32_zero(p);
  let v = v128.load64_zero(p);
  if (t == 3) v = v128.load32_lane(p + 8, v, 2);
  return v;
}

/** Stores the first t (1..3) lanes of v. */
@inline export function storePartial(p: usize, v: v128, t: i32): void {
  if (t == 1) {
    v128.store32_lane(p, v, 0);
  } else {
    v128.store64_lane(p, v, 0);
    if (t == 3) v128.store32_lane(p + 8, v, 2);
  }
}

/** Horizontal sum of the four f32 lanes. */
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  const t = f32x4.add(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

/** Horizontal max (NaN-propagating). */
@inline export function hmax(v: v128): f32 {
  const s = f32x4.max(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  const t = f32x4.max(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

@inline export function hmin(v: v128): f32 {
  const s = f32x4.min(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  const t = f32x4.min(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2));
  return f32x4.extract_lane(t, 0);
}

/** Lanes where x is NaN are all-ones. */
@inline export function isnan(x: v128): v128 {
  return f32x4.ne(x, x);
}

// Entry point of the kernel module. Every export takes byte pointers into the (imported) linear memory and
// i32 sizes; memory is managed by the TypeScript side (src/allocator.ts) above `heap_base()`.
import { fma } from './common';
export * from './elementwise';
export * from './matmul';

/** First byte the host allocator may use (everything below holds the module's static data). */
export function heap_base(): usize {
  return __heap_base;
}

/** 1 when compiled with relaxed SIMD. */
export function relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * The arithmetic peak of one core for this build, to measure the kernels against: n iterations of 12
 * independent f32x4 multiply-adds (fma(): relaxed_madd, or mul + add in the plain build), 96 flops per
 * iteration. 12 chains cover the FMA latency (4 cycles) times the FMA pipes (2) with room to spare; there
 * are no loads or stores. Returns a value depending on every chain, so nothing is optimized away.
 */
export function fma_peak(n: i32, s: f32): f32 {
  const b = f32x4.splat(0.999999);
  const c = f32x4.splat(1e-7);
  let a0 = f32x4.splat(s), a1 = f32x4.splat(s + 1), a2 = f32x4.splat(s + 2), a3 = f32x4.splat(s + 3);
  let a4 = f32x4.splat(s + 4), a5 = f32x4.splat(s + 5), a6 = f32x4.splat(s + 6), a7 = f32x4.splat(s + 7);
  let a8 = f32x4.splat(s + 8), a9 = f32x4.splat(s + 9), a10 = f32x4.splat(s + 10), a11 = f32x4.splat(s + 11);
  for (let i = 0; i < n; i++) {
    a0 = fma(a0, b, c); a1 = fma(a1, b, c); a2 = fma(a2, b, c); a3 = fma(a3, b, c);
    a4 = fma(a4, b, c); a5 = fma(a5, b, c); a6 = fma(a6, b, c); a7 = fma(a7, b, c);
    a8 = fma(a8, b, c); a9 = fma(a9, b, c); a10 = fma(a10, b, c); a11 = fma(a11, b, c);
  }
  const t = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(f32x4.add(t, f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))), 0);
}
export * from './reduce';
export * from './layout';
export * from './norm';
export * from './optim';
export * from './conv';

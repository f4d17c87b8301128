// Entry point of the kernel module. Every export takes byte pointers into the (imported) linear memory and
// i32 sizes; memory is managed by the TypeScript side (src/allocator.ts) above `heap_base()`.
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
export * from './reduce';
export * from './layout';
export * from './norm';
export * from './optim';
export * from './conv';

import { expect, it } from 'vitest';
import { chooseVariant, hasRelaxedSimd, hasWasmSimd } from '../src/index.js';
import { createModule } from './helpers.js';

it('Node 20 validates 128-bit SIMD', () => {
  expect(hasWasmSimd()).toBe(true);
});

it('relaxed SIMD follows --experimental-wasm-relaxed-simd on Node 20', () => {
  const flag = process.execArgv.includes('--experimental-wasm-relaxed-simd');
  if (process.versions.node.startsWith('20.')) {
    expect(hasRelaxedSimd()).toBe(flag);
    expect(chooseVariant()).toBe(flag ? 'relaxed' : 'simd');
  }
});

it('fma_peak runs 12 independent multiply-add chains (the benchmarks measure one core with it)', () => {
  const km = createModule();
  const n = 1000;
  // chain j: a ← a·b + c from a = 1 + j, in f32 (mul + add rounds twice, the fused form once)
  let want = 0;
  for (let j = 0; j < 12; j++) {
    let a = Math.fround(1 + j);
    for (let i = 0; i < n; i++) a = Math.fround(a * Math.fround(0.999999) + Math.fround(1e-7));
    want += a;
  }
  const got = km.exports.fma_peak(n, 1);
  // ≤ 2n roundings of ≈ u per chain on values near 1 + j, then 11 additions
  expect(Math.abs(got - want)).toBeLessThan(2 * n * 12 * 2 ** -24 * 13);
  expect(km.exports.fma_peak(n, 2)).not.toBe(got);
});

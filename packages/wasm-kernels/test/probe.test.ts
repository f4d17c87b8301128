import { expect, it } from 'vitest';
import { chooseVariant, hasRelaxedSimd, hasWasmSimd } from '../src/index.js';

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

import { expect, it } from 'vitest';
import { hasWasmSimd } from '../src/index.js';

it('Node 20 validates 128-bit SIMD', () => {
  expect(hasWasmSimd()).toBe(true);
});

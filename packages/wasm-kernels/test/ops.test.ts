import { expect, it } from 'vitest';
import { ArgReduceOp, BinaryOp, ReduceOp, UnaryOp } from '../src/index.js';
import { createModule, VARIANT } from './helpers.js';

it('op-code tables match the module’s exported globals', () => {
  const km = createModule();
  const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
  const tables: [string, Record<string, number>][] = [
    ['U_', UnaryOp],
    ['B_', BinaryOp],
    ['R_', ReduceOp],
    ['A_', ArgReduceOp],
  ];
  for (const [prefix, table] of tables) {
    for (const [name, code] of Object.entries(table)) {
      const g = km.exports[prefix + snake(name)] as WebAssembly.Global | undefined;
      expect(g, prefix + snake(name)).toBeDefined();
      expect(g!.value, name).toBe(code);
    }
  }
  expect(km.variant).toBe(VARIANT);
  expect(km.exports.relaxed_simd()).toBe(VARIANT === 'relaxed' ? 1 : 0);
});

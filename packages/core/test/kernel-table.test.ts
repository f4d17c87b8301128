/**
 * The kernel-table helpers every backend looks its kernels up with: merging per-area tables, own-entry
 * lookups, and the missing-kernel error that names the op and the backend.
 */
import { describe, expect, it } from 'vitest';
import {
  DescentError,
  hasKernelIn,
  JsBackend,
  kernelFor,
  mergeKernelTables,
  missingKernelError,
  referenceKernels,
} from '../src/index.js';

describe('mergeKernelTables', () => {
  it('keeps every area’s kernels, in area order', () => {
    const merged = mergeKernelTables<number>([{ a: 1, b: 2 }, { c: 3 }, {}, { d: 4 }]);
    expect(Object.entries(merged)).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
  });

  it('rejects an op that two areas define, naming it', () => {
    expect(() => mergeKernelTables<number>([{ a: 1, relu: 2 }, { relu: 3 }])).toThrow(/'relu'.*two area/);
  });
});

describe('kernel lookup', () => {
  const table = mergeKernelTables<string>([{ relu: 'relu kernel' }]);

  it('finds own entries only', () => {
    expect(kernelFor(table, 'relu', 'b')).toBe('relu kernel');
    expect(hasKernelIn(table, 'relu')).toBe(true);
    for (const op of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'nope'])
      expect(hasKernelIn(table, op)).toBe(false);
  });

  it('a missing kernel is a DescentError naming the op and the backend', () => {
    for (const op of ['nope', 'toString']) {
      let err: unknown;
      try {
        kernelFor(table, op, 'mybackend');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DescentError);
      expect((err as DescentError).op).toBe(op);
      expect((err as Error).message).toBe(`${op}: backend 'mybackend' has no kernel for op '${op}'`);
    }
    expect(missingKernelError('conv2d', 'wasm').message).toBe(
      "conv2d: backend 'wasm' has no kernel for op 'conv2d'",
    );
  });

  it('JsBackend.runKernel names the op and backend for an op it lacks, and keeps working', () => {
    const b = new JsBackend({ name: 'js-lookup' });
    expect(b.hasKernel('noSuchOp')).toBe(false);
    expect(b.kernelNames()).toEqual(Object.keys(referenceKernels));
    expect(() => b.runKernel('noSuchOp', [], [], {})).toThrow(
      "noSuchOp: backend 'js-lookup' has no kernel for op 'noSuchOp'",
    );
    const x = b.allocate(3, 'f32', [-1, 0, 2]);
    const y = b.allocate(3, 'f32');
    const info = (data: object) => ({ data, shape: [3], dtype: 'f32' as const, size: 3 });
    b.runKernel('relu', [info(x)], [info(y)], {});
    expect(Array.from(b.readSync(y, 'f32', 3))).toEqual([0, 0, 2]);
    b.free(x);
    b.free(y);
    expect(b.memory()).toEqual({ bytes: 0, buffers: 0 });
  });
});

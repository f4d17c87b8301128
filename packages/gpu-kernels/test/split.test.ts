/**
 * Tensors larger than `maxStorageBufferBindingSize`: kernels split them into several dispatches over
 * binding windows instead of rejecting them. Tested with an artificially small limit (1 KiB = 256
 * elements) so every path runs on small tensors:
 * - the planning helpers, against brute force;
 * - every splitting op against the same op on an unlimited backend: bit-identical where a split
 *   cannot change the arithmetic (maps, copies, rows, max/min/arg), and on integer data — exact in
 *   f32 in any order — where it regroups sums (sum, matmul);
 * - core's conformance suite (error-bound tolerances) for the splitting ops on the limited backend;
 * - an op that does not split names itself, the tensor and the limit.
 */
import {
  add,
  argmax,
  argmin,
  batchNorm,
  CrossEntropyBackward,
  cast,
  concat,
  crossEntropy,
  engine,
  exp,
  gather,
  layerNorm,
  logSoftmax,
  matmul,
  max,
  min,
  mul,
  pad,
  runOp,
  slice,
  softmax,
  sum,
  type Tensor,
  tensor,
  transpose,
  where,
} from '@descent/core';
import { runConformance } from '@descent/core/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend } from '../src/index.js';
import { SPLITTING_OPS } from '../src/webgpu/kernels/splitting.js';
import { offsetRange, splitRange, strided, type WalkAxis, windowOver } from '../src/webgpu/split.js';
import { runGPU } from './gpu.js';

const LIMIT = 1024; // bytes: 256 f32 elements per binding

describe('split planning', () => {
  const rand = (() => {
    let s = 12345;
    return (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s % n;
    };
  })();

  it('offsetRange gives the exact smallest and largest offset of every output range', () => {
    for (let trial = 0; trial < 300; trial++) {
      const rank = 1 + rand(4);
      const shape = Array.from({ length: rank }, () => 1 + rand(5));
      // Broadcast-like strides (some 0), permuted strides and clamped (pad-like) maps.
      const axes: WalkAxis[] = shape.map((dim) => {
        const stride = rand(3) === 0 ? 0 : 1 + rand(40);
        const lo = rand(3) === 0 ? rand(3) : 0;
        const inDim = 1 + rand(dim + 2);
        return { dim, at: (c: number) => Math.min(Math.max(c - lo, 0), inDim - 1) * stride };
      });
      const n = shape.reduce((a, b) => a * b, 1);
      const offsets = Array.from({ length: n }, (_, i) => {
        let rem = i;
        let off = 0;
        for (let d = rank - 1; d >= 0; d--) {
          off += axes[d].at(rem % shape[d]);
          rem = Math.floor(rem / shape[d]);
        }
        return off;
      });
      const s = rand(n);
      const e = s + 1 + rand(n - s);
      const slice = offsets.slice(s, e);
      expect(offsetRange(axes, s, e)).toEqual([Math.min(...slice), Math.max(...slice)]);
    }
  });

  it('splitRange covers the range with pieces whose windows fit, and windows are aligned', () => {
    const limits = { maxElements: 64, alignElements: 4 };
    // A [1, 100] row broadcast over [7, 100]: one row is larger than a binding.
    const walk = strided([7, 100], [0, 1]);
    const pieces = splitRange(700, limits, (s, e) => [
      windowOver(...offsetRange(walk, s, e), 4),
      windowOver(s, e - 1, 4),
    ]);
    let next = 0;
    for (const p of pieces) {
      expect(p.s).toBe(next);
      next = p.e;
      for (const w of p.windows) {
        expect(w.size).toBeLessThanOrEqual(64);
        expect(w.offset % 4).toBe(0);
      }
    }
    expect(next).toBe(700);
  });
});

describe.runIf(runGPU)('tensors larger than maxStorageBufferBindingSize', () => {
  const FULL = 'webgpu-full';
  const SMALL = 'webgpu-small';
  let small: WebGPUBackend;

  beforeAll(async () => {
    engine.registerBackend(FULL, () => createWebGPUBackend({ name: FULL }), { replace: true });
    engine.registerBackend(
      SMALL,
      () => createWebGPUBackend({ name: SMALL, limitOverrides: { maxStorageBufferBindingSize: LIMIT } }),
      { replace: true },
    );
    await engine.initBackend(FULL);
    small = (await engine.initBackend(SMALL)) as WebGPUBackend;
  });
  afterAll(() => {
    engine.removeBackend(FULL);
    engine.removeBackend(SMALL);
  });

  /** Small integers (exact sums in f32), with a few repeats so arg reductions meet ties. */
  const ints = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104729) % 9) - 4);
  const normals = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 3);

  interface Input {
    values: Float32Array | Int32Array;
    shape: number[];
  }

  /**
   * Runs `f` on both backends; expects bit-identical results and that the limited backend split the
   * work (more dispatches than the unlimited one).
   */
  async function same(inputs: Input[], f: (...xs: Tensor[]) => Tensor, relTol = 0): Promise<void> {
    const run = async (backend: string) => {
      const before = (engine.backend(backend) as WebGPUBackend).memory().dispatches as number;
      const y = engine.tidy(() =>
        f(
          ...inputs.map((x) =>
            tensor(x.values, x.shape, { backend, dtype: x.values instanceof Int32Array ? 'i32' : 'f32' }),
          ),
        ),
      );
      const out = { values: Array.from(await y.data()), shape: y.shape };
      y.dispose();
      return {
        ...out,
        dispatches: ((engine.backend(backend) as WebGPUBackend).memory().dispatches as number) - before,
      };
    };
    const full = await run(FULL);
    const split = await run(SMALL);
    expect(split.shape).toEqual(full.shape);
    if (relTol === 0) expect(split.values).toEqual(full.values);
    else
      for (const [i, v] of split.values.entries())
        expect(Math.abs(v - full.values[i])).toBeLessThanOrEqual(relTol * Math.abs(full.values[i]));
    expect(split.dispatches).toBeGreaterThan(full.dispatches);
    expect(engine.memory(SMALL).tensors).toBe(0);
  }

  it('elementwise maps and cast', async () => {
    const x = { values: normals(1000, 1), shape: [1000] };
    await same([x], (t) => exp(t));
    await same([x], (t) => cast(t, 'i32'));
  });

  it('broadcast binary ops and where, including a broadcast row longer than a binding', async () => {
    const a = { values: normals(7 * 300, 2), shape: [7, 300] };
    const row = { values: normals(300, 3), shape: [1, 300] };
    const col = { values: normals(7, 4), shape: [7, 1] };
    await same([a, row], (x, y) => add(x, y));
    await same([row, col], (x, y) => mul(x, y)); // output [7, 300] from two small inputs
    await same([a, row, col], (c, x, y) => where(c, x, y));
  });

  it('reductions: runs of outer slices, runs of the reduced axis (accumulated), inner rows over the limit', async () => {
    const x = { values: ints(6 * 50 * 7, 5), shape: [6, 50, 7] }; // a [50, 7] slab fits
    for (const axis of [0, 1, 2]) {
      await same([x], (t) => sum(t, axis));
      await same([x], (t) => max(t, axis));
      await same([x], (t) => argmax(t, axis));
    }
    const long = { values: ints(3 * 1000, 6), shape: [3, 1000] }; // one row: 1,000 > 256
    await same([long], (t) => sum(t, 1));
    await same([long], (t) => min(t, 1));
    await same([long], (t) => argmin(t, 1)); // ties across runs: the first extreme wins
    await same([long], (t) => argmax(t, 0));
    const wide = { values: ints(4 * 600, 7), shape: [4, 600] }; // inner 600 > 256: runs of one r
    await same([wide], (t) => sum(t, 0));
    await same([wide], (t) => argmax(t, 0));
    const nan = normals(1000, 8);
    nan[700] = Number.NaN;
    await same([{ values: nan, shape: [1000] }], (t) => argmax(t)); // NaN counts as the extreme
    await same([{ values: nan, shape: [1000] }], (t) => max(t));
  });

  it('matmul: runs of batches, and blocks of rows, columns and K (accumulated) in every transpose', async () => {
    const batched = [
      { values: ints(6 * 8 * 5, 9), shape: [6, 8, 5] },
      { values: ints(6 * 5 * 9, 10), shape: [6, 5, 9] },
    ];
    await same(batched, (a, b) => matmul(a, b));
    await same([batched[0], { values: ints(5 * 9, 11), shape: [5, 9] }], (a, b) => matmul(a, b)); // shared B
    const a = { values: ints(40 * 300, 12), shape: [40, 300] };
    const b = { values: ints(300 * 30, 13), shape: [300, 30] };
    const at = { values: ints(300 * 40, 14), shape: [300, 40] };
    const bt = { values: ints(30 * 300, 15), shape: [30, 300] };
    await same([a, b], (x, y) => matmul(x, y));
    await same([at, b], (x, y) => matmul(x, y, { transposeA: true }));
    await same([a, bt], (x, y) => matmul(x, y, { transposeB: true }));
    await same([at, bt], (x, y) => matmul(x, y, { transposeA: true, transposeB: true }));
  });

  it('row kernels over runs of rows (softmax, logSoftmax, crossEntropy(Backward), layerNorm) and batchNorm', async () => {
    const x = { values: normals(20 * 100, 16), shape: [20, 100] };
    await same([x], (t) => softmax(t));
    await same([x], (t) => logSoftmax(t));
    const labels = { values: Int32Array.from({ length: 20 }, (_, i) => (i * 37) % 100), shape: [20] };
    await same([x, labels], (t, l) => crossEntropy(t, l, { reduction: 'none' }));
    const up = { values: normals(20, 19), shape: [20] };
    await same(
      [x, labels, up],
      (t, l, u) => runOp(CrossEntropyBackward, [t, l, u], { labelSmoothing: 0.1 })[0],
    );
    const g = { values: normals(100, 17), shape: [100] };
    await same([x, g, g], (t, gamma, beta) => layerNorm(t, gamma, beta));
    const stats = [20, 21, 22, 23].map((seed, i) => ({
      values: i === 1 ? normals(100, seed).map(Math.abs) : normals(100, seed),
      shape: [100],
    }));
    await same([x, ...stats], (t, m, v, gamma, beta) => batchNorm(t, m, v, { gamma, beta }));
  });

  it('rows longer than one binding: segments with merged statistics', async () => {
    // The long-row path sums each 252-element segment by a workgroup tree and merges the segments'
    // (max, Σexp) with the online-softmax rescaling: per row sum, at most ~8 tree levels plus 4
    // segments × (3 roundings + a 2-ulp exp) more or fewer than the one-pass kernel: < 32u apart
    // in the sum, so 64u relative bounds the difference of the outputs (u = 2⁻²⁴).
    const tol = 64 * 2 ** -24;
    const x = { values: normals(2 * 1000, 20), shape: [2, 1000] };
    await same([x], (t) => softmax(t), tol);
    await same([x], (t) => logSoftmax(t), tol);
    const labels = { values: Int32Array.from([999, 3]), shape: [2] };
    await same([x, labels], (t, l) => crossEntropy(t, l, { reduction: 'none' }), tol);
    const up = { values: normals(2, 21), shape: [2] };
    await same(
      [x, labels, up],
      // No smoothing: p − ε/size could cancel, and tol is relative to each output.
      (t, l, u) => runOp(CrossEntropyBackward, [t, l, u], { labelSmoothing: 0 })[0],
      tol,
    );
  });

  it('copies: transpose, slice, pad and concat', async () => {
    const x = { values: normals(30 * 40, 18), shape: [30, 40] };
    await same([x], (t) => transpose(t));
    await same([x], (t) => slice(t, [3, 5], [20, 30]));
    await same([x], (t) =>
      pad(
        t,
        [
          [2, 3],
          [1, 4],
        ],
        7,
      ),
    );
    await same([x, x], (t, u) => concat([t, u], 1));
  });

  it('an op that does not split fails clearly, and the backend stays usable', async () => {
    const long = tensor(normals(2 * 1000, 19), [2, 1000], { backend: SMALL });
    const idx = tensor([0, 1], [2], { dtype: 'i32', backend: SMALL });
    expect(() => gather(long, idx, 1)).toThrow(
      /webgpu gather: a f32 tensor \[2, 1000\] needs a 8000-byte storage binding, over this device's maxStorageBufferBindingSize \(1024 bytes\), and 'gather' does not split large tensors \(the ops that do: .*matmul/,
    );
    // The backend stays usable.
    const y = engine.tidy(() => exp(slice(long, [0, 0], [1, 4])));
    expect((await y.data()).length).toBe(4);
    for (const t of [long, idx, y]) t.dispose();
    expect(engine.memory(SMALL).tensors).toBe(0);
    expect(small.memory().bytes).toBe(0);
  });
});

// Core's conformance cases (error-bound tolerances) for every splitting op with 1 KiB bindings: most
// cases over 256 elements split, and the rows of 257 and 1,025 elements take the long-row path.
if (runGPU)
  runConformance(
    'webgpu-1KiB-bindings',
    () =>
      createWebGPUBackend({
        name: 'webgpu-1KiB-bindings',
        limitOverrides: { maxStorageBufferBindingSize: LIMIT },
      }),
    { only: [...SPLITTING_OPS], timeout: 300_000 },
  );

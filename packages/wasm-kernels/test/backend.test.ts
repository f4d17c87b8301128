/**
 * The WasmBackend beyond the conformance suite: errors leave it usable and leak nothing, memory
 * exhaustion is a clear error, views survive memory growth, high-rank plans (split into blocks of the
 * kernels' rank limit), i32 paths, and exp/log edge values behaving exactly like Math.exp/Math.log.
 */
import * as ops from '@descent/core';
import { DescentError, engine, registerBackend, setBackend, type Tensor, tensor } from '@descent/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWasmBackend, createWasmBackendSync, type WasmBackend } from '../src/index.js';
import { expectClose, randomF32, U, VARIANT } from './helpers.js';

let backend: WasmBackend;

beforeAll(async () => {
  registerBackend('wasm', () => createWasmBackend({ variant: VARIANT }), { replace: true });
  backend = (await setBackend('wasm')) as WasmBackend;
});

/** Runs `fn` on host data on both the wasm and the js backend and returns both results. */
function both(fn: (...xs: Tensor[]) => Tensor, ...hosts: [ArrayLike<number>, number[], ('f32' | 'i32')?][]) {
  const run = (b: string) =>
    engine.tidy(() => {
      const xs = hosts.map(([v, s, dtype]) =>
        tensor(Array.from(v), s, { backend: b, dtype: dtype ?? 'f32' }),
      );
      const y = fn(...xs);
      return { values: y.dataSync(), shape: y.shape.slice(), dtype: y.dtype };
    });
  return { got: run('wasm'), want: run('js') };
}

function expectSame(r: ReturnType<typeof both>): void {
  expect(r.got.shape).toEqual(r.want.shape);
  expect(r.got.dtype).toBe(r.want.dtype);
  expect(Array.from(r.got.values)).toEqual(Array.from(r.want.values));
}

/** Live tensors/bytes as the engine and the backend's allocator see them. */
function usage() {
  const m = engine.memory('wasm');
  return { tensors: m.tensors, bytes: m.bytes, heap: m.backend.heapBytesInUse, live: m.backend.bytes };
}

describe('errors leave the backend usable', () => {
  it('runKernel of an op without a wasm kernel names the op and the backend', () => {
    expect(backend.hasKernel('noSuchOp')).toBe(false);
    expect(backend.hasKernel('toString')).toBe(false);
    expect(() => backend.runKernel('noSuchOp', [], [], {})).toThrowError(DescentError);
    expect(() => backend.runKernel('toString', [], [], {})).toThrow(
      "toString: backend 'wasm' has no kernel for op 'toString'",
    );
    const y = ops.relu(tensor([-1, 2], [2]));
    expect(Array.from(y.dataSync())).toEqual([0, 2]);
    y.dispose();
  });

  it('gather / scatterAdd with an out-of-range index throw a DescentError and leak nothing', () => {
    const x = tensor(randomF32(12, 1), [4, 3]);
    const before = usage();
    for (const bad of [4, -1, 1000]) {
      const idx = tensor([0, 2, bad, 1], [4], { dtype: 'i32' });
      expect(() => ops.gather(x, idx, 0)).toThrowError(DescentError);
      expect(() => ops.gather(x, idx, 0)).toThrow(
        new RegExp(`gather: .*index ${bad} \\(at position 2 of the indices\\) is out of range \\[0, 4\\)`),
      );
      expect(() => ops.scatterAdd(x, idx, 0, 4)).toThrow(/scatterAdd: .*index .* out of range \[0, 4\)/);
      idx.dispose();
    }
    expect(usage()).toEqual(before);
    // still computes correctly afterwards
    const idx = tensor([3, 0], [2], { dtype: 'i32' });
    const g = ops.gather(x, idx, 0);
    const xs = x.dataSync();
    expect(Array.from(g.dataSync())).toEqual([...xs.slice(9, 12), ...xs.slice(0, 3)]);
    ops.dispose([g, idx, x]);
  });

  it('crossEntropy with a label out of range throws, names the row, and leaks nothing', () => {
    const logits = tensor(randomF32(15, 2), [3, 5]);
    const labels = tensor([1, 5, 0], [3], { dtype: 'i32' });
    const before = usage();
    expect(() => ops.crossEntropy(logits, labels, { reduction: 'none' })).toThrow(
      /crossEntropy: .*label 5 in row 1 is out of range \[0, 5\)/,
    );
    expect(usage()).toEqual(before);
    ops.dispose([logits, labels]);
  });

  it('crossEntropyBackward with a label out of range throws the same way', () => {
    const logits = tensor(randomF32(15, 3), [3, 5]);
    const labels = tensor([1, 0, -1], [3], { dtype: 'i32' });
    const g = tensor([1, 2, 3], [3]);
    const before = usage();
    expect(() => ops.runOp(ops.CrossEntropyBackward, [logits, labels, g], { labelSmoothing: 0 })).toThrow(
      /crossEntropyBackward: .*label -1 in row 2 is out of range \[0, 5\)/,
    );
    expect(usage()).toEqual(before);
    ops.dispose([logits, labels, g]);
  });

  it('memory exhaustion is a DescentError that says what was asked for; the backend keeps working', () => {
    const small = createWasmBackendSync({ variant: VARIANT, name: 'wasm-small', maximumBytes: 8 << 20 });
    registerBackend('wasm-small', () => small, { replace: true });
    const keepMe = tensor([1, 2, 3], [3], { backend: 'wasm-small' });
    let err: unknown;
    try {
      ops.zeros([4 << 20], { backend: 'wasm-small' }); // 16 MiB > 8 MiB cap
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DescentError);
    expect((err as Error).message).toMatch(
      /out of memory allocating 4194304 f32 elements \(16777216 bytes\)/,
    );
    expect((err as Error).message).toMatch(/maximumBytes/);
    // a kernel whose output cannot be allocated fails the same way, and nothing is left behind
    const big = ops.zeros([1 << 20], { backend: 'wasm-small' }); // 4 MiB fits
    expect(() => ops.concat([big, big], 0)).toThrow(/out of memory/);
    expect(small.memory().buffers).toBe(2);
    expect(Array.from(ops.add(keepMe, 1).dataSync())).toEqual([2, 3, 4]);
    ops.dispose([big, keepMe]);
    engine.removeBackend('wasm-small');
  });
});

describe('memory', () => {
  it('reuses freed regions and re-makes views after the memory grows', () => {
    const a = tensor([1.5, -2, 3], [3]);
    const grows = backend.memory().grows;
    const big = ops.zeros([6 << 20]); // 24 MiB: the 16 MiB initial memory has to grow
    expect(backend.memory().grows).toBeGreaterThan(grows);
    expect(Array.from(a.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(ops.mul(a, 2).dataSync())).toEqual([3, -4, 6]);
    big.dispose();
    const heap = backend.memory().heapBytesInUse;
    const size = backend.memory().memoryBytes;
    for (let i = 0; i < 10; i++)
      ops.tidy(() => {
        ops.add(ops.zeros([1 << 18]), a.sum());
      });
    expect(backend.memory().heapBytesInUse).toBe(heap);
    expect(backend.memory().memoryBytes).toBe(size);
    a.dispose();
  });

  it('reports live tensor bytes, and read/readSync agree', async () => {
    const before = backend.memory();
    const t = tensor(randomF32(100, 3), [10, 10]);
    expect(backend.memory().bytes - before.bytes).toBe(400);
    expect(backend.memory().buffers - before.buffers).toBe(1);
    expect(Array.from(await t.data())).toEqual(Array.from(t.dataSync()));
    t.dispose();
    expect(backend.memory().bytes).toBe(before.bytes);
  });
});

describe('plans beyond the kernels’ rank limit are split into blocks', () => {
  // 7 non-mergeable dims (alternating broadcast) exceed the 6-dim kernels
  const a = [2, 1, 3, 1, 2, 1, 3];
  const b = [1, 2, 1, 3, 1, 2, 1];
  const n = (s: number[]) => s.reduce((p, d) => p * d, 1);

  it('binary broadcast, where, broadcastTo', () => {
    expectSame(both(ops.sub, [randomF32(n(a), 4), a], [randomF32(n(b), 5), b]));
    expectSame(both(ops.where, [randomF32(n(a), 6).map(Math.round), a], [randomF32(n(b), 7), b], [[5], []]));
    expectSame(both((x) => ops.broadcastTo(x, [2, 2, 3, 3, 2, 2, 3]), [randomF32(n(a), 8), a]));
  });

  it('transpose and slice of rank 8', () => {
    const s = [2, 3, 2, 3, 2, 3, 2, 2];
    expectSame(both((x) => ops.transpose(x, [7, 5, 3, 1, 0, 2, 4, 6]), [randomF32(n(s), 9), s]));
    expectSame(
      both((x) => ops.slice(x, [1, 1, 0, 1, 1, 0, 1, 0], [1, 2, 1, 2, 1, 2, 1, 1]), [randomF32(n(s), 10), s]),
    );
  });
});

describe('i32 paths', () => {
  const ints = [0, 1, -1, 7, -7, 2 ** 31 - 1, -(2 ** 31), 123456789, -5, 42, 3];
  it('unary ops wrap like Int32Array stores; clamp with fractional bounds', () => {
    for (const f of [ops.neg, ops.abs, ops.sign, ops.square, ops.relu])
      expectSame(both(f, [ints, [ints.length], 'i32']));
    expectSame(both((x) => ops.clamp(x, -6.5, 41.5), [ints, [ints.length], 'i32']));
  });

  it('reductions and arg-reductions over i32', () => {
    const v = Array.from({ length: 3 * 17 }, (_, i) => ((i * 7919) % 61) - 30);
    for (const axis of [0, 1]) {
      expectSame(both((x) => ops.sum(x, axis), [v, [3, 17], 'i32']));
      expectSame(both((x) => ops.min(x, axis), [v, [3, 17], 'i32']));
      expectSame(both((x) => ops.max(x, axis), [v, [3, 17], 'i32']));
      expectSame(both((x) => ops.argmax(x, axis), [v, [3, 17], 'i32']));
      expectSame(both((x) => ops.argmin(x, axis), [v, [3, 17], 'i32']));
    }
  });

  it('where with an i32 condition and i32 branches; scatterAdd of i32', () => {
    const c = [0, 3, -(2 ** 31), 0, 1];
    expectSame(both(ops.where, [c, [5], 'i32'], [[1, 2, 3, 4, 5], [5], 'i32'], [[-1], [], 'i32']));
    const idx: [number[], number[], 'i32'] = [[2, 0, 2], [3], 'i32'];
    expectSame(both((u, i) => ops.scatterAdd(u, i, 0, 4), [[1, 2, 3, 4, 5, 6], [3, 2], 'i32'], idx));
  });

  it('cast f32 → i32 truncates toward zero and saturates; NaN → 0', () => {
    const x = tensor(
      [1.9, -1.9, 0.5, -0, 2 ** 31, -(2 ** 32), Number.NaN, Number.POSITIVE_INFINITY, 16777217],
      [9],
    );
    expect(Array.from(ops.cast(x, 'i32').dataSync())).toEqual([
      1,
      -1,
      0,
      0,
      2 ** 31 - 1,
      -(2 ** 31),
      0,
      2 ** 31 - 1,
      16777216,
    ]);
    const i = tensor([2 ** 31 - 1, -(2 ** 31), 16777217, -3], [4], { dtype: 'i32' });
    expect(Array.from(ops.cast(i, 'f32').dataSync())).toEqual([2 ** 31, -(2 ** 31), 16777216, -3]);
    ops.dispose([x, i]);
  });
});

describe('exp and log at the edges of f32, exactly as Math.exp / Math.log', () => {
  const ulps = (got: number, want: number) => {
    const w = Math.fround(want);
    if (Object.is(got, w)) return 0;
    const ulp = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(w))), -126) - 23);
    return Math.abs(got - want) / ulp;
  };

  it('exp: ±inf, NaN, ±0, the overflow threshold, gradual underflow to subnormals and to 0', () => {
    const xs = [Infinity, -Infinity, NaN, 0, -0, 88.72283, 88.7229, 100, -87.33654, -100, -103.9, -104, -1e4];
    const y = ops.exp(tensor(xs, [xs.length])).dataSync();
    xs.forEach((x, i) => {
      const want = Math.fround(Math.exp(Math.fround(x)));
      if (!Number.isFinite(want) || want === 0 || Number.isNaN(want)) expect(y[i]).toBe(want);
      else expect(ulps(y[i], Math.exp(Math.fround(x)))).toBeLessThanOrEqual(1);
    });
    expect(Number.isFinite(y[5])).toBe(true); // exp(88.72283) is the largest finite result
    expect(y[6]).toBe(Infinity);
    expect(y[10] > 0 && y[10] < 2 ** -126).toBe(true); // subnormal, not flushed
    expect(y[11]).toBe(0);
  });

  it('log: 0 → −inf, negatives and NaN → NaN, +inf → +inf, subnormals within 1 ulp', () => {
    const xs = [0, -0, -1, -Infinity, NaN, Infinity, 1, 2 ** -149, 1e-40, 3.4e38];
    const y = ops.log(tensor(xs, [xs.length])).dataSync();
    expect(Array.from(y.slice(0, 7))).toEqual([-Infinity, -Infinity, NaN, NaN, NaN, Infinity, 0]);
    for (let i = 7; i < xs.length; i++)
      expect(ulps(y[i], Math.log(Math.fround(xs[i])))).toBeLessThanOrEqual(1);
  });
});

describe('threads', () => {
  it('a backend with 2 threads splits big kernels across workers and matches 1 thread bit for bit', async () => {
    const mt = await createWasmBackend({ variant: VARIANT, name: 'wasm-mt', threads: 2 });
    const st = createWasmBackendSync({ variant: VARIANT, name: 'wasm-st' });
    registerBackend('wasm-mt', () => mt, { replace: true });
    registerBackend('wasm-st', () => st, { replace: true });
    expect(st.info().threads).toBe(1);
    const a = randomF32(256 * 300, 11);
    const b = randomF32(300 * 200, 12);
    const run = (name: string) =>
      engine.tidy(() => {
        const x = tensor(a, [256, 300], { backend: name });
        const w = tensor(b, [300, 200], { backend: name });
        return ops.sigmoid(ops.matmul(x, w)).dataSync();
      });
    const jobs = mt.km.parallelJobs;
    expect(Array.from(run('wasm-mt'))).toEqual(Array.from(run('wasm-st')));
    if (typeof SharedArrayBuffer === 'function') {
      expect(mt.info().threads).toBe(2);
      expect(mt.km.parallelJobs).toBeGreaterThan(jobs);
    }
    engine.removeBackend('wasm-mt');
    engine.removeBackend('wasm-st');
  });
});

describe('sub-views', () => {
  it('a window of one storage reads, computes and writes through without owning memory', () => {
    const base = tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10]);
    const before = backend.memory();
    const v = ops.subView(base, 3, [2, 2]);
    expect(backend.memory().bytes).toBe(before.bytes);
    expect(Array.from(v.dataSync())).toEqual([3, 4, 5, 6]);
    const w = ops.mul(v, 10);
    expect(Array.from(w.dataSync())).toEqual([30, 40, 50, 60]);
    // a fused in-place update through a window changes the base's elements, and only those
    ops.tidy(() =>
      ops.noGrad(() =>
        ops.applyUpdate(
          ops.SgdUpdate,
          { param: ops.subView(base, 7, [2]), grad: tensor([1, 2], [2]) },
          {
            lr: 0.5,
            weightDecay: 0,
            momentum: 0,
            bufferDecay: 0,
            gradScale: 1,
            hasMomentum: false,
            nesterov: false,
            maximize: false,
            sign: false,
          },
        ),
      ),
    );
    expect(Array.from(base.dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 6.5, 7, 9]);
    const vv = ops.subView(v, 1, [2]);
    expect(Array.from(vv.dataSync())).toEqual([4, 5]);
    base.dispose(); // the views keep the base alive
    expect(Array.from(vv.dataSync())).toEqual([4, 5]);
    ops.dispose([v, vv, w]);
    expect(backend.memory().bytes).toBe(before.bytes - 40);
  });
});

describe('pooling windows wholly in padding', () => {
  it('avg gives 0 and max gives −inf, as the reference does; gradients route nothing there', () => {
    const xs: [number[], number[]] = [Array.from(randomF32(2 * 3 * 3 * 2, 13)), [2, 3, 3, 2]];
    // max is exact; avg rounds differently from the float64 reference: ≤ (n + 1)·u·max|x| for n ≤ 4 taps
    const close = (r: ReturnType<typeof both>) => {
      expect(r.got.shape).toEqual(r.want.shape);
      expectClose(r.got.values, r.want.values, () => 5 * U, 'avgPool2d'); // |x| ≤ 1
    };
    const avg = (x: Tensor) => ops.avgPool2d(x, 2, { strides: 2, padding: 2 });
    const max = (x: Tensor) => ops.maxPool2d(x, 2, { strides: 2, padding: 2 });
    const r = both(avg, xs);
    expect(r.got.values[0]).toBe(0); // window rows −2..−1: all padding
    close(r);
    close(both((x) => ops.grad((t: Tensor) => ops.sum(avg(t)))(x), xs));
    expect(both(max, xs).got.values[0]).toBe(Number.NEGATIVE_INFINITY);
    expectSame(both(max, xs));
    expectSame(both((x) => ops.grad((t: Tensor) => ops.sum(max(t)))(x), xs));
  });
});

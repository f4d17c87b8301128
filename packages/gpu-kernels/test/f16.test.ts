/**
 * f16 storage on WebGPU (device feature `shader-f16`; lavapipe has it, Chromium's SwiftShader does
 * not). The f16 ops themselves are checked by core's conformance suite (conformance.test.ts, "f16
 * forward" groups); this file checks what that suite cannot see:
 * - upload (host → f16 bits) and read (bits → f32) of every f16 bit pattern, odd sizes included;
 * - the shaders' `to_f16` against the host's ties-to-even rounding on every midpoint between
 *   neighbouring f16 values and just either side of it (normal and subnormal, overflow at 65520);
 * - f16 views, and f16 tensors larger than one storage binding (split, like f32 ones).
 */
import { cast, engine, exp, f16FromBits, matmul, roundToF16, type Tensor, tensor } from '@descent/core';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend } from '../src/index.js';
import { runGPU } from './gpu.js';

describe.runIf(runGPU)('f16 on WebGPU', () => {
  let backend: WebGPUBackend;
  beforeAll(async () => {
    engine.registerBackend('webgpu-f16', () => createWebGPUBackend({ name: 'webgpu-f16' }), {
      replace: true,
    });
    backend = (await engine.initBackend('webgpu-f16')) as WebGPUBackend;
  });
  afterAll(() => engine.removeBackend('webgpu-f16'));

  it('stores f16 exactly when the device has shader-f16 (and only then)', () => {
    const has = backend.device.features.has('shader-f16');
    expect(backend.dtypes.includes('f16')).toBe(has);
    expect(backend.info().dtypes).toEqual(backend.dtypes);
    if (!has) {
      expect(() => tensor([1], [1], { dtype: 'f16', backend: 'webgpu-f16' })).toThrow(/has no f16 tensors/);
    }
  });

  // Without shader-f16 these are reported as skipped (the test above checks the refusal then).
  const withF16 = (fn: () => Promise<void>) => async (ctx: TestContext) => {
    if (!backend.dtypes.includes('f16')) ctx.skip('the device has no shader-f16');
    await fn();
  };

  it(
    'round-trips every f16 bit pattern through upload, read and a shader (cast to f32), at odd sizes too',
    withF16(async () => {
      const all = Float32Array.from({ length: 0x10000 }, (_, h) => f16FromBits(h));
      const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
      for (const n of [1, 3, 0x10000 - 1, 0x10000]) {
        const x = tensor(all.subarray(0, n), [n], { dtype: 'f16', backend: 'webgpu-f16' });
        const y = cast(x, 'f32');
        const [got, wide] = [await x.data(), await y.data()];
        for (const t of [x, y]) t.dispose();
        let bad = 0;
        for (let i = 0; i < n; i++) if (!same(got[i], all[i]) || !same(wide[i], all[i])) bad++;
        expect(bad, `${n} elements`).toBe(0);
      }
    }),
  );

  it(
    'rounds f32 → f16 in the shader exactly as the host does (ties to even, subnormals, overflow)',
    withF16(async () => {
      // Each positive finite f16 v (bits h < 0x7bff) and its successor: their midpoint, and the f32
      // values just below and above it; and the same negated.
      const probes: number[] = [];
      for (let h = 0; h < 0x7bff; h++) {
        const mid = Math.fround((f16FromBits(h) + f16FromBits(h + 1)) / 2);
        const below = new Float32Array([mid]);
        const bits = new Uint32Array(below.buffer);
        bits[0] -= 1;
        const lo = below[0];
        bits[0] += 2;
        probes.push(mid, lo, below[0]);
      }
      probes.push(65504, 65519.99, 65520, 1e6, Number.POSITIVE_INFINITY, 2 ** -25, 2 ** -26, 0);
      const values = Float32Array.from([...probes, ...probes.map((v) => -v)]);
      const x = tensor(values, [values.length], { backend: 'webgpu-f16' });
      const h = cast(x, 'f16');
      const got = await h.data();
      for (const t of [x, h]) t.dispose();
      const bad: string[] = [];
      for (let i = 0; i < values.length && bad.length < 5; i++) {
        const want = roundToF16(values[i]);
        if (!Object.is(got[i], want)) bad.push(`${values[i]} → ${got[i]}, want ${want}`);
      }
      expect(bad).toEqual([]);
    }),
  );

  it(
    'binds f16 views at aligned offsets',
    withF16(async () => {
      const align = (backend.splitLimits.alignElements * 4) / 2; // f16 elements per binding alignment
      const n = 3 * align + 5;
      const base = tensor(
        Array.from({ length: n }, (_, i) => i / 8),
        [n],
        { dtype: 'f16', backend: 'webgpu-f16' },
      );
      const v = engine.makeSubView(base, align, [align + 3]);
      const y = exp(v);
      const got = await y.data();
      for (let i = 0; i < align + 3; i++)
        expect(got[i]).toBeCloseTo(roundToF16(Math.exp((align + i) / 8)), 10);
      expect(() => engine.makeSubView(base, align / 2 + 1, [2])).toThrow(/not a multiple/);
      for (const t of [y, v, base]) t.dispose();
    }),
  );
});

describe.runIf(runGPU)('f16 tensors larger than one storage binding', () => {
  let small: WebGPUBackend;
  beforeAll(async () => {
    engine.registerBackend(
      'webgpu-f16-small',
      () =>
        createWebGPUBackend({
          name: 'webgpu-f16-small',
          limitOverrides: { maxStorageBufferBindingSize: 1024 },
        }),
      { replace: true },
    );
    small = (await engine.initBackend('webgpu-f16-small')) as WebGPUBackend;
    await engine.initBackend('webgpu-f16');
  });
  afterAll(() => {
    engine.removeBackend('webgpu-f16-small');
    engine.removeBackend('webgpu-f16');
  });

  // Same values on the 1 KiB-binding backend and an unlimited one.
  const both = async (fn: (backend: string) => Tensor): Promise<[Float32Array, Float32Array]> => {
    const out: Float32Array[] = [];
    for (const name of ['webgpu-f16-small', 'webgpu-f16']) {
      const y = engine.tidy(() => fn(name));
      out.push((await y.data()) as Float32Array);
      y.dispose();
    }
    return [out[0], out[1]];
  };

  it('are split into aligned windows: maps and casts bit-identical to one binding', async (ctx) => {
    if (!small.dtypes.includes('f16')) ctx.skip('the device has no shader-f16');
    const n = 1001; // 256 f32 elements per binding here: four pieces, an odd tail
    const values = Array.from({ length: n }, (_, i) => Math.sin(i) * 4);
    const [got, want] = await both((b) => exp(tensor(values, [n], { dtype: 'f16', backend: b })));
    expect(Array.from(got)).toEqual(Array.from(want));
    const [g2, w2] = await both((b) => cast(tensor(values, [n], { backend: b }), 'f16'));
    expect(Array.from(g2)).toEqual(Array.from(w2));
  });

  it('split matmul accumulates K blocks in f32 and rounds once (integer data: exact sums)', async (ctx) => {
    if (!small.dtypes.includes('f16')) ctx.skip('the device has no shader-f16');
    const [m, k, n] = [3, 1100, 5];
    const ints = (len: number, seed: number) =>
      Array.from({ length: len }, (_, i) => ((i * 7 + seed) % 7) - 3);
    const [got, want] = await both((b) =>
      matmul(
        tensor(ints(m * k, 1), [m, k], { dtype: 'f16', backend: b }),
        tensor(ints(k * n, 4), [k, n], { dtype: 'f16', backend: b }),
      ),
    );
    expect(Array.from(got)).toEqual(Array.from(want));
    // The f32 sums are exact, so each output is the exact sum rounded once to f16.
    const a = ints(m * k, 1);
    const bv = ints(k * n, 4);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p] * bv[p * n + j];
        expect(got[i * n + j]).toBe(roundToF16(s));
      }
  });
});

/**
 * concat along the first axis on WebGPU: one buffer-to-buffer copy command per non-empty input, no
 * dispatch (how flat-mode optimizers collect a model's gradients). Checked bit-exactly against the
 * host concatenation for many inputs of awkward sizes — empty ones, 1, odd sizes, sub-views at an
 * offset of a larger buffer, i32 — with the default limits and with a 1 KiB storage-binding limit
 * (copies have none), and by its command counts.
 */
import { concat, engine, getBackend, subView, type Tensor, tensor } from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend } from '../src/index.js';
import { runGPU } from './gpu.js';

const WIDE = 'webgpu-concat';
const NARROW = 'webgpu-concat-1k-bindings';

/** Sizes of the inputs (first axis × 5 columns for the 2-D case). */
const SIZES = [0, 1, 3, 64, 4095, 4096, 4097, 0, 10_000, 17, 2, 8191, 5, 0, 333, 1, 9000, 63, 65, 4, 129];

function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i) * 100);
}

describe.runIf(runGPU)('WebGPU concat along the first axis (copy commands)', () => {
  beforeAll(async () => {
    engine.registerBackend(WIDE, () => createWebGPUBackend({ name: WIDE }), { replace: true });
    engine.registerBackend(
      NARROW,
      () => createWebGPUBackend({ name: NARROW, limitOverrides: { maxStorageBufferBindingSize: 1024 } }),
      { replace: true },
    );
    await engine.initBackend(WIDE);
    await engine.initBackend(NARROW);
  });
  afterAll(() => {
    engine.removeBackend(WIDE);
    engine.removeBackend(NARROW);
  });

  for (const backend of [WIDE, NARROW]) {
    it(`copies 1-D f32 inputs bit-exactly, one copy command each (${backend})`, async () => {
      const host = SIZES.map((n, k) => values(n, k));
      const xs = host.map((v) => tensor(v, [v.length], { backend }));
      const b = getBackend(backend) as WebGPUBackend;
      const before = b.memory();
      const y = concat(xs);
      const after = b.memory();
      expect(Array.from(await y.data())).toEqual(Array.from(Float32Array.from(host.flat())));
      expect(after.dispatches).toBe(before.dispatches);
      expect((after.copies as number) - (before.copies as number)).toBe(SIZES.filter((n) => n > 0).length);
      for (const t of [...xs, y]) t.dispose();
    });
  }

  it('copies 2-D i32 inputs and sub-views at an offset of a larger buffer', async () => {
    const rows = [2, 0, 900, 1, 819, 7, 3, 1000, 5, 11];
    const ints = rows.map((r, k) => Int32Array.from({ length: r * 5 }, (_, i) => (k << 20) + i - 7));
    const xs: Tensor[] = ints.map((v, k) => tensor(v, [rows[k], 5], { dtype: 'i32', backend: WIDE }));
    const yi = concat(xs, 0);
    expect(yi.shape).toEqual([rows.reduce((a, b) => a + b, 0), 5]);
    const flat = new Int32Array(ints.reduce((a, v) => a + v.length, 0));
    let at = 0;
    for (const v of ints) {
      flat.set(v, at);
      at += v.length;
    }
    expect(Array.from(await yi.data())).toEqual(Array.from(flat));

    // Windows of one buffer (as flat-mode optimizers keep parameters): bound at their offsets.
    const base = tensor(values(64 * 300, 99), [64 * 300], { backend: WIDE });
    const whole = await base.data();
    const views = [
      [64, 100],
      [0, 64],
      [4096, 5000],
      [10_240, 1],
      [192, 3000],
    ].map(([off, n]) => subView(base, off, [n]));
    const yv = concat(views);
    const expected = [
      [64, 100],
      [0, 64],
      [4096, 5000],
      [10_240, 1],
      [192, 3000],
    ].flatMap(([off, n]) => Array.from(whole.subarray(off, off + n)));
    expect(Array.from(await yv.data())).toEqual(expected);
    for (const t of [...xs, yi, base, ...views, yv]) t.dispose();
  });
});

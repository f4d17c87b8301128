/** The WebGPU backend's runtime: round trips, the buffer pool, batching, limits and errors. */
import type { DataId, TensorInfo } from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, GPU_KERNELS, type WebGPUBackend } from '../src/index.js';
import { sizeClass } from '../src/webgpu/buffer-pool.js';
import { runGPU } from './gpu.js';

const info = (data: DataId, shape: number[], dtype: 'f32' | 'i32' = 'f32'): TensorInfo => ({
  data,
  shape,
  dtype,
  size: shape.reduce((a, b) => a * b, 1),
});

describe('size classes', () => {
  it('are powers of two up to 1 MiB, then multiples of an eighth of the power of two', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(257)).toBe(512);
    expect(sizeClass(1 << 20)).toBe(1 << 20);
    expect(sizeClass((1 << 20) + 1)).toBe((1 << 20) + (1 << 18));
    expect(sizeClass(3_000_000)).toBe(3_145_728);
    for (const b of [1000, 5e5, 3e6, 7.7e7])
      expect(sizeClass(b) / b).toBeLessThan(b > 1 << 20 ? 1.126 : 2.01);
  });
});

describe.runIf(runGPU)('WebGPUBackend', () => {
  let b: WebGPUBackend;
  beforeAll(async () => {
    b = await createWebGPUBackend();
  });
  afterAll(() => b?.dispose());

  it('reports adapter, features and limits', () => {
    const i = b.info();
    console.log(
      `[gpu-kernels] adapter: ${JSON.stringify(i.adapter)}\n  features: ${JSON.stringify(i.features)}\n  limits: ${JSON.stringify(i.limits)}`,
    );
    expect(i.backend).toBe('webgpu');
    expect((i.limits as Record<string, number>).maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(Array.isArray(i.features)).toBe(true);
  });

  it('round-trips f32 and i32 values, and empty tensors', async () => {
    const f = b.allocate(5, 'f32', [1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 3e38]);
    const i = b.allocate(3, 'i32', [-2147483648, 7, 2147483647]);
    const e = b.allocate(0, 'f32');
    expect(Array.from(await b.read(f, 'f32', 5))).toEqual([
      1.5,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Math.fround(3e38),
    ]);
    expect(Array.from(await b.read(i, 'i32', 3))).toEqual([-2147483648, 7, 2147483647]);
    expect((await b.read(e, 'f32', 0)).length).toBe(0);
    for (const d of [f, i, e]) b.free(d);
  });

  it('runKernel of an op without a WGSL kernel names the op and the backend, and leaves it usable', async () => {
    expect(b.hasKernel('noSuchOp')).toBe(false);
    expect(b.hasKernel('toString')).toBe(false);
    for (const op of ['noSuchOp', 'toString'])
      expect(() => b.runKernel(op, [], [], {})).toThrow(
        `${op}: backend 'webgpu' has no kernel for op '${op}'`,
      );
    const x = b.allocate(2, 'f32', [-1, 2]);
    const y = b.allocate(2, 'f32');
    b.runKernel('relu', [info(x, [2])], [info(y, [2])], {});
    expect(Array.from(await b.read(y, 'f32', 2))).toEqual([0, 2]);
    b.free(x);
    b.free(y);
  });

  it('batches dispatches into one submit until a read', async () => {
    const before = b.memory().submits;
    const x = b.allocate(
      100,
      'f32',
      Float32Array.from({ length: 100 }, (_, k) => k),
    );
    let cur = x;
    for (let k = 0; k < 50; k++) {
      const y = b.allocate(100, 'f32');
      b.runKernel('neg', [info(cur, [100])], [info(y, [100])], {});
      if (cur !== x) b.free(cur);
      cur = y;
    }
    expect(b.memory().submits).toBe(before);
    const out = await b.read(cur, 'f32', 100);
    expect(b.memory().submits).toBe(before + 1);
    expect(out[7]).toBe(7);
    b.free(cur);
    b.free(x);
  });

  it('reuses pooled buffers: 1,000 alloc/run/free cycles keep live bytes flat and create no new buffers', async () => {
    const n = 1000;
    const x = b.allocate(
      n,
      'f32',
      Float32Array.from({ length: n }, (_, k) => k / n),
    );
    // Warm the pool (and the pipeline).
    const w = b.allocate(n, 'f32');
    b.runKernel('exp', [info(x, [n])], [info(w, [n])], {});
    b.free(w);
    await b.flush();
    const m0 = b.memory();
    for (let k = 0; k < 1000; k++) {
      const y = b.allocate(n, 'f32');
      b.runKernel('exp', [info(x, [n])], [info(y, [n])], {});
      if (k % 100 === 99) expect((await b.read(y, 'f32', n))[0]).toBe(1);
      b.free(y);
      const m = b.memory();
      expect(m.bytes).toBe(m0.bytes);
      expect(m.liveBufferBytes).toBe(m0.liveBufferBytes);
    }
    await b.flush();
    const m1 = b.memory();
    expect(m1.buffersCreated).toBe(m0.buffersCreated);
    expect(m1.buffersReused - m0.buffersReused).toBe(1000);
    expect(m1.pooledBytes).toBe(m0.pooledBytes);
    b.free(x);
  });

  it('never uploads into a buffer that unsubmitted commands still read (freed-then-reused hazard)', async () => {
    const n = 64;
    const a = b.allocate(n, 'f32', new Float32Array(n).fill(2));
    const y = b.allocate(n, 'f32');
    b.runKernel('square', [info(a, [n])], [info(y, [n])], {}); // recorded, not submitted
    b.free(a); // a's buffer is still read by the pending dispatch
    const c = b.allocate(n, 'f32', new Float32Array(n).fill(5)); // must not land in a's buffer
    expect(Array.from(await b.read(y, 'f32', n))).toEqual(new Array(n).fill(4));
    expect((await b.read(c, 'f32', n))[0]).toBe(5);
    b.free(y);
    b.free(c);
  });

  it('names the op when WebGPU reports a validation error (rethrown by the next flush/read)', async () => {
    const kernels = GPU_KERNELS as Record<string, (typeof GPU_KERNELS)[string]>;
    kernels.brokenTestOp = (ctx, inputs, outputs) =>
      ctx.dispatch({
        key: 'brokenTestOp',
        wgsl: () => '@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }',
        inputs,
        outputs,
        params: new (class {
          length = 0;
          toArray() {
            return new Uint32Array(128);
          }
        })() as never,
        workgroups: [1, 1, 1],
      });
    try {
      const x = b.allocate(4, 'f32', [1, 2, 3, 4]);
      const y = b.allocate(4, 'f32');
      b.runKernel('brokenTestOp', [info(x, [4])], [info(y, [4])], {});
      await expect(b.flush()).rejects.toThrow(
        /validation error in op 'brokenTestOp' \(inputs \[4\] f32 → outputs \[4\] f32\): /,
      );
      b.free(x);
      b.free(y);
      await b.flush(); // the error was reported once; the backend is usable again
    } finally {
      delete kernels.brokenTestOp;
    }
  });

  it('a lost device surfaces as a clear error on every later call', async () => {
    const other = await createWebGPUBackend();
    const x = other.allocate(4, 'f32', [1, 2, 3, 4]);
    other.device.destroy();
    await other.device.lost;
    expect(() => other.allocate(4, 'f32')).toThrow(
      /WebGPU device of backend 'webgpu' was lost \(destroyed\)/,
    );
    await expect(other.read(x, 'f32', 4)).rejects.toThrow(/device of backend 'webgpu' was lost/);
    expect(() => other.runKernel('exp', [info(x, [4])], [info(x, [4])], {})).toThrow(
      /device of backend 'webgpu' was lost/,
    );
    other.free(x); // freeing after loss is allowed
  });
});

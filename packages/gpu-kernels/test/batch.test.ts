/**
 * Asynchronous pipeline creation under the synchronous op API, the ordering of the open batch, and
 * GPU timing with timestamp queries.
 *
 * Each test kernel here gets a fresh pipeline key, so its first dispatch is recorded while its
 * `createComputePipelineAsync` is still running (the promise cannot resolve before the test yields).
 */
import type { DataId, TensorInfo } from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, GPU_KERNELS, type WebGPUBackend } from '../src/index.js';
import type { GPUKernel } from '../src/webgpu/kernel.js';
import { PARAM_WORDS } from '../src/webgpu/wgsl.js';
import { runGPU } from './gpu.js';

const info = (data: DataId, n: number): TensorInfo => ({ data, shape: [n], dtype: 'f32', size: n });

const params = (words: number[] = []) =>
  ({
    toArray: () => {
      const a = new Uint32Array(PARAM_WORDS);
      a.set(words);
      return a;
    },
  }) as never;

let unique = 0;

/**
 * Registers a test op `y = x·factor + offset` under a pipeline key never used before (so its pipeline
 * starts compiling at the first dispatch). `workgroupSize` over the device's limit makes a shader that
 * compiles but whose pipeline creation fails. Returns the op name and a remover.
 */
function affineOp(factor: number, offset: number, workgroupSize = 64): { op: string; remove(): void } {
  const op = `affineTest${unique++}`;
  const kernels = GPU_KERNELS as Record<string, GPUKernel>;
  kernels[op] = (ctx, inputs, outputs) =>
    ctx.dispatch({
      key: op,
      wgsl: () => `
@group(0) @binding(0) var<uniform> P: array<vec4<u32>, ${PARAM_WORDS / 4}>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(${workgroupSize}) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < P[0].x) { y[g.x] = x[g.x] * ${factor.toFixed(1)} + ${offset.toFixed(1)}; }
}`,
      inputs,
      outputs,
      params: params([inputs[0].size]),
      workgroups: [Math.ceil(inputs[0].size / workgroupSize), 1, 1],
    });
  return { op, remove: () => delete kernels[op] };
}

describe.runIf(runGPU)('async pipelines and the open batch', () => {
  let b: WebGPUBackend;
  beforeAll(async () => {
    b = await createWebGPUBackend();
  });
  afterAll(() => b?.dispose());

  it('records dispatches while their pipeline compiles and submits once it has', async () => {
    const k = affineOp(2, 1);
    try {
      const n = 100;
      const x = b.allocate(
        n,
        'f32',
        Float32Array.from({ length: n }, (_, i) => i),
      );
      const y = b.allocate(n, 'f32');
      const before = b.memory();
      b.runKernel(k.op, [info(x, n)], [info(y, n)], {});
      const during = b.memory();
      expect(during.pipelines).toBe(before.pipelines + 1);
      expect(during.pipelinesCompiling).toBe(before.pipelinesCompiling + 1);
      expect(during.submits).toBe(before.submits);
      const out = await b.read(y, 'f32', n);
      expect(Array.from(out)).toEqual(Array.from({ length: n }, (_, i) => 2 * i + 1));
      expect(b.memory().pipelinesCompiling).toBe(0);
      expect(b.memory().submits).toBe(before.submits + 1);
      b.free(x);
      b.free(y);
    } finally {
      k.remove();
    }
  });

  it('keeps a batch with a compiling pipeline open past maxDispatchesPerSubmit, then submits it', async () => {
    const small = await createWebGPUBackend({ maxDispatchesPerSubmit: 2 });
    const k = affineOp(3, 0);
    try {
      const n = 8;
      const x = small.allocate(n, 'f32', new Float32Array(n).fill(1));
      let cur = x;
      const chain = (steps: number) => {
        for (let s = 0; s < steps; s++) {
          const y = small.allocate(n, 'f32');
          small.runKernel(k.op, [info(cur, n)], [info(y, n)], {});
          if (cur !== x) small.free(cur);
          cur = y;
        }
      };
      chain(5);
      expect(small.memory().submits).toBe(0); // the pipeline is still compiling: nothing can go yet
      await small.ready();
      expect(small.memory().pipelinesCompiling).toBe(0);
      chain(1); // the first runKernel after the compile submits the over-full batch
      expect(small.memory().submits).toBe(1);
      chain(2);
      expect(small.memory().submits).toBe(2); // compiled: every 2 dispatches, as configured
      expect((await small.read(cur, 'f32', n))[0]).toBe(3 ** 8);
      small.free(cur);
      small.free(x);
    } finally {
      k.remove();
      small.dispose();
    }
  });

  it('never uploads into, or reorders writes to, a buffer a waiting dispatch reads', async () => {
    const k = affineOp(1, 3);
    try {
      const n = 64;
      const a = b.allocate(n, 'f32', new Float32Array(n).fill(2));
      const y = b.allocate(n, 'f32');
      b.runKernel(k.op, [info(a, n)], [info(y, n)], {}); // waits for its pipeline
      b.free(a); // a's buffer is read by the waiting dispatch
      const c = b.allocate(n, 'f32', new Float32Array(n).fill(5)); // an upload: must not get a's buffer
      const z = b.allocate(n, 'f32'); // an output: may get a's buffer, written after the dispatch ran
      b.runKernel('neg', [info(c, n)], [info(z, n)], {});
      const [ys, zs, cs] = await Promise.all([b.read(y, 'f32', n), b.read(z, 'f32', n), b.read(c, 'f32', n)]);
      expect(Array.from(ys)).toEqual(new Array(n).fill(5));
      expect(Array.from(zs)).toEqual(new Array(n).fill(-5));
      expect(Array.from(cs)).toEqual(new Array(n).fill(5));
      for (const d of [y, z, c]) b.free(d);
    } finally {
      k.remove();
    }
  });

  it('reads what a tensor held when read() was called, even if it is freed and reused at once', async () => {
    const k = affineOp(1, 1);
    try {
      const n = 32;
      const x = b.allocate(n, 'f32', new Float32Array(n).fill(1));
      const y = b.allocate(n, 'f32');
      b.runKernel(k.op, [info(x, n)], [info(y, n)], {});
      const pending = b.read(y, 'f32', n); // the copy is recorded now, behind the waiting dispatch
      b.free(y);
      const z = b.allocate(n, 'f32'); // may take y's buffer as an output…
      b.runKernel('neg', [info(x, n)], [info(z, n)], {}); // …and overwrite it after the copy
      expect(Array.from(await pending)).toEqual(new Array(n).fill(2));
      expect((await b.read(z, 'f32', n))[0]).toBe(-1);
      b.free(x);
      b.free(z);
    } finally {
      k.remove();
    }
  });

  it('reports a failed pipeline creation naming the op and its shapes, and stays usable', async () => {
    // The shader compiles; the pipeline is refused (workgroup over maxComputeInvocationsPerWorkgroup).
    const k = affineOp(1, 0, 4096);
    try {
      const x = b.allocate(4, 'f32', [1, 2, 3, 4]);
      const y = b.allocate(4, 'f32');
      b.runKernel(k.op, [info(x, 4)], [info(y, 4)], {});
      await expect(b.flush()).rejects.toThrow(
        new RegExp(
          `WebGPU validation error in op '${k.op}' \\(inputs \\[4\\] f32 → outputs \\[4\\] f32\\): ` +
            `creating the compute pipeline '${k.op}' failed: .+`,
        ),
      );
      expect(b.memory().pipelinesCompiling).toBe(0);
      // Reported once; the backend works on.
      const z = b.allocate(4, 'f32');
      b.runKernel('neg', [info(x, 4)], [info(z, 4)], {});
      expect(Array.from(await b.read(z, 'f32', 4))).toEqual([-1, -2, -3, -4]);
      for (const d of [x, y, z]) b.free(d);
    } finally {
      k.remove();
    }
  });

  it('ready() waits for every pipeline compiling so far', async () => {
    const ks = [affineOp(1, 2), affineOp(1, 4)];
    try {
      const x = b.allocate(4, 'f32', [0, 0, 0, 0]);
      const ys = ks.map((k) => {
        const y = b.allocate(4, 'f32');
        b.runKernel(k.op, [info(x, 4)], [info(y, 4)], {});
        return y;
      });
      expect(b.memory().pipelinesCompiling).toBe(2);
      await b.ready();
      expect(b.memory().pipelinesCompiling).toBe(0);
      expect((await b.read(ys[1], 'f32', 4))[3]).toBe(4);
      for (const d of [x, ...ys]) b.free(d);
    } finally {
      for (const k of ks) k.remove();
    }
  });

  it('a device lost while a pipeline compiles fails the read with the device-lost error', async () => {
    const other = await createWebGPUBackend();
    const k = affineOp(5, 0);
    try {
      const x = other.allocate(4, 'f32', [1, 2, 3, 4]);
      const y = other.allocate(4, 'f32');
      other.runKernel(k.op, [info(x, 4)], [info(y, 4)], {});
      const read = other.read(y, 'f32', 4);
      other.device.destroy();
      await expect(read).rejects.toThrow(/device of backend 'webgpu' was lost/);
      await expect(other.flush()).rejects.toThrow(/device of backend 'webgpu' was lost/);
      other.free(x);
      other.free(y);
    } finally {
      k.remove();
    }
  });
});

describe.runIf(runGPU)('timeGPU (timestamp queries)', () => {
  let b: WebGPUBackend;
  beforeAll(async () => {
    b = await createWebGPUBackend();
  });
  afterAll(() => b?.dispose());

  it('times the compute passes of the work submitted inside it', async () => {
    if (!b.canTimeGPU) {
      // No adapter feature to test against here; the error path is tested below.
      console.warn(`[gpu-kernels] no timestamp-query on this adapter: ${JSON.stringify(b.info().features)}`);
      return;
    }
    const n = 1 << 20;
    const x = b.allocate(n, 'f32', new Float32Array(n).fill(0.5));
    const ys: DataId[] = [];
    const t = await b.timeGPU(() => {
      for (let s = 0; s < 4; s++) {
        const y = b.allocate(n, 'f32');
        b.runKernel('exp', [info(x, n)], [info(y, n)], {});
        ys.push(y);
      }
      return 'done';
    });
    expect(t.result).toBe('done');
    expect(t.passes).toBe(1); // one batch, no copies inside: one compute pass
    expect(t.gpuMs).toBeGreaterThan(0); // 4M exps on the adapter; far above the timestamp quantum
    expect(Number.isFinite(t.gpuMs)).toBe(true);
    expect((await b.read(ys[3], 'f32', n))[7]).toBeCloseTo(Math.exp(0.5), 6);
    for (const d of [x, ...ys]) b.free(d);
  });

  it('spans several query sets when the timed work has many passes (a read ends a pass)', async () => {
    if (!b.canTimeGPU) return;
    const x = b.allocate(4, 'f32', [1, 2, 3, 4]);
    const y = b.allocate(4, 'f32');
    const t = await b.timeGPU(async () => {
      for (let s = 0; s < 130; s++) {
        b.runKernel('neg', [info(x, 4)], [info(y, 4)], {});
        await b.read(y, 'f32', 4);
      }
    });
    expect(t.passes).toBe(130);
    expect(t.gpuMs).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(t.gpuMs)).toBe(true);
    // Nothing is timed outside timeGPU, and calls do not nest.
    b.runKernel('neg', [info(x, 4)], [info(y, 4)], {});
    await b.flush();
    await expect(b.timeGPU(() => b.timeGPU(() => 0))).rejects.toThrow(/already running/);
    b.free(x);
    b.free(y);
  });

  it('without timestamp-query it says so instead of measuring', async () => {
    const plain = await createWebGPUBackend({ withoutFeatures: ['timestamp-query'] });
    try {
      expect(plain.canTimeGPU).toBe(false);
      expect(plain.info().timestampQuery).toBe(false);
      await expect(plain.timeGPU(() => 0)).rejects.toThrow(/no timestamp-query on this adapter/);
    } finally {
      plain.dispose();
    }
  });
});

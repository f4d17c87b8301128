/**
 * Training on the WebGPU backend end to end: a small MLP (core ops, autograd, an SGD update through
 * `assign`) for 1,000 steps with flat memory, and recovery from a lost device — the error says what
 * happened, the backend can be re-created, and training continues on another backend from the state
 * the loop holds on the host.
 */
import {
  add,
  assign,
  crossEntropy,
  engine,
  matmul,
  mul,
  relu,
  scalar,
  sub,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
} from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend, WebGPUDeviceLostError } from '../src/index.js';
import { runGPU } from './gpu.js';

const BATCH = 64;
const IN = 4;
const HIDDEN = 32;
const CLASSES = 3;
const LR = 0.2;
const WARMUP = 200;

/** Deterministic pseudo-random values in [-1, 1) (an LCG: no dependence on any RNG API). */
function hostValues(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

/** A learnable task: the label is the argmax of a fixed linear map of x. */
function dataset(): { x: Float32Array; labels: Int32Array } {
  const x = hostValues(BATCH * IN, 1);
  const w = hostValues(IN * CLASSES, 2);
  const labels = new Int32Array(BATCH);
  for (let r = 0; r < BATCH; r++) {
    let best = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      let v = 0;
      for (let k = 0; k < IN; k++) v += x[r * IN + k] * w[k * CLASSES + c];
      if (v > best) {
        best = v;
        labels[r] = c;
      }
    }
  }
  return { x, labels };
}

const SHAPES = [[IN, HIDDEN], [HIDDEN], [HIDDEN, CLASSES], [CLASSES]];

/** Initial parameters on the host (the "state the loop holds"). */
const initialState = (): Float32Array[] =>
  SHAPES.map((s, i) =>
    hostValues(
      s.reduce((a, b) => a * b, 1),
      10 + i,
      i % 2 ? 0 : 1 / Math.sqrt(s[0]),
    ),
  );

interface Model {
  params: Tensor[];
  x: Tensor;
  labels: Tensor;
}

function upload(state: Float32Array[], backend: string): Model {
  const { x, labels } = dataset();
  return {
    params: state.map((v, i) => tensor(v, SHAPES[i], { backend })),
    x: tensor(x, [BATCH, IN], { backend }),
    labels: tensor(labels, [BATCH], { dtype: 'i32', backend }),
  };
}

const forward = (m: Model) => (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) =>
  crossEntropy(add(matmul(relu(add(matmul(m.x, w1), b1)), w2), b2), m.labels);

/** One SGD step: p ← p − lr·∂loss/∂p for every parameter, in place via `assign`. Returns the loss. */
function step(m: Model): Tensor {
  return tidy(() => {
    const [loss, grads] = valueAndGrad(forward(m), [0, 1, 2, 3])(...m.params);
    const lr = scalar(LR, { backend: m.x.backend });
    m.params.forEach((p, i) => {
      assign(p, sub(p, mul(grads[i], lr)));
    });
    return loss;
  });
}

async function lossValue(loss: Tensor): Promise<number> {
  const v = (await loss.data())[0];
  loss.dispose();
  return v;
}

const disposeModel = (m: Model) => {
  for (const t of [...m.params, m.x, m.labels]) t.dispose();
};

describe.runIf(runGPU)('training on WebGPU', () => {
  beforeAll(async () => {
    engine.registerBackend('webgpu-train', () => createWebGPUBackend({ name: 'webgpu-train' }), {
      replace: true,
    });
    await engine.initBackend('webgpu-train');
  });
  afterAll(() => engine.removeBackend('webgpu-train'));

  it('1,000 SGD steps of an MLP keep live tensors, live bytes and the pool flat, and learn', async () => {
    const name = 'webgpu-train';
    const backend = engine.backend(name) as WebGPUBackend;
    const m = upload(initialState(), name);
    const first = await lossValue(step(m));
    // Warm-up: pipelines compile and the pool reaches its working set, which spans a few submits
    // (about 50 steps each: 1,024 dispatches) and reads.
    for (let s = 1; s < WARMUP; s++) {
      const loss = step(m);
      if (s % 100 === 99) await lossValue(loss);
      else loss.dispose();
    }
    await backend.flush();
    const e0 = engine.memory(name);
    const b0 = backend.memory();
    let last = first;
    for (let s = WARMUP; s < 1000; s++) {
      const loss = step(m);
      if (s % 100 === 99) last = await lossValue(loss);
      else loss.dispose();
      const e = engine.memory(name);
      const b = backend.memory();
      expect([e.tensors, e.bytes, b.bytes, b.buffers, b.liveBufferBytes]).toEqual([
        e0.tensors,
        e0.bytes,
        b0.bytes,
        b0.buffers,
        b0.liveBufferBytes,
      ]);
    }
    await backend.flush();
    const b1 = backend.memory();
    console.log(
      `[gpu-kernels] 1,000 steps: loss ${first.toFixed(4)} → ${last.toFixed(4)}; live ${b1.liveBufferBytes} B in ` +
        `${b1.buffers} buffers, pooled ${b1.pooledBytes} B; buffers created ${b0.buffersCreated} after warm-up, ` +
        `${b1.buffersCreated} at the end; ${b1.submits} submits`,
    );
    // The pool stopped growing after the warm-up: every later step reused buffers.
    expect(b1.buffersCreated).toBe(b0.buffersCreated);
    expect(b1.pooledBytes).toBe(b0.pooledBytes);
    expect(last).toBeLessThan(first / 2);
    disposeModel(m);
    expect(engine.memory(name).tensors).toBe(0);
    expect(backend.memory().bytes).toBe(0);
  }, 300_000);

  it('a lost device: a clear error, a re-created backend, and training continues on another backend from the state the loop holds', async () => {
    const name = 'webgpu-lose';
    engine.registerBackend(name, () => createWebGPUBackend({ name }), { replace: true });
    const backend = (await engine.initBackend(name)) as WebGPUBackend;
    const m = upload(initialState(), name);
    // The loop keeps a host copy of its parameters every 10 steps: the state it can resume from.
    let held = { step: 0, params: initialState() };
    for (let s = 1; s <= 30; s++) {
      step(m).dispose();
      if (s % 10 === 0)
        held = { step: s, params: (await Promise.all(m.params.map((p) => p.data()))) as Float32Array[] };
    }
    step(m).dispose(); // step 31: recorded, never read back

    // The device goes away. destroy() fires the same `lost` promise a driver reset or a browser
    // reclaiming the GPU does (with reason 'destroyed' instead of 'unknown').
    backend.device.destroy();
    const lost = await backend.lost;
    expect(lost).toBeInstanceOf(WebGPUDeviceLostError);
    const live = engine.memory(name).tensors;
    let thrown: unknown;
    try {
      step(m);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(WebGPUDeviceLostError);
    expect((thrown as Error).message).toMatch(
      /^webgpu \w+: the WebGPU device of backend 'webgpu-lose' was lost \(destroyed\): .*create a new backend/,
    );
    expect(engine.memory(name).tensors).toBe(live); // the failed step left nothing behind
    await expect(m.params[0].data()).rejects.toBeInstanceOf(WebGPUDeviceLostError);
    disposeModel(m); // disposing tensors of a lost device is allowed

    // The backend can be re-created under the same name, on a fresh device.
    engine.removeBackend(name);
    await engine.initBackend(name);
    const again = upload(held.params, name);
    const gpuLoss = await lossValue(step(again));
    disposeModel(again);
    engine.removeBackend(name);

    // And training continues elsewhere from the held state. The wasm backend when its package
    // provides one; core's f32 reference backend ('js') otherwise.
    const fallback = await fallbackBackend();
    const cpu = upload(held.params, fallback);
    const resumed = await lossValue(step(cpu));
    // Both computed the loss of the same held state in f32 (64 rows, 32 hidden units): they agree to
    // well within 1e-4 relative (the difference is summation order only).
    expect(Math.abs(resumed - gpuLoss)).toBeLessThan(1e-4 * Math.abs(gpuLoss));
    let last = resumed;
    for (let s = 1; s <= 50; s++) {
      const loss = step(cpu);
      if (s === 50) last = await lossValue(loss);
      else loss.dispose();
    }
    console.log(
      `[gpu-kernels] device lost after step 31; resumed from step ${held.step} on '${fallback}': ` +
        `loss ${resumed.toFixed(4)} (a re-created webgpu backend: ${gpuLoss.toFixed(4)}) → ${last.toFixed(4)} 50 steps later`,
    );
    expect(last).toBeLessThan(resumed);
    disposeModel(cpu);
  }, 120_000);
});

/** 'wasm' (from @descent/wasm-kernels, when it exports `createWasmBackend`), else 'js'. */
async function fallbackBackend(): Promise<string> {
  // A test-only, optional dependency: the kernel packages do not import each other.
  const specifier = '@descent/wasm-kernels';
  try {
    const mod = (await import(/* @vite-ignore */ specifier)) as { createWasmBackend?: () => unknown };
    if (typeof mod.createWasmBackend === 'function') {
      engine.registerBackend('wasm', mod.createWasmBackend as never, { replace: true });
      await engine.initBackend('wasm');
      return 'wasm';
    }
  } catch {
    // not built here: fall through to the reference backend
  }
  return 'js';
}

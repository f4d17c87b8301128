/**
 * A 1,000-step training loop on the WasmBackend keeps memory flat: an MLP (2 → 32 → 32 → 2, tanh and
 * relu) on two interleaved spirals, full-batch SGD written with core ops (valueAndGrad + assign).
 * After a warm-up (the matmul workspace and the allocator's free blocks settle), the live tensors,
 * their bytes, the allocator's bytes in use and the size of linear memory must not change at all.
 */
import {
  add,
  assign,
  crossEntropy,
  engine,
  matmul,
  mul,
  registerBackend,
  relu,
  setBackend,
  sub,
  type Tensor,
  tanh,
  tensor,
  tidy,
  valueAndGrad,
} from '@descent/core';
import { expect, it } from 'vitest';
import { createWasmBackend } from '../src/index.js';
import { randomF32, rng, VARIANT } from './helpers.js';

/** n points per class on two one-turn spirals half a turn apart, with a little noise. */
function twoSpirals(n: number): { x: number[]; y: number[] } {
  const r = rng(42);
  const x: number[] = [];
  const y: number[] = [];
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) {
      const t = (i / n) * 2 * Math.PI;
      const rad = 0.2 + (i / n) * 0.8;
      x.push(
        rad * Math.cos(t + c * Math.PI) + r(-0.02, 0.02),
        rad * Math.sin(t + c * Math.PI) + r(-0.02, 0.02),
      );
      y.push(c);
    }
  }
  return { x, y };
}

function snapshot() {
  const m = engine.memory('wasm');
  return {
    tensors: m.tensors,
    bytes: m.bytes,
    backendBytes: m.backend.bytes,
    buffers: m.backend.buffers,
    heapBytesInUse: m.backend.heapBytesInUse,
    memoryBytes: m.backend.memoryBytes,
  };
}

it('1,000 SGD steps of an MLP on two spirals: loss falls, live memory stays exactly flat', async () => {
  registerBackend('wasm', () => createWasmBackend({ variant: VARIANT }), { replace: true });
  await setBackend('wasm');
  const data = twoSpirals(128);
  const x = tensor(data.x, [256, 2]);
  const labels = tensor(data.y, [256], { dtype: 'i32' });
  const init = (shape: number[], seed: number) =>
    tensor(
      randomF32(
        shape.reduce((a, b) => a * b, 1),
        seed,
        -1,
        1,
      ).map((v) => v / Math.sqrt(shape[0])),
      shape,
    );
  const params = [
    init([2, 32], 1),
    init([1, 32], 2),
    init([32, 32], 3),
    init([1, 32], 4),
    init([32, 2], 5),
    init([1, 2], 6),
  ];
  const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, w3: Tensor, b3: Tensor) => {
    const h1 = tanh(add(matmul(x, w1), b1));
    const h2 = relu(add(matmul(h1, w2), b2));
    return crossEntropy(add(matmul(h2, w3), b3), labels, { reduction: 'mean' });
  };
  const step = valueAndGrad(loss, [0, 1, 2, 3, 4, 5]);
  const lr = 0.5;

  const losses: number[] = [];
  let warm: ReturnType<typeof snapshot> | undefined;
  for (let i = 0; i < 1000; i++) {
    const value = tidy(() => {
      const [l, grads] = step(...params);
      params.forEach((p, k) => {
        assign(p, sub(p, mul(grads[k], lr)));
      });
      return l.dataSync()[0];
    });
    losses.push(value);
    if (i === 50) warm = snapshot();
    if (i > 50 && i % 50 === 0) expect(snapshot(), `after step ${i}`).toEqual(warm);
  }
  expect(snapshot()).toEqual(warm);
  // live: x, labels and the 6 parameters, nothing else
  expect(warm!.tensors).toBe(8);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[0]).toBeGreaterThan(0.6); // ≈ ln 2 at the start
  expect(losses[999]).toBeLessThan(0.05); // the spirals are separated
  for (const t of [x, labels, ...params]) t.dispose();
  expect(snapshot().tensors).toBe(0);
});

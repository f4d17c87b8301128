/**
 * Sub-views (Backend.view) on WebGPU: a window of a buffer bound at an offset. Multi-tensor optimizers
 * keep every parameter as such a window of one flat buffer and update them all with one dispatch.
 */
import {
  applyUpdate,
  engine,
  noGrad,
  SgdUpdate,
  type SgdUpdateAttrs,
  subView,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend } from '../src/index.js';
import { runGPU } from './gpu.js';

const NAME = 'webgpu-views';
const attrs: SgdUpdateAttrs = {
  lr: 0.5,
  weightDecay: 0,
  momentum: 0.9,
  bufferDecay: 0.9,
  gradScale: 1,
  hasMomentum: true,
  nesterov: true,
  maximize: false,
  sign: false,
};

describe.runIf(runGPU)('WebGPU sub-views', () => {
  beforeAll(async () => {
    engine.registerBackend(NAME, () => createWebGPUBackend({ name: NAME }), { replace: true });
    await engine.initBackend(NAME);
  });
  afterAll(() => engine.removeBackend(NAME));

  /** Two windows of one param buffer and one state buffer, updated in place; the rest untouched. */
  async function run(backend: string): Promise<number[][]> {
    const values = Array.from({ length: 200 }, (_, i) => Math.sin(i));
    const base = tensor(values, [200], { backend });
    const state = tensor(
      values.map((v) => v / 2),
      [200],
      { backend },
    );
    const grads = [
      tensor(
        values.slice(0, 70).map((v) => v * 3),
        [7, 10],
        { backend },
      ),
      tensor([1, -2, 3], [3], { backend }),
    ];
    const windows: [number, number[]][] = [
      [64, [7, 10]],
      [192, [3]],
    ];
    noGrad(() =>
      tidy(() =>
        windows.forEach(([offset, shape], k) => {
          const p: Tensor = subView(base, offset, shape);
          const b: Tensor = subView(state, offset, shape);
          applyUpdate(SgdUpdate, { param: p, grad: grads[k], momentumBuffer: b }, attrs);
        }),
      ),
    );
    const out = [Array.from(await base.data()), Array.from(await state.data())];
    for (const t of [base, state, ...grads]) t.dispose();
    return out;
  }

  it('bind at their offset: an in-place update through windows matches the f32 reference', async () => {
    const before = engine.memory(NAME).tensors;
    const got = await run(NAME);
    const want = await run('js');
    // Element by element: a handful of f32 roundings of O(1) terms (|b|, |g|, |p| ≤ 3).
    const off = (g: number[], w: number[]) =>
      g.flatMap((v, i) => (Math.abs(v - w[i]) <= 16 * 2 ** -24 * 4 ? [] : [i]));
    expect(off(got[0], want[0])).toEqual([]);
    expect(off(got[1], want[1])).toEqual([]);
    // Outside the windows nothing moved at all.
    for (const [s, e] of [
      [0, 64],
      [134, 192],
    ])
      for (const k of [0, 1]) expect(got[k].slice(s, e)).toEqual(want[k].slice(s, e));
    expect(engine.memory(NAME).tensors).toBe(before);
    expect(engine.memory(NAME).bytes).toBe(0);
  });

  it('reject an offset that is not a multiple of the binding alignment, naming it', () => {
    const base = tensor(new Float32Array(256), [256], { backend: NAME });
    expect(() => subView(base, 3, [10])).toThrow(/webgpu view: offset 3 is not a multiple of \d+ elements/);
    base.dispose();
  });
});

import { describe, expect, it } from 'vitest';
import {
  AdamUpdate,
  applyUpdate,
  getBackend,
  memory,
  noGrad,
  subView,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';

describe('subView: windows of one storage', () => {
  it('shares memory both ways, counts no extra bytes, and keeps its base storage alive', () => {
    const before = memory('js');
    const base = tensor([0, 1, 2, 3, 4, 5, 6, 7], [8]);
    const v = subView(base, 2, [2, 2]);
    expect(v.toArraySync()).toEqual([
      [2, 3],
      [4, 5],
    ]);
    expect(memory('js').bytes).toBe(before.bytes + 32);
    // An in-place update through the view writes the base's elements.
    tidy(() =>
      noGrad(() =>
        applyUpdate(
          AdamUpdate,
          { param: v, grad: tensor([1, 1, 1, 1], [2, 2]), expAvg: zeros([2, 2]), expAvgSq: zeros([2, 2]) },
          {
            beta1: 0.9,
            oneMinusBeta1: 0.1,
            beta2: 0.99,
            oneMinusBeta2: 0.01,
            weightDecay: 0,
            decay: 1,
            momentCoef: 1,
            gradCoef: 0,
            denomScale: 1,
            eps: 0,
            amsgrad: false,
            infinityNorm: false,
            adaptive: false,
            maximize: false,
          },
        ),
      ),
    );
    expect(Array.from(base.dataSync())).toEqual([0, 1, 1.9, 2.9, 3.9, 4.9, 6, 7].map(Math.fround));
    base.dispose();
    expect(Array.from(v.dataSync())).toEqual([1.9, 2.9, 3.9, 4.9].map(Math.fround));
    v.dispose();
    expect(memory('js').bytes).toBe(before.bytes);
    expect(getBackend('js').memory().buffers).toBe(before.backend.buffers);
  });

  it('rejects windows outside the tensor', () => {
    const base = zeros([4]);
    expect(() => subView(base, 3, [2])).toThrow(
      /subView: elements \[3, 5\) are outside a tensor of 4 elements/,
    );
    base.dispose();
  });
});

import { describe, expect, it } from 'vitest';
import {
  add,
  conv2d,
  crossEntropy,
  grad,
  matmul,
  maxPool2d,
  mean,
  memory,
  randn,
  relu,
  setSeed,
  square,
  sub,
  sum,
  tensor,
  tidy,
} from '../src/index.js';

describe('smoke', () => {
  it('adds with broadcasting', () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = tensor([10, 20, 30]);
    expect(add(a, b).toArraySync()).toEqual([
      [11, 22, 33],
      [14, 25, 36],
    ]);
  });
  it('matmul + grad', () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    const w = tensor([
      [1, 0],
      [0, 1],
    ]).requireGrad();
    const loss = sum(square(matmul(x, w)));
    loss.backward();
    expect(w.grad!.toArraySync()).toEqual([
      [20, 28],
      [28, 40],
    ]);
  });
  it('hvp', () => {
    const f = (x: any) => sum(mul3(x));
    const mul3 = (x: any) => square(square(x));
    const x = tensor([1, 2]);
    const g = grad(f)(x);
    expect(g.toArraySync()).toEqual([4, 32]);
    const v = tensor([1, 1]);
    const h = grad((y: any) => sum(grad(f)(y).mul(v)))(x);
    expect(h.toArraySync()).toEqual([12, 48]);
  });
  it('training leaks nothing', () => {
    setSeed(1);
    const w = randn([4, 3]).requireGrad();
    const x = randn([8, 4]);
    const y = tensor(new Int32Array([0, 1, 2, 0, 1, 2, 0, 1]));
    const before = memory().tensors;
    for (let i = 0; i < 5; i++) {
      tidy(() => {
        const loss = crossEntropy(relu(matmul(x, w)), y);
        loss.backward();
        const nw = sub(w, w.grad!.mul(0.1));
        w.grad!.dispose();
        w.grad = null;
        nw.dispose();
      });
    }
    expect(memory().tensors).toBe(before);
    const c = conv2d(randn([1, 5, 5, 2]), randn([3, 3, 2, 4]), { padding: 'same' });
    expect(c.shape).toEqual([1, 5, 5, 4]);
    expect(maxPool2d(c, 2).shape).toEqual([1, 2, 2, 4]);
    expect(mean(c).size).toBe(1);
  });
});

import { memory, mul, noGrad, square, sum, tensor, tidy } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { SGD } from '../src/index.js';

/** Plain float64 SGD (torch.optim.SGD's documented algorithm) for comparison. */
function referenceSgd(
  x0: number[],
  grads: (x: number[]) => number[],
  steps: number,
  o: { lr: number; momentum: number; weightDecay: number; nesterov: boolean; dampening: number },
) {
  const x = x0.slice();
  let buf: number[] | null = null;
  for (let t = 0; t < steps; t++) {
    const g = grads(x).map((gi, i) => gi + o.weightDecay * x[i]);
    let d = g;
    if (o.momentum) {
      buf = buf ? buf.map((b, i) => o.momentum * b + (1 - o.dampening) * g[i]) : g.slice();
      d = o.nesterov ? g.map((gi, i) => gi + o.momentum * buf![i]) : buf;
    }
    for (let i = 0; i < x.length; i++) x[i] -= o.lr * d[i];
  }
  return x;
}

describe('SGD', () => {
  for (const opts of [
    { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false, dampening: 0 },
    { lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: false, dampening: 0.1 },
    { lr: 0.05, momentum: 0.9, weightDecay: 0.001, nesterov: true, dampening: 0 },
  ]) {
    it(`matches the reference algorithm over 20 steps (${JSON.stringify(opts)})`, () => {
      // f(x) = Σ c_i x_i², gradient 2 c_i x_i
      const c = [1, 3, 0.5];
      const x = tensor([1, -2, 0.5], undefined, { backend: 'js64' }).requireGrad();
      const cT = tensor(c, undefined, { backend: 'js64' });
      const opt = new SGD([x], opts);
      const before = memory('js64').tensors;
      for (let t = 0; t < 20; t++) {
        tidy(() => {
          opt.zeroGrad();
          sum(mul(square(x), cT)).backward();
          opt.step();
        });
      }
      opt.zeroGrad();
      const want = referenceSgd([1, -2, 0.5], (v) => v.map((vi, i) => 2 * c[i] * vi), 20, opts);
      const got = Array.from(x.dataSync());
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThan(20 * 1e-12 * (1 + Math.abs(want[i])));
      // One momentum buffer is all the state; nothing else leaks.
      expect(memory('js64').tensors).toBe(before + (opts.momentum ? 1 : 0));
      opt.dispose();
      noGrad(() => x.dispose());
    });
  }

  it('rejects bad hyperparameters with clear errors', () => {
    const p = tensor([1]).requireGrad();
    expect(() => new SGD([p], { lr: -1 })).toThrow(/SGD: learning rate must be >= 0, got -1/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/Nesterov/);
    expect(() => new SGD([tensor([1])], { lr: 0.1 })).toThrow(/does not require grad/);
  });
});

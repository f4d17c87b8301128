import { memory, tensor } from '@descent/core';
import { describe, expect, it } from 'vitest';
import { Linear, MLP, trainSpirals, twoSpirals } from '../src/index.js';

describe('models', () => {
  it('Linear computes x·W + b', () => {
    const l = new Linear(2, 3, { seed: 3 });
    const x = tensor([[1, 2]]);
    const w = l.weight.dataSync();
    const y = l.forward(x).dataSync();
    for (let j = 0; j < 3; j++) expect(y[j]).toBeCloseTo(w[j] + 2 * w[3 + j], 6);
    expect(new MLP([2, 4, 3]).parameters().map((p) => p.shape)).toEqual([[2, 4], [4], [4, 3], [3]]);
  });

  it('two spirals are deterministic and balanced', () => {
    const a = twoSpirals(100, { seed: 5 });
    const b = twoSpirals(100, { seed: 5 });
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    expect(a.y.reduce((s, v) => s + v, 0)).toBe(50);
    expect(Array.from(twoSpirals(100, { seed: 6 }).x)).not.toEqual(Array.from(a.x));
  });

  it('the training loop drives the loss down without leaking', async () => {
    const before = memory('js').tensors;
    const { first, last } = await trainSpirals({
      backend: 'js',
      steps: 300,
      lr: 0.3,
      momentum: 0.9,
      hidden: 16,
      samples: 200,
      seed: 1,
      logEvery: 100,
    });
    expect(last.loss).toBeLessThan(0.6 * first.loss);
    expect(last.accuracy).toBeGreaterThan(0.8);
    expect(memory('js').tensors).toBe(before);
  });
});

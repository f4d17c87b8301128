/**
 * The counter-based generator: Philox4x32-10 known answers, reproducibility across backends and runs,
 * and the distributions of rand / randn / randint within statistical bounds.
 *
 * Statistical bounds are 5σ of the sampling distribution of each statistic (two-sided p ≈ 6e-7), and
 * the seeds are fixed, so these tests are deterministic; the bounds only say the fixed draws would be
 * unremarkable for a correct generator.
 */
import { describe, expect, it } from 'vitest';
import {
  intValues,
  memory,
  normalValues,
  philox4x32,
  rand,
  randint,
  randn,
  randomBits,
  setSeed,
  uniformValues,
} from '../src/index.js';

const hex = (words: ArrayLike<number>) =>
  Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, '0')).join(' ');
const words = (s: string) => s.split(' ').map((h) => Number.parseInt(h, 16));

/** Host values of a freshly drawn tensor (the tensor is disposed). */
function draw(make: () => { dataSync(): ArrayLike<number>; dispose(): void }): number[] {
  const t = make();
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}

const minOf = (xs: number[]) => xs.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
const maxOf = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);

function moments(xs: ArrayLike<number>) {
  const n = xs.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i];
  m /= n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i] - m;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  return { mean: m, variance: m2 / n, skew: m3 / n, kurt: m4 / n };
}

describe('Philox4x32-10 known-answer vectors (Random123 tests/kat_vectors)', () => {
  const KAT: [string, string, string][] = [
    ['00000000 00000000 00000000 00000000', '00000000 00000000', '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
    ['ffffffff ffffffff ffffffff ffffffff', 'ffffffff ffffffff', '408f276d 41c83b0e a20bc7c6 6d5451fd'],
    ['243f6a88 85a308d3 13198a2e 03707344', 'a4093822 299f31d0', 'd16cfe09 94fdcceb 5001e420 24126ea1'],
  ];
  it.each(KAT)('counter %s key %s → %s', (ctr, key, expected) => {
    const [c0, c1, c2, c3] = words(ctr);
    const [k0, k1] = words(key);
    const out = new Uint32Array(4);
    philox4x32(c0, c1, c2, c3, k0, k1, out);
    expect(hex(out)).toBe(expected);
  });

  it('randomBits lays out counters as (n/4, stream lo, stream hi, 0) under key (seed lo, seed hi)', () => {
    const seed = 0x1_2345_6789; // above 2^32: exercises the high key word
    const stream = 7;
    const bits = randomBits(seed, stream, 10);
    const block = new Uint32Array(4);
    for (let b = 0; b < 3; b++) {
      philox4x32(b, stream, 0, 0, 0x2345_6789, 1, block);
      for (let j = 0; j < 4 && 4 * b + j < 10; j++) expect(bits[4 * b + j]).toBe(block[j]);
    }
  });
});

describe('reproducibility', () => {
  it('the same seed gives the same numbers on js and js64, and again on a second run', () => {
    for (const make of [
      (backend: string) => rand([257], { seed: 42, backend }),
      (backend: string) => randn([257], { seed: 42, backend }),
      (backend: string) => randint(-5, 9, [257], { seed: 42, backend }),
      (backend: string) => rand([3, 5], { seed: 9, backend, low: -2, high: 3 }),
      (backend: string) => randn([3, 5], { seed: 9, backend, mean: 1, std: 0.1 }),
    ]) {
      const a = draw(() => make('js'));
      const b = draw(() => make('js64'));
      const c = draw(() => make('js'));
      expect(b).toEqual(a);
      expect(c).toEqual(a);
    }
    // The float64 backend holds the same float32 values (they are generated in float32).
    const r = draw(() => randn([64], { seed: 3, backend: 'js64' }));
    expect(r.every((v) => Math.fround(v) === v)).toBe(true);
  });

  it('setSeed restarts the global sequence of streams identically on every backend', () => {
    const run = (backend: string) => {
      setSeed(1234);
      return [
        draw(() => rand([5], { backend })),
        draw(() => randn([5], { backend })),
        draw(() => randint(0, 100, [5], { backend })),
      ];
    };
    const first = run('js');
    expect(run('js')).toEqual(first);
    expect(run('js64')).toEqual(first);
    // Successive draws use different streams.
    expect(first[0]).not.toEqual(draw(() => rand([5])));
  });

  it('different seeds (and different streams of one seed) give different numbers', () => {
    const a = draw(() => rand([100], { seed: 1 }));
    const b = draw(() => rand([100], { seed: 2 }));
    const c = draw(() => rand([100], { seed: 2 ** 32 + 1 })); // differs from seed 1 only in the high key word
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(c);
    // Independent-looking, not merely different: few coincidences and no correlation.
    const same = a.filter((v, i) => v === b[i]).length;
    expect(same).toBeLessThan(3);
    expect(Array.from(uniformValues(100, 0, 1, 5, 0))).not.toEqual(
      Array.from(uniformValues(100, 0, 1, 5, 1)),
    );
    // A prefix of a longer draw is the shorter draw (element n depends only on (seed, stream, n)).
    expect(Array.from(normalValues(7, 0, 1, 11, 3))).toEqual(
      Array.from(normalValues(20, 0, 1, 11, 3)).slice(0, 7),
    );
    expect(Array.from(intValues(5, 0, 10, 11, 3))).toEqual(
      Array.from(intValues(9, 0, 10, 11, 3)).slice(0, 5),
    );
  });

  it('draws leave no tensors behind', () => {
    const before = memory('js').tensors;
    draw(() => rand([10]));
    draw(() => randn([10]));
    draw(() => randint(0, 3, [10]));
    expect(memory('js').tensors).toBe(before);
  });
});

describe('distributions', () => {
  const N = 200_000;

  it('rand: uniform on [0, 1) — range, mean and variance within 5σ, flat histogram', () => {
    const u = draw(() => rand([N], { seed: 101 }));
    expect(minOf(u)).toBeGreaterThanOrEqual(0);
    expect(maxOf(u)).toBeLessThan(1);
    const { mean, variance } = moments(u);
    // Var(U) = 1/12; Var of the sample variance ≈ (μ4 − σ⁴)/N with μ4 = 1/80: (1/80 − 1/144)/N = 1/(180N).
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt(1 / 180 / N));
    // χ² over 20 bins (19 degrees of freedom: mean 19, sd √38 ≈ 6.2); 19 + 8 sd is a generous bound.
    const bins = new Array(20).fill(0);
    for (const v of u) bins[Math.floor(v * 20)]++;
    const e = N / 20;
    const chi2 = bins.reduce((s, o) => s + (o - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(19 + 8 * Math.sqrt(38));
  });

  it('rand with low/high', () => {
    const u = draw(() => rand([N], { seed: 102, low: -3, high: 5 }));
    expect(minOf(u)).toBeGreaterThanOrEqual(-3);
    expect(maxOf(u)).toBeLessThan(5);
    const { mean, variance } = moments(u);
    const w = 8;
    expect(Math.abs(mean - 1)).toBeLessThan(5 * Math.sqrt((w * w) / 12 / N));
    expect(Math.abs(variance - (w * w) / 12)).toBeLessThan(5 * Math.sqrt(w ** 4 / 180 / N));
  });

  it('randn: mean, variance, skewness and kurtosis of N(0, 1) within 5σ', () => {
    const z = draw(() => randn([N], { seed: 103 }));
    expect(z.every(Number.isFinite)).toBe(true);
    const { mean, variance, skew, kurt } = moments(z);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    // Var of the sample variance: (μ4 − 1)/N = 2/N; of the third moment: μ6/N = 15/N; of the fourth: (μ8 − μ4²)/N = 96/N.
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(skew)).toBeLessThan(5 * Math.sqrt(15 / N));
    expect(Math.abs(kurt - 3)).toBeLessThan(5 * Math.sqrt(96 / N));
    // Tail mass beyond 3σ: P = 0.0027, a binomial count with sd √(N·P).
    const tail = z.filter((v) => Math.abs(v) > 3).length;
    expect(Math.abs(tail - N * 0.0027)).toBeLessThan(5 * Math.sqrt(N * 0.0027));
  });

  it('randn with mean and std', () => {
    const z = draw(() => randn([N], { seed: 104, mean: -2, std: 0.5 }));
    const { mean, variance } = moments(z);
    expect(Math.abs(mean + 2)).toBeLessThan(5 * 0.5 * Math.sqrt(1 / N));
    expect(Math.abs(variance - 0.25)).toBeLessThan(5 * 0.25 * Math.sqrt(2 / N));
  });

  it('randint: i32 values in [low, high), every value hit, χ² uniformity', () => {
    for (const [low, high] of [
      [0, 10],
      [-3, 4],
      [5, 6],
    ]) {
      const t = randint(low, high, [N], { seed: 105 + low });
      expect(t.dtype).toBe('i32');
      const v = Array.from(t.dataSync());
      t.dispose();
      expect(v.every(Number.isInteger)).toBe(true);
      expect(minOf(v)).toBe(low);
      expect(maxOf(v)).toBe(high - 1);
      const k = high - low;
      const counts = new Array(k).fill(0);
      for (const x of v) counts[x - low]++;
      if (k === 1) continue;
      // χ² with k − 1 degrees of freedom: mean k − 1, sd √(2(k − 1)); bound at mean + 8 sd.
      const e = N / k;
      const chi2 = counts.reduce((s, o) => s + (o - e) ** 2 / e, 0);
      expect(chi2).toBeLessThan(k - 1 + 8 * Math.sqrt(2 * (k - 1)));
    }
  });

  it('a broken generator would fail these bounds (sanity of the statistics)', () => {
    // Squared uniforms: mean 1/3, far outside the 5σ band around 1/2.
    const u = draw(() => rand([N], { seed: 106 })).map((x) => x * x);
    expect(Math.abs(moments(u).mean - 0.5)).toBeGreaterThan(5 * Math.sqrt(1 / 12 / N));
  });
});

describe('global seed validation', () => {
  it('rejects a bad seed', () => {
    expect(() => setSeed(-1)).toThrow(/seed/);
    expect(() => setSeed(1.5)).toThrow(/seed/);
    setSeed(0);
    const a = draw(() => rand([3]));
    setSeed(0);
    expect(draw(() => rand([3]))).toEqual(a);
  });
});

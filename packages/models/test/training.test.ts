/**
 * End-to-end training on the js backend: targets that only a working model + autograd + optimizer
 * reach, and gradient checkpointing's peak-memory saving measured with `memory()`.
 */
import {
  crossEntropy,
  engine,
  memory,
  randint,
  reshape,
  setSeed,
  slice,
  sum,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { SGD } from '@descent/optim';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  BatchNorm2d,
  Conv2d,
  DataLoader,
  GatedFFN,
  GlobalAvgPool,
  GPT,
  Linear,
  MaxPool2d,
  type Module,
  modularAddition,
  normal,
  ReLU,
  Residual,
  Sequential,
  syntheticShapes,
  Tanh,
  twoSpirals,
} from '../src/index.js';

/** Full-batch SGD steps; returns the loss of every step. */
function fit(model: Module, x: Tensor, y: Tensor, steps: number, lr: number, loss = crossEntropy): number[] {
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9 });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++)
    losses.push(
      tidy(() => {
        opt.zeroGrad();
        const l = loss(model.forward(x), y);
        l.backward();
        opt.step();
        return l.item();
      }),
    );
  opt.zeroGrad();
  opt.dispose();
  return losses;
}

describe('training', () => {
  it('an MLP with a SwiGLU FFN reaches >= 97% train accuracy on two spirals, leak-free', () => {
    setSeed(2);
    const live = memory().tensors;
    const data = twoSpirals(200, { seed: 2 });
    const x = tensor(data.x, [data.n, 2]);
    const y = tensor(data.y, [data.n]);
    // A wide random first layer (N(0, 2²) weights: random-feature-like) makes the spirals easy to unroll.
    const model = new Sequential(
      new Linear(2, 32, { init: (shape, o) => normal(shape, { ...o, std: 2 }) }),
      new Tanh(),
      new Residual(new GatedFFN(32, 64, { gate: 'swiglu' })),
      new Linear(32, 2),
    );
    const losses = fit(model, x, y, 200, 0.1);
    const acc = tidy(() => accuracy(model.forward(x), y).item());
    expect(acc).toBeGreaterThanOrEqual(0.97);
    expect(losses[losses.length - 1]).toBeLessThan(0.2 * losses[0]);
    model.dispose();
    x.dispose();
    y.dispose();
    expect(memory().tensors).toBe(live);
  });

  it('a tiny GPT learns modular addition: loss far below the uniform guess', () => {
    setSeed(3);
    const p = 7;
    const data = modularAddition(p, { trainFraction: 1, seed: 3 });
    const tokens = tensor(data.train.tokens, [data.train.n, 3], { dtype: 'i32' });
    const targets = tensor(data.train.targets, [data.train.n], { dtype: 'i32' });
    const model = new GPT({
      vocab: data.vocab,
      context: 3,
      dModel: 16,
      heads: 2,
      layers: 1,
      seed: 3,
      embeddingStd: 1,
    });
    // The answer is predicted at the '=' position (the last one).
    const lastLoss = (logits: Tensor, t: Tensor) =>
      crossEntropy(reshape(slice(logits, [0, 2, 0], [-1, 1, -1]), [t.shape[0], data.vocab]), t);
    const losses = fit(model, tokens, targets, 80, 0.1, lastLoss);
    const uniform = Math.log(p);
    expect(losses[0]).toBeGreaterThan(0.8 * uniform);
    expect(losses[losses.length - 1]).toBeLessThan(0.25 * uniform);
    model.dispose();
    tokens.dispose();
    targets.dispose();
  });

  it('a small CNN with batch norm learns the synthetic shapes from mini-batches', () => {
    setSeed(4);
    const train = syntheticShapes(256, { seed: 4 });
    const test = syntheticShapes(128, { seed: 5 });
    // Conv features, pooled over positions (the shapes sit anywhere), then a linear classifier.
    const model = new Sequential(
      new Conv2d(1, 8, 3, { padding: 1 }),
      new BatchNorm2d(8),
      new ReLU(),
      new MaxPool2d(2),
      new Conv2d(8, 16, 3, { padding: 1 }),
      new BatchNorm2d(16),
      new ReLU(),
      new GlobalAvgPool(),
      new Linear(16, 4),
    );
    const loader = new DataLoader(
      { n: train.n, x: train.x, xShape: [12, 12, 1], y: train.y },
      { batchSize: 32, seed: 4 },
    );
    const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    for (let epoch = 0; epoch < 4; epoch++)
      for (const b of loader.epoch(epoch))
        tidy(() => {
          opt.zeroGrad();
          crossEntropy(model.forward(b.x), b.y).backward();
          opt.step();
          b.x.dispose();
          b.y.dispose();
        });
    model.eval();
    const acc = tidy(() =>
      accuracy(model.forward(tensor(test.x, [test.n, 12, 12, 1])), tensor(test.y, [test.n])).item(),
    );
    expect(acc).toBeGreaterThan(0.9);
    opt.zeroGrad();
    opt.dispose();
    model.dispose();
  });
});

describe('gradient checkpointing', () => {
  it('lowers peak memory of a forward + backward and gives identical gradients', () => {
    const config = { vocab: 16, context: 16, dModel: 32, heads: 4, layers: 4, seed: 9 };
    const tokens = randint(0, 16, [8, 16], { seed: 1 });
    const run = (checkpointBlocks: boolean) => {
      const model = new GPT({ ...config, checkpointBlocks });
      const base = memory().bytes;
      let peak = 0;
      // memory() after every kernel: the high-water mark of live tensor bytes during the step.
      const stop = engine.addKernelListener(() => {
        peak = Math.max(peak, memory().bytes - base);
      });
      tidy(() => sum(model.forward(tokens)).backward());
      stop();
      const grads = model.parameters().map((p) => Array.from(p.grad!.dataSync()));
      model.dispose();
      return { peak, grads };
    };
    const plain = run(false);
    const ckpt = run(true);
    expect(ckpt.grads).toEqual(plain.grads);
    // Four blocks' activations kept vs one block's at a time: well under the plain peak.
    expect(ckpt.peak).toBeLessThan(0.6 * plain.peak);
    console.log(
      `peak bytes during forward+backward: plain ${plain.peak}, checkpointed ${ckpt.peak} (${(ckpt.peak / plain.peak).toFixed(2)}×)`,
    );
    tokens.dispose();
  });
});

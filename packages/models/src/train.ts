import {
  argmax,
  crossEntropy,
  equal,
  initBackend,
  mean,
  memory,
  setBackend,
  type Tensor,
  tensor,
  tidy,
} from '@descent/core';
import { SGD } from '@descent/optim';
import { type Dataset, twoSpirals } from './data/spirals.js';
import { MLP } from './layers.js';

export interface TrainOptions {
  backend: string;
  steps: number;
  lr: number;
  momentum: number;
  hidden: number;
  samples: number;
  seed: number;
  /** Called every `logEvery` steps and at the end. */
  onLog?: (s: TrainLog) => void;
  logEvery: number;
}

export interface TrainLog {
  step: number;
  loss: number;
  accuracy: number;
  stepsPerSecond: number;
  liveTensors: number;
}

/**
 * Full-batch training of a 2-hidden-layer MLP on two spirals with SGD + momentum: the project's
 * smallest end-to-end run (data → model → crossEntropy → backward → optimizer), leak-free.
 */
export async function trainSpirals(opts: TrainOptions): Promise<{ first: TrainLog; last: TrainLog }> {
  await initBackend(opts.backend);
  await setBackend(opts.backend);
  const data: Dataset = twoSpirals(opts.samples, { seed: opts.seed });
  const x = tensor(data.x, [data.n, data.features]);
  const y = tensor(data.y, [data.n]);
  const model = new MLP([data.features, opts.hidden, opts.hidden, data.classes], { seed: opts.seed });
  const opt = new SGD(model.parameters(), { lr: opts.lr, momentum: opts.momentum });
  const t0 = performance.now();
  let first: TrainLog | undefined;
  let last: TrainLog | undefined;
  for (let step = 1; step <= opts.steps; step++) {
    const log = step === 1 || step % opts.logEvery === 0 || step === opts.steps;
    const stats = tidy(() => {
      opt.zeroGrad();
      const logits = model.forward(x);
      const loss = crossEntropy(logits, y);
      loss.backward();
      opt.step();
      return log ? [loss.item(), accuracy(logits, y)] : null;
    });
    if (stats) {
      last = {
        step,
        loss: stats[0],
        accuracy: stats[1],
        stepsPerSecond: step / ((performance.now() - t0) / 1000),
        liveTensors: memory().tensors,
      };
      first ??= last;
      opts.onLog?.(last);
    }
  }
  opt.zeroGrad();
  opt.dispose();
  for (const t of [x, y, ...model.parameters()]) t.dispose();
  return { first: first!, last: last! };
}

function accuracy(logits: Tensor, labels: Tensor): number {
  return mean(equal(argmax(logits, -1), labels)).item();
}

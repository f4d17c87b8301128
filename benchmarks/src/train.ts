/**
 * End-to-end training throughput: the same model (architecture, initial weights, batch, optimizer)
 * trained by descent (through @descent/models and @descent/optim, on each backend) and by TensorFlow.js
 * (a twin written with tf ops that reads descent's initial weights by parameter name).
 */

import type { Tensor } from '@descent/core';
import * as d from '@descent/core';
import {
  BasicBlock,
  BatchNorm2d,
  Conv2d,
  GlobalAvgPool,
  Linear,
  MLP,
  Module,
  TransformerBlock,
} from '@descent/models';
import { SGD } from '@descent/optim';
import type * as TF from '@tensorflow/tfjs-core';
import { gamma, U32 } from './agree.js';
import { TRANSCENDENTAL_ULP } from './cases.js';
import { labels, normal } from './data.js';
import type { Tf } from './graphs/tfjs.js';
import { loadNodeTf, nodeDescentBackends } from './node-impls.js';
import type { Progress } from './progress.js';
import type { TrainResult } from './results.js';
import { summarize } from './stats.js';

type Params = Record<string, Float32Array>;
type TfParams = Record<string, TF.Variable>;

interface Workload {
  id: string;
  batch: number;
  /** Builds the descent model on the current backend (same seed → same weights everywhere). */
  model(): Module;
  /** Host batch: inputs and targets. */
  data(): { x: Float32Array; xShape: number[]; y: Float32Array | Int32Array; yShape: number[] };
  loss(out: Tensor, y: Tensor): Tensor;
  tfForward(tf: Tf, p: TfParams, x: TF.Tensor): TF.Tensor;
  tfLoss(tf: Tf, out: TF.Tensor, y: TF.Tensor): TF.Scalar;
  /** Longest chain of reductions (for the loss agreement bound). */
  kPath: number;
}

const LR = 0.01;
const MOMENTUM = 0.9;

/** Linear on [..., in] in tfjs: flatten the leading axes, matMul, restore. */
function tfLinear(tf: Tf, x: TF.Tensor, w: TF.Tensor, b?: TF.Tensor): TF.Tensor {
  const lead = x.shape.slice(0, -1);
  const y = tf.matMul(tf.reshape(x, [-1, x.shape[x.shape.length - 1]]) as TF.Tensor2D, w as TF.Tensor2D);
  const z = b ? tf.add(y, b) : y;
  return tf.reshape(z, [...lead, w.shape[1] as number]);
}

function tfBatchNorm(tf: Tf, x: TF.Tensor, gammaT: TF.Tensor, beta: TF.Tensor): TF.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gammaT, 1e-5);
}

function tfBlock(tf: Tf, p: TfParams, pre: string, x: TF.Tensor): TF.Tensor {
  const conv = (h: TF.Tensor, w: string) =>
    tf.conv2d(h as TF.Tensor4D, p[`${pre}${w}.weight`] as TF.Tensor4D, 1, 'same');
  const bn = (h: TF.Tensor, n: string) => tfBatchNorm(tf, h, p[`${pre}${n}.weight`], p[`${pre}${n}.bias`]);
  const h = tf.relu(bn(conv(x, 'conv1'), 'bn1'));
  return tf.relu(tf.add(bn(conv(h, 'conv2'), 'bn2'), x));
}

/** Stem conv → BN → ReLU → two BasicBlocks → global average pool → linear classifier. */
class SmallResNet extends Module {
  readonly stem: Conv2d;
  readonly bn: BatchNorm2d;
  readonly block1: BasicBlock;
  readonly block2: BasicBlock;
  readonly pool = new GlobalAvgPool();
  readonly fc: Linear;
  constructor(width: number, classes: number, seed: number) {
    super();
    this.stem = new Conv2d(3, width, 3, { padding: 1, bias: false, seed });
    this.bn = new BatchNorm2d(width);
    this.block1 = new BasicBlock(width, width);
    this.block2 = new BasicBlock(width, width);
    this.fc = new Linear(width, classes, { seed: seed + 1 });
  }
  forward(x: Tensor): Tensor {
    const h = d.relu(this.bn.forward(this.stem.forward(x)));
    return this.fc.forward(this.pool.forward(this.block2.forward(this.block1.forward(h))));
  }
}

export function workloads(quick: boolean): Workload[] {
  const mlpBatch = 128;
  const [tb, tt, td] = quick ? [4, 32, 64] : [8, 64, 128];
  const [rn, rhw, rw] = quick ? [8, 8, 8] : [16, 16, 16];
  const ce = (tf: Tf, out: TF.Tensor, y: TF.Tensor, classes: number) =>
    tf.losses.softmaxCrossEntropy(tf.oneHot(y as TF.Tensor1D, classes), out) as TF.Scalar;
  return [
    {
      id: 'mlp',
      batch: mlpBatch,
      model: () => new MLP([64, 256, 256, 10], { activation: 'relu', seed: 11 }),
      data: () => ({
        x: normal(mlpBatch * 64, 1),
        xShape: [mlpBatch, 64],
        y: labels(mlpBatch, 10, 2),
        yShape: [mlpBatch],
      }),
      loss: (out, y) => d.crossEntropy(out, y),
      tfForward: (tf, p, x) => {
        let h = x;
        for (let i = 0; i < 3; i++) {
          h = tfLinear(tf, h, p[`layers.${i}.weight`], p[`layers.${i}.bias`]);
          if (i < 2) h = tf.relu(h);
        }
        return h;
      },
      tfLoss: (tf, out, y) => ce(tf, out, y, 10),
      kPath: 64 + 256 + 256 + 10 + mlpBatch,
    },
    {
      id: 'transformer-block',
      batch: tb,
      model: () => new TransformerBlock(td, 4, { ffn: 'swiglu', seed: 21 }),
      data: () => ({
        x: normal(tb * tt * td, 3),
        xShape: [tb, tt, td],
        y: normal(tb * tt * td, 4),
        yShape: [tb, tt, td],
      }),
      loss: (out, y) => d.mse(out, y),
      tfForward: (tf, p, x) => {
        const [b, t, dm] = x.shape;
        const heads = 4;
        const hd = dm / heads;
        const rms = (h: TF.Tensor, w: TF.Tensor) =>
          tf.mul(tf.mul(h, tf.rsqrt(tf.add(tf.mean(tf.square(h), -1, true), 1e-6))), w);
        const mask = new Float32Array(t * t);
        for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) mask[i * t + j] = -1e9;
        const split = (h: TF.Tensor) => tf.transpose(tf.reshape(h, [b, t, heads, hd]), [0, 2, 1, 3]);
        const n1 = rms(x, p['norm1.weight']);
        const q = split(tfLinear(tf, n1, p['attn.q.weight']));
        const k = split(tfLinear(tf, n1, p['attn.k.weight']));
        const v = split(tfLinear(tf, n1, p['attn.v.weight']));
        const scores = tf.add(
          tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)),
          tf.tensor2d(mask, [t, t]),
        );
        const att = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [b, t, dm]);
        const h = tf.add(x, tfLinear(tf, att, p['attn.proj.weight']));
        const n2 = rms(h, p['norm2.weight']);
        const g = tfLinear(tf, n2, p['ffn.gate.weight']);
        const ffn = tfLinear(
          tf,
          tf.mul(tf.mul(g, tf.sigmoid(g)), tfLinear(tf, n2, p['ffn.up.weight'])),
          p['ffn.down.weight'],
        );
        return tf.add(h, ffn);
      },
      tfLoss: (tf, out, y) => tf.losses.meanSquaredError(y, out) as TF.Scalar,
      kPath: 3 * td + tt + 2 * 342 + tb * tt * td,
    },
    {
      id: 'small-resnet',
      batch: rn,
      model: () => new SmallResNet(rw, 10, 31),
      data: () => ({
        x: normal(rn * rhw * rhw * 3, 5),
        xShape: [rn, rhw, rhw, 3],
        y: labels(rn, 10, 6),
        yShape: [rn],
      }),
      loss: (out, y) => d.crossEntropy(out, y),
      tfForward: (tf, p, x) => {
        const stem = tf.conv2d(x as TF.Tensor4D, p['stem.weight'] as TF.Tensor4D, 1, 'same');
        let h = tf.relu(tfBatchNorm(tf, stem, p['bn.weight'], p['bn.bias']));
        h = tfBlock(tf, p, 'block2.', tfBlock(tf, p, 'block1.', h));
        return tfLinear(tf, tf.mean(h, [1, 2]), p['fc.weight'], p['fc.bias']);
      },
      tfLoss: (tf, out, y) => ce(tf, out, y, 10),
      kPath: 27 + 4 * 9 * rw + 5 * rn * rhw * rhw + rw + 10 + rn,
    },
  ];
}

interface TrainImpl {
  id: string;
  run(w: Workload, init: Params, steps: number, budgetMs: number): Promise<TrainResult>;
}

/** Times `steps` synchronized training steps after one cold and one warm-up step. */
async function timeSteps(
  w: Workload,
  impl: string,
  step: () => Promise<number | undefined>,
  steps: number,
  budgetMs: number,
  params: number,
): Promise<TrainResult> {
  const base = { workload: w.id, impl, batch: w.batch, params };
  let t = performance.now();
  const firstLoss = await step();
  const cold = performance.now() - t;
  if (cold > budgetMs)
    return {
      ...base,
      status: 'skipped',
      reason: `one step took ${(cold / 1000).toFixed(1)} s (budget ${(budgetMs / 1000).toFixed(0)} s)`,
      firstLoss,
    };
  await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    t = performance.now();
    await step();
    times.push(performance.now() - t);
  }
  const s = summarize(times);
  return {
    ...base,
    status: 'ok',
    stepMs: { median: s.median, q1: s.q1, q3: s.q3, n: s.n },
    stepsPerSec: 1000 / s.median,
    samplesPerSec: (1000 / s.median) * w.batch,
    firstLoss,
  };
}

function descentTrainImpl(id: string, backend: string, sync?: () => Promise<void>): TrainImpl {
  return {
    id,
    async run(w, init, steps, budgetMs) {
      await d.setBackend(backend);
      const model = w.model();
      for (const [name, p] of model.namedParameters()) {
        const v = d.tensor(init[name], p.shape);
        d.assign(p, v);
        v.dispose();
      }
      const data = w.data();
      const x = d.tensor(data.x, data.xShape);
      const y = d.tensor(data.y, data.yShape);
      const opt = new SGD(model.parameters(), { lr: LR, momentum: MOMENTUM });
      let first = true;
      try {
        return await timeSteps(
          w,
          id,
          async () => {
            const loss = d.tidy(() => {
              const l = w.loss(model.forward(x), y);
              d.backward(l);
              return l;
            });
            opt.step();
            opt.zeroGrad();
            await sync?.();
            const v = first ? await loss.itemAsync() : undefined;
            first = false;
            loss.dispose();
            return v;
          },
          steps,
          budgetMs,
          model.parameterCount(),
        );
      } finally {
        d.dispose(model.parameters(), x, y);
      }
    },
  };
}

function tfjsTrainImpl(id: string, backend: string, loadTf: () => Promise<Tf>): TrainImpl {
  return {
    id,
    async run(w, init, steps, budgetMs) {
      const tf = await loadTf();
      await tf.setBackend(backend);
      const shapes = Object.fromEntries(
        w
          .model()
          .namedParameters()
          .map(([n, t]) => [n, t.shape]),
      );
      const p: TfParams = {};
      for (const [name, v] of Object.entries(init))
        p[name] = tf.variable(tf.tensor(v, shapes[name] as number[]), true, `${id}/${name}`);
      const data = w.data();
      const x = tf.tensor(data.x, data.xShape);
      const y = tf.tensor(data.y, data.yShape, data.y instanceof Int32Array ? 'int32' : 'float32');
      const opt = tf.train.momentum(LR, MOMENTUM);
      let first = true;
      try {
        return await timeSteps(
          w,
          id,
          async () => {
            const loss = opt.minimize(() => w.tfLoss(tf, w.tfForward(tf, p, x), y), true, Object.values(p))!;
            const v = first ? (await loss.data())[0] : undefined;
            first = false;
            loss.dispose();
            return v;
          },
          steps,
          budgetMs,
          Object.values(init).reduce((s, a) => s + a.length, 0),
        );
      } finally {
        opt.dispose();
        tf.dispose([...Object.values(p), x, y]);
      }
    },
  };
}

/** Initial weights drawn once (descent's initializers on 'js') and the float64 loss at them. */
async function initialWeights(w: Workload): Promise<{ init: Params; refLoss: number }> {
  await d.setBackend('js');
  const model = w.model();
  const init: Params = {};
  for (const [name, p] of model.namedParameters()) init[name] = Float32Array.from(p.dataSync());
  d.dispose(model.parameters());
  await d.setBackend('js64');
  const m64 = w.model();
  for (const [name, p] of m64.namedParameters()) {
    const v = d.tensor(init[name], p.shape);
    d.assign(p, v);
    v.dispose();
  }
  const data = w.data();
  const x = d.tensor(data.x, data.xShape);
  const y = d.tensor(data.y, data.yShape);
  const refLoss = d.tidy(() => w.loss(m64.forward(x), y).item());
  d.dispose(m64.parameters(), x, y);
  await d.setBackend('js');
  return { init, refLoss };
}

export async function runTraining(o: {
  quick: boolean;
  progress: Progress;
  webgpu: boolean;
  only?: string[];
}): Promise<TrainResult[]> {
  const loadTf = loadNodeTf;
  const impls: TrainImpl[] = [
    ...(await nodeDescentBackends({ webgpu: o.webgpu })).map((b) =>
      descentTrainImpl(b.id, b.backendName, b.sync),
    ),
    tfjsTrainImpl('tfjs-cpu', 'cpu', loadTf),
    tfjsTrainImpl('tfjs-wasm-1t', 'wasm', loadTf),
  ].filter((i) => !o.only || o.only.some((x) => i.id.startsWith(x)));
  const ws = workloads(o.quick);
  o.progress.grow(ws.length * impls.length);
  const results: TrainResult[] = [];
  for (const w of ws) {
    const { init, refLoss } = await initialWeights(w);
    // Normwise bound for a scalar at the end of a chain (see cases.ts): 4·γ(K_path) + T.
    const tau = 4 * gamma(w.kPath) + TRANSCENDENTAL_ULP * U32;
    for (const impl of impls) {
      o.progress.status(`train ${w.id} · ${impl.id}`);
      let r: TrainResult;
      try {
        r = await impl.run(w, init, o.quick ? 5 : 10, o.quick ? 5000 : 20000);
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0];
        r = {
          workload: w.id,
          impl: impl.id,
          batch: w.batch,
          status: /not registered for backend/.test(msg) ? 'skipped' : 'error',
          reason: msg,
        };
      }
      r.firstLossRef = refLoss;
      if (r.firstLoss !== undefined && !(Math.abs(r.firstLoss - refLoss) <= tau * Math.abs(refLoss))) {
        r.status = 'wrong';
        r.reason = `first loss ${r.firstLoss} vs float64 ${refLoss} (bound ${(tau * Math.abs(refLoss)).toExponential(2)})`;
      }
      results.push(r);
      o.progress.tick(
        `train ${w.id} · ${impl.id}: ${r.status === 'ok' ? `${r.samplesPerSec!.toFixed(0)} samples/s` : r.status}`,
      );
      if (r.status === 'error' || r.status === 'wrong')
        o.progress.log(`  train ${w.id} on ${impl.id}: ${r.status} — ${r.reason}`);
    }
  }
  return results;
}

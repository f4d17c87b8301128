import {
  add,
  assign,
  avgPool2d,
  batchNorm,
  batchNormTraining,
  type Conv2dOptions,
  conv2d,
  DescentError,
  dropout,
  full,
  gather,
  globalAvgPool,
  layerNorm,
  matmul,
  maxPool2d,
  mul,
  noGrad,
  type Pool2dOptions,
  reshape,
  rmsNorm,
  type Tensor,
  tensor,
  zeros,
} from '@descent/core';
import { type ActivationName, activation } from './activations.js';
import { glorotUniform, type Initializer, kaimingUniform, normal } from './init.js';
import { Module } from './module.js';

const shapeStr = (t: Tensor) => `[${t.shape.join(', ')}]`;

function lastAxis(op: string, x: Tensor, expected: number): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== expected)
    throw new DescentError(op, `expected input with last axis ${expected}, got ${shapeStr(x)}`);
}

export interface LinearOptions {
  bias?: boolean;
  /** Seed of the weight draw (default: the next stream of the global seed). */
  seed?: number;
  /** Weight initializer (default Glorot uniform); biases start at zero. */
  init?: Initializer;
}

/** y = x·W + b with W stored [in, out] (descent's layout; PyTorch's `nn.Linear` stores [out, in]). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    const init = opts.init ?? glorotUniform;
    this.weight = this.param('weight', init([inFeatures, outFeatures], { seed: opts.seed }), {
      layout: 'linear',
    });
    this.bias = opts.bias === false ? null : this.param('bias', zeros([outFeatures]));
  }
  forward(x: Tensor): Tensor {
    lastAxis('Linear', x, this.inFeatures);
    const y = matmul(x, this.weight);
    return this.bias ? add(y, this.bias) : y;
  }
}

/** A lookup table [count, dim]: i32 indices of any shape → [...indices.shape, dim]. */
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly count: number,
    readonly dim: number,
    opts: { seed?: number; std?: number } = {},
  ) {
    super();
    this.weight = this.param('weight', normal([count, dim], { seed: opts.seed, std: opts.std ?? 1 }));
  }
  forward(indices: Tensor): Tensor {
    if (indices.dtype !== 'i32')
      throw new DescentError('Embedding', `indices must be i32, got ${indices.dtype} ${shapeStr(indices)}`);
    return gather(this.weight, indices, 0);
  }
}

/** Inverted dropout in training mode, identity in eval mode; masks come from the seeded generator. */
export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new DescentError('Dropout', `p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training });
  }
}

/** Layer normalization over the last axis, with learnable scale `weight` and shift `bias`. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', full([dim], 1));
    this.bias = this.param('bias', zeros([dim]));
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** RMS normalization over the last axis (no centering, no shift), learnable scale `weight`. */
export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = this.param('weight', full([dim], 1));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export interface Conv2dLayerOptions extends Conv2dOptions {
  bias?: boolean;
  seed?: number;
  /** Filter initializer (default He/Kaiming uniform, fan-in, ReLU gain). */
  init?: Initializer;
}

/**
 * 2-D convolution on NHWC input with a [kh, kw, in/groups, out] filter (PyTorch: NCHW input and an
 * [out, in/groups, kh, kw] filter; checkpoints convert between the two layouts).
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  private readonly opts: Conv2dOptions;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | [number, number],
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = opts.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0)
      throw new DescentError(
        'Conv2d',
        `groups=${groups} must divide in channels ${inChannels} and out channels ${outChannels}`,
      );
    const init = opts.init ?? kaimingUniform;
    this.weight = this.param(
      'weight',
      init([kh, kw, inChannels / groups, outChannels], { seed: opts.seed }),
      {
        layout: 'conv2d',
      },
    );
    this.bias = opts.bias === false ? null : this.param('bias', zeros([outChannels]));
    this.opts = { strides: opts.strides, padding: opts.padding, dilations: opts.dilations, groups };
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels)
      throw new DescentError(
        'Conv2d',
        `expected NHWC input with ${this.inChannels} channels, got ${shapeStr(x)}`,
      );
    const y = conv2d(x, this.weight, this.opts);
    return this.bias ? add(y, this.bias) : y;
  }
}

/**
 * Batch normalization over N, H, W for each channel (NHWC, channels last; works on [N, C] too).
 * Training mode normalizes with the batch statistics and updates the running ones:
 * running ← (1 − momentum)·running + momentum·batch, with the unbiased batch variance n/(n−1)·σ²
 * (as PyTorch does); eval mode normalizes with the running statistics.
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  constructor(
    readonly channels: number,
    readonly opts: { momentum?: number; eps?: number } = {},
  ) {
    super();
    const m = opts.momentum ?? 0.1;
    if (!(m >= 0 && m <= 1)) throw new DescentError('BatchNorm2d', `momentum must be in [0, 1], got ${m}`);
    this.weight = this.param('weight', full([channels], 1));
    this.bias = this.param('bias', zeros([channels]));
    this.runningMean = this.buffer('runningMean', zeros([channels]), { name: 'running_mean' });
    this.runningVar = this.buffer('runningVar', full([channels], 1), { name: 'running_var' });
    this.numBatchesTracked = this.buffer('numBatchesTracked', tensor([0], [], { dtype: 'i32' }), {
      name: 'num_batches_tracked',
    });
  }
  forward(x: Tensor): Tensor {
    lastAxis('BatchNorm2d', x, this.channels);
    const eps = this.opts.eps ?? 1e-5;
    if (!this.training)
      return batchNorm(x, this.runningMean, this.runningVar, { gamma: this.weight, beta: this.bias, eps });
    const n = x.size / this.channels;
    if (n < 2)
      throw new DescentError(
        'BatchNorm2d',
        `training mode needs more than one value per channel, got input ${shapeStr(x)}`,
      );
    const { y, mean, variance } = batchNormTraining(x, { gamma: this.weight, beta: this.bias, eps });
    const momentum = this.opts.momentum ?? 0.1;
    noGrad(() => {
      const update = (running: Tensor, batch: Tensor, scale: number) => {
        const next = add(mul(running, 1 - momentum), mul(batch, momentum * scale));
        assign(running, next);
        next.dispose();
      };
      update(this.runningMean, mean, 1);
      update(this.runningVar, variance, n / (n - 1));
      const count = add(this.numBatchesTracked, 1);
      assign(this.numBatchesTracked, count);
      count.dispose();
    });
    return y;
  }
}

/** Max over k×k windows (stride k unless given), NHWC. */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly opts: Pool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.opts);
  }
}

/** Mean over k×k windows (stride k unless given; padding excluded from the count), NHWC. */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly opts: Pool2dOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.opts);
  }
}

/** [N, H, W, C] → [N, C], the mean over H and W. */
export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool(x);
  }
}

/** [N, ...] → [N, rest]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], -1]);
  }
}

/** A multilayer perceptron: Linear layers with an activation (default tanh) between them. */
export class MLP extends Module {
  readonly layers: Linear[];
  private readonly act: (x: Tensor) => Tensor;
  constructor(sizes: readonly number[], opts: { seed?: number; activation?: ActivationName } = {}) {
    super();
    if (sizes.length < 2)
      throw new DescentError('MLP', `needs at least input and output sizes, got [${sizes.join(', ')}]`);
    this.act = activation(opts.activation ?? 'tanh');
    this.layers = sizes
      .slice(1)
      .map(
        (out, i) => new Linear(sizes[i], out, { seed: opts.seed === undefined ? undefined : opts.seed + i }),
      );
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, layer, i) => {
      const y = layer.forward(h);
      return i < this.layers.length - 1 ? this.act(y) : y;
    }, x);
  }
}

/**
 * Weight initializers, all drawn from core's seeded counter-based generator (`rand`/`randn`): with
 * `setSeed(s)` or an explicit `seed` a model starts from the same weights on every backend.
 *
 * Fans follow descent's layouts: a Linear weight [in, out] has fanIn = in, fanOut = out; a Conv2d
 * filter [kh, kw, in, out] has fanIn = kh·kw·in, fanOut = kh·kw·out. Other shapes: the last axis is
 * fan-out, the product of the rest fan-in.
 */
import { DescentError, full, type RandomOptions, rand, randn, type Tensor } from '@descent/core';

export type Nonlinearity = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu' | 'gelu' | 'silu';

/**
 * The gain that keeps activations' variance steady through a layer followed by this nonlinearity
 * (PyTorch's `calculate_gain`): √2 for ReLU (it zeroes half the signal), 5/3 for tanh, √(2/(1+a²))
 * for leaky ReLU with slope a, 3/4 for SELU, 1 for linear and sigmoid. GELU and SiLU behave like a
 * smoothed ReLU and use ReLU's gain, the common practice.
 */
export function gain(nonlinearity: Nonlinearity = 'linear', negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
    case 'gelu':
    case 'silu':
      return Math.SQRT2;
    case 'leakyRelu':
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    case 'selu':
      return 3 / 4;
    default:
      throw new DescentError('gain', `unknown nonlinearity '${nonlinearity as string}'`);
  }
}

/** [fanIn, fanOut] of a weight in descent's layout (see the file comment). */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2)
    throw new DescentError('fans', `fan-in/fan-out need a weight of rank >= 2, got [${shape.join(', ')}]`);
  if (shape.length === 4) {
    const receptive = shape[0] * shape[1];
    return [receptive * shape[2], receptive * shape[3]];
  }
  const fanOut = shape[shape.length - 1];
  return [shape.slice(0, -1).reduce((a, b) => a * b, 1), fanOut];
}

export interface InitOptions extends RandomOptions {
  /** Multiplies the standard deviation (default 1 for Glorot, the nonlinearity's gain for He). */
  gain?: number;
}

export interface KaimingOptions extends RandomOptions {
  /** 'fanIn' keeps forward activations' variance, 'fanOut' keeps backward gradients'. Default fanIn. */
  mode?: 'fanIn' | 'fanOut';
  /** Default 'relu' (He et al. 2015). */
  nonlinearity?: Nonlinearity;
  /** Slope for 'leakyRelu'. */
  negativeSlope?: number;
}

// Every initializer is "a distribution with a standard deviation": uniform U(−a, a) has std a/√3.
function uniformWithStd(shape: readonly number[], std: number, opts: RandomOptions): Tensor {
  const a = Math.sqrt(3) * std;
  return rand(shape, { ...opts, low: -a, high: a });
}

const glorotStd = (shape: readonly number[], g = 1) => {
  const [fi, fo] = fans(shape);
  return g * Math.sqrt(2 / (fi + fo));
};

const kaimingStd = (shape: readonly number[], opts: KaimingOptions) => {
  const [fi, fo] = fans(shape);
  const fan = (opts.mode ?? 'fanIn') === 'fanIn' ? fi : fo;
  return gain(opts.nonlinearity ?? 'relu', opts.negativeSlope) / Math.sqrt(fan);
};

/** Glorot/Xavier uniform: U(−a, a), a = gain·√(6 / (fanIn + fanOut)). */
export const glorotUniform = (shape: readonly number[], opts: InitOptions = {}): Tensor =>
  uniformWithStd(shape, glorotStd(shape, opts.gain), opts);

/** Glorot/Xavier normal: N(0, gain²·2 / (fanIn + fanOut)). */
export const glorotNormal = (shape: readonly number[], opts: InitOptions = {}): Tensor =>
  randn(shape, { ...opts, std: glorotStd(shape, opts.gain) });

/** He/Kaiming uniform: U(−a, a), a = gain·√(3 / fan). */
export const kaimingUniform = (shape: readonly number[], opts: KaimingOptions = {}): Tensor =>
  uniformWithStd(shape, kaimingStd(shape, opts), opts);

/** He/Kaiming normal: N(0, gain² / fan). */
export const kaimingNormal = (shape: readonly number[], opts: KaimingOptions = {}): Tensor =>
  randn(shape, { ...opts, std: kaimingStd(shape, opts) });

/** N(mean, std²) (GPT-2 uses std 0.02 for embeddings and projections). */
export const normal = (
  shape: readonly number[],
  opts: RandomOptions & { mean?: number; std?: number } = {},
): Tensor => randn(shape, opts);

export const zerosInit = (shape: readonly number[], opts: RandomOptions = {}): Tensor =>
  full(shape, 0, { backend: opts.backend });
export const onesInit = (shape: readonly number[], opts: RandomOptions = {}): Tensor =>
  full(shape, 1, { backend: opts.backend });

/** Any of the above by name, for layer options (`init: 'kaimingNormal'`). */
export type Initializer = (shape: readonly number[], opts?: RandomOptions) => Tensor;
export const initializers = {
  glorotUniform,
  glorotNormal,
  kaimingUniform,
  kaimingNormal,
  normal,
  zeros: zerosInit,
  ones: onesInit,
} satisfies Record<string, Initializer>;

/**
 * Transformer feed-forward blocks.
 *
 * The gated family (Shazeer 2020, "GLU Variants Improve Transformer") is ONE class with the gate's
 * activation as a parameter:  FFN_act(x) = (act(x·W) ⊗ x·V)·W2, bias-free by default.
 *
 *   variant   act         | variant   act
 *   GLU       sigmoid     | GEGLU     GELU
 *   Bilinear  identity    | SwiGLU    Swish_1 (SiLU)
 *   ReGLU     ReLU        |
 *
 * The classic FFN is max(0, x·W1 + b1)·W2 + b2 (any activation may replace the ReLU).
 *
 * Parameter counts: the classic FFN has 2·d·d_ff weights, a gated one 3·d·d_hidden. The paper's
 * convention — offered by `gatedHidden(dFF)` — shrinks the gated hidden width to ⌈2/3·d_ff⌉
 * (optionally rounded up to a multiple, as LLaMA rounds to 256), so both cost about the same.
 */
import { DescentError, identity, mul, relu, type Tensor } from '@descent/core';
import { type ActivationName, activation, gelu, sigmoid, silu } from './activations.js';
import { Linear } from './layers.js';
import { Module } from './module.js';

export type GatedVariant = 'glu' | 'bilinear' | 'reglu' | 'geglu' | 'swiglu';

/** The gate activation of each named GLU variant. */
export const GATES: Record<GatedVariant, (x: Tensor) => Tensor> = {
  glu: sigmoid,
  bilinear: identity,
  reglu: relu,
  geglu: (x) => gelu(x),
  swiglu: (x) => silu(x, 1),
};

/** Hidden width of a gated FFN with the parameter count of a classic FFN of width dFF: ⌈2/3·dFF⌉. */
export function gatedHidden(dFF: number, opts: { multipleOf?: number } = {}): number {
  const m = opts.multipleOf ?? 1;
  const h = Math.ceil((2 * dFF) / 3);
  return Math.ceil(h / m) * m;
}

export interface GatedFFNOptions {
  /** The gate: a variant name or any activation function. Default 'swiglu'. */
  gate?: GatedVariant | ((x: Tensor) => Tensor);
  bias?: boolean;
  seed?: number;
}

/** (act(x·W) ⊗ x·V)·W2: `gate.weight` = W, `up.weight` = V, `down.weight` = W2, all [in, out]. */
export class GatedFFN extends Module {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(
    readonly dModel: number,
    readonly dHidden: number,
    opts: GatedFFNOptions = {},
  ) {
    super();
    const g = opts.gate ?? 'swiglu';
    if (typeof g === 'string' && !(g in GATES))
      throw new DescentError(
        'GatedFFN',
        `unknown gate '${g}' (known: ${Object.keys(GATES).join(', ')}, or pass a function)`,
      );
    this.act = typeof g === 'string' ? GATES[g] : g;
    const bias = opts.bias ?? false;
    const seed = (k: number) => (opts.seed === undefined ? undefined : opts.seed + k);
    this.gate = new Linear(dModel, dHidden, { bias, seed: seed(0) });
    this.up = new Linear(dModel, dHidden, { bias, seed: seed(1) });
    this.down = new Linear(dHidden, dModel, { bias, seed: seed(2) });
  }
  forward(x: Tensor): Tensor {
    return this.down.forward(mul(this.act(this.gate.forward(x)), this.up.forward(x)));
  }
}

/** The classic FFN act(x·W1 + b1)·W2 + b2 (ReLU by default): `fc1`, `fc2`. */
export class FFN extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(
    readonly dModel: number,
    readonly dFF: number,
    opts: { activation?: ActivationName; bias?: boolean; seed?: number } = {},
  ) {
    super();
    this.act = activation(opts.activation ?? 'relu');
    const bias = opts.bias ?? true;
    this.fc1 = new Linear(dModel, dFF, { bias, seed: opts.seed });
    this.fc2 = new Linear(dFF, dModel, { bias, seed: opts.seed === undefined ? undefined : opts.seed + 1 });
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act(this.fc1.forward(x)));
  }
}

/**
 * An FFN by name: 'relu' (classic, width dFF) or a gated variant — whose hidden width is
 * `gatedHidden(dFF)` when `matchParams` is set (the 2/3 convention), dFF otherwise.
 */
export function makeFFN(
  kind: 'relu' | GatedVariant,
  dModel: number,
  dFF: number,
  opts: { matchParams?: boolean; seed?: number } = {},
): Module {
  if (kind === 'relu') return new FFN(dModel, dFF, { seed: opts.seed });
  return new GatedFFN(dModel, opts.matchParams ? gatedHidden(dFF) : dFF, { gate: kind, seed: opts.seed });
}

/**
 * Activations as functions (re-exported core ops, plus `identity`) and as modules, and one lookup by
 * name used by the FFN family, MLP and the CLI.
 */
import {
  DescentError,
  full,
  gelu,
  identity,
  jumpRelu,
  relu,
  sigmoid,
  silu,
  softplus,
  type Tensor,
  tanh,
} from '@descent/core';
import { Module } from './module.js';

export { gelu, jumpRelu, relu, sigmoid, silu, softplus, tanh };
/** Swish_β(x) = x·σ(βx); β = 1 is SiLU. */
export const swish = (x: Tensor, beta = 1): Tensor => silu(x, beta);

/** Activation names accepted by `activation(name)`. */
export type ActivationName =
  | 'identity'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'silu'
  | 'swish'
  | 'gelu'
  | 'geluTanh'
  | 'softplus';

const BY_NAME: Record<ActivationName, (x: Tensor) => Tensor> = {
  identity,
  relu,
  sigmoid,
  tanh,
  silu: (x) => silu(x),
  swish: (x) => silu(x),
  gelu: (x) => gelu(x),
  geluTanh: (x) => gelu(x, 'tanh'),
  softplus,
};

/** The activation function called `name` (an error lists the known names). */
export function activation(name: ActivationName): (x: Tensor) => Tensor {
  const f = BY_NAME[name];
  if (!f)
    throw new DescentError(
      'activation',
      `unknown activation '${name}' (known: ${Object.keys(BY_NAME).join(', ')})`,
    );
  return f;
}

/** A parameter-free activation module; the subclasses below only fix the function. */
class Activation extends Module {
  constructor(private readonly fn: (x: Tensor) => Tensor) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export class ReLU extends Activation {
  constructor() {
    super(relu);
  }
}
export class Sigmoid extends Activation {
  constructor() {
    super(sigmoid);
  }
}
export class Tanh extends Activation {
  constructor() {
    super(tanh);
  }
}
export class Softplus extends Activation {
  constructor() {
    super(softplus);
  }
}
/** Swish_β(x) = x·σ(βx) with a fixed β (default 1: SiLU). */
export class Swish extends Activation {
  constructor(readonly beta = 1) {
    super((x) => silu(x, beta));
  }
}
export class SiLU extends Swish {
  constructor() {
    super(1);
  }
}
/** GELU x·Φ(x), exact (erf) or with the tanh approximation. */
export class GELU extends Activation {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super((x) => gelu(x, approximate));
  }
}

/**
 * JumpReLU(z) = z·H(z − κ). With `learnable`, κ is a per-feature parameter (named `threshold`)
 * trained through core's straight-through estimate; otherwise a fixed number.
 */
export class JumpReLU extends Module {
  readonly threshold: Tensor | null;
  private readonly bandwidth: number;
  constructor(
    readonly kappa: number,
    opts: { features?: number; learnable?: boolean; bandwidth?: number } = {},
  ) {
    super();
    this.bandwidth = opts.bandwidth ?? 0.001;
    if (opts.learnable) {
      if (!opts.features)
        throw new DescentError('JumpReLU', 'a learnable threshold needs the number of features');
      this.threshold = this.param('threshold', full([opts.features], kappa));
    } else this.threshold = null;
  }
  forward(x: Tensor): Tensor {
    return jumpRelu(x, this.threshold ?? this.kappa, { bandwidth: this.bandwidth });
  }
}

import { add, assign, mul, sign, sub, type Tensor } from '@descent/core';
import { checkBetas, checkNonNegative, Optimizer, type ParamsInput, type StateSpec } from './optimizer.js';

export interface LionOptions {
  lr: number;
  /** (β1, β2): β1 interpolates the update direction, β2 is the momentum's decay. */
  betas: [number, number];
  /** Decoupled weight decay λ: p ← p·(1 − lr·λ) before the update. */
  weightDecay: number;
}

/**
 * Lion — EvoLved Sign Momentum (Chen et al. 2023, "Symbolic Discovery of Optimization
 * Algorithms", Algorithm 2). Per parameter, with momentum m (zero at start):
 *
 *     p ← p·(1 − lr·λ)
 *     p ← p − lr·sign(β1·m + (1 − β1)·g)
 *     m ← β2·m + (1 − β2)·g
 *
 * Every coordinate moves by exactly ±lr (or 0), so Lion wants a learning rate 3–10× smaller than
 * AdamW's and a correspondingly larger λ. Defaults are the paper's: lr 1e-4, betas (0.9, 0.99).
 */
export class Lion extends Optimizer<LionOptions> {
  constructor(params: ParamsInput<LionOptions>, options: Partial<LionOptions> = {}) {
    super(params, { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 0, ...options });
  }

  protected override validate(o: LionOptions): void {
    super.validate(o);
    checkBetas('Lion', o.betas);
    checkNonNegative('Lion', 'weightDecay', o.weightDecay);
  }

  protected override stateSpec(p: Tensor): Record<string, StateSpec> {
    return { expAvg: { shape: p.shape } };
  }

  protected update(p: Tensor, g: Tensor, o: LionOptions, state: Record<string, Tensor>): void {
    const [b1, b2] = o.betas;
    const m = state.expAvg;
    const decayed = o.weightDecay !== 0 ? mul(p, 1 - o.lr * o.weightDecay) : p;
    const direction = sign(add(mul(m, b1), mul(g, 1 - b1)));
    assign(p, sub(decayed, mul(direction, o.lr)));
    this.setState(state, 'expAvg', add(mul(m, b2), mul(g, 1 - b2)));
  }
}

import { LionUpdate, type Tensor } from '@descent/core';
import { checkBetas, checkNonNegative, Optimizer, type ParamsInput, type StateSpec } from './optimizer.js';

export interface LionOptions {
  lr: number;
  /** (β1, β2): β1 interpolates the update direction, β2 is the momentum's decay. */
  betas: [number, number];
  /** Decoupled weight decay λ: p ← p·(1 − lr·λ) before the update. */
  weightDecay: number;
  /** Maximize the objective (the gradient's sign is flipped). */
  maximize: boolean;
  /** Fused kernel: true forces it, false uses core ops, undefined picks it where the backend has it. */
  fused?: boolean;
  /** Multi-tensor apply: the group's parameters and state live in flat buffers, one launch per step. */
  flat?: boolean;
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
 * One pass of the fused `lionUpdate` kernel where the backend has it; `flat: true` updates a whole
 * group with one launch (multi-tensor apply).
 */
export class Lion extends Optimizer<LionOptions> {
  constructor(params: ParamsInput<LionOptions>, options: Partial<LionOptions> = {}) {
    super(params, { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 0, maximize: false, ...options });
  }

  protected override validate(o: LionOptions): void {
    super.validate(o);
    checkBetas('Lion', o.betas);
    checkNonNegative('Lion', 'weightDecay', o.weightDecay);
  }

  /** One elementwise fused op per update, so a whole group can be one flat buffer. */
  protected override flatCapable(): boolean {
    return true;
  }

  protected override stateSpec(p: Tensor): Record<string, StateSpec> {
    return { expAvg: { shape: p.shape } };
  }

  protected update(p: Tensor, g: Tensor, o: LionOptions, state: Record<string, Tensor>): void {
    const [b1, b2] = o.betas;
    const attrs = {
      lr: o.lr,
      beta1: b1,
      oneMinusBeta1: 1 - b1,
      beta2: b2,
      oneMinusBeta2: 1 - b2,
      decay: 1 - o.lr * o.weightDecay,
      maximize: o.maximize,
    };
    this.runUpdate(LionUpdate, p, g, state, attrs, o.fused);
  }
}

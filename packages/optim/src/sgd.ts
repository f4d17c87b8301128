import { add, assign, DescentError, mul, sub, type Tensor } from '@descent/core';
import { checkNonNegative, Optimizer, type ParamsInput } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

/**
 * Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD): L2 weight decay added to
 * the gradient, momentum buffer b ← μ·b + (1 − τ)·g (b = g on the first step), Nesterov uses g + μ·b.
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...options });
  }

  protected override validate(o: SGDOptions): void {
    super.validate(o);
    checkNonNegative('SGD', 'momentum', o.momentum);
    checkNonNegative('SGD', 'weightDecay', o.weightDecay);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new DescentError('SGD', 'Nesterov momentum needs momentum > 0 and dampening = 0');
    }
  }

  protected update(p: Tensor, g: Tensor, o: SGDOptions, state: Record<string, Tensor>): void {
    let d = o.weightDecay !== 0 ? add(g, mul(p, o.weightDecay)) : g;
    if (o.momentum !== 0) {
      const prev = state.momentum;
      const buf = prev ? add(mul(prev, o.momentum), mul(d, 1 - o.dampening)) : mul(d, 1);
      this.setState(state, 'momentum', buf);
      d = o.nesterov ? add(d, mul(buf, o.momentum)) : buf;
    }
    assign(p, sub(p, mul(d, o.lr)));
  }
}

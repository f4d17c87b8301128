import {
  add,
  assign,
  clamp,
  DescentError,
  div,
  maximum,
  mul,
  noGrad,
  sub,
  type Tensor,
  tidy,
} from '@descent/core';
import { gnbDiagonal, hutchinsonDiagonal } from './hessian.js';
import {
  checkBetas,
  checkNonNegative,
  checkPositive,
  Optimizer,
  type ParamsInput,
  type StateSpec,
} from './optimizer.js';

export interface SophiaOptions {
  lr: number;
  /** (β1, β2): decay of the gradient momentum and of the Hessian estimate. */
  betas: [number, number];
  /** γ: the update is m/max(γ·h, ε), clipped to [−1, 1] per coordinate. */
  rho: number;
  /** Decoupled weight decay λ: p ← p·(1 − lr·λ). */
  weightDecay: number;
  eps: number;
}

export interface SophiaConfig extends Partial<SophiaOptions> {
  /** How `updateHessian(closure)` estimates diag(H): 'gnb' (closure returns logits) or 'hutchinson' (closure returns the loss). */
  estimator?: 'gnb' | 'hutchinson';
  /** k: the Hessian estimate is due every k optimizer steps (default 10). */
  hessianInterval?: number;
  /** Hutchinson's probe distribution (default 'rademacher'; the paper uses 'gaussian'). */
  probe?: 'rademacher' | 'gaussian';
}

/**
 * Sophia (Liu et al. 2023, "Sophia: A Scalable Stochastic Second-order Optimizer", Algorithm 3):
 *
 *     m ← β1·m + (1 − β1)·g                         (every step)
 *     h ← β2·h + (1 − β2)·ĥ                         (every k steps, from an estimator)
 *     p ← p·(1 − lr·λ)
 *     p ← p − lr·clip(m / max(γ·h, ε), 1)            clip(z, 1) = max(min(z, 1), −1)
 *
 * h starts at 0, so until the first estimate the step is lr·sign(m). Defaults follow the authors'
 * SophiaG code: lr 1e-4, betas (0.965, 0.99), γ (rho) 0.04, λ 0.1; ε = 1e-12.
 *
 * The Hessian diagonal comes from the training loop, which owns the model and the data:
 *
 *     opt.step(); opt.zeroGrad();
 *     opt.maybeUpdateHessian(() => model.forward(xb));  // GNB: logits; every k-th step
 *
 * `updateHessian(closure)` always refreshes; `updateHessianWith(estimates)` takes ready-made
 * estimates (one per parameter, in parameter order).
 */
export class Sophia extends Optimizer<SophiaOptions> {
  readonly estimator: 'gnb' | 'hutchinson';
  readonly hessianInterval: number;
  readonly probe: 'rademacher' | 'gaussian';
  /** Number of Hessian refreshes so far. */
  hessianUpdates = 0;

  constructor(params: ParamsInput<SophiaOptions>, config: SophiaConfig = {}) {
    const { estimator = 'gnb', hessianInterval = 10, probe = 'rademacher', ...options } = config;
    super(params, { lr: 1e-4, betas: [0.965, 0.99], rho: 0.04, weightDecay: 0.1, eps: 1e-12, ...options });
    if (estimator !== 'gnb' && estimator !== 'hutchinson')
      throw new DescentError('Sophia', `estimator must be 'gnb' or 'hutchinson', got '${estimator}'`);
    if (!Number.isInteger(hessianInterval) || hessianInterval < 1)
      throw new DescentError('Sophia', `hessianInterval must be a positive integer, got ${hessianInterval}`);
    this.estimator = estimator;
    this.hessianInterval = hessianInterval;
    if (probe !== 'rademacher' && probe !== 'gaussian')
      throw new DescentError('Sophia', `probe must be 'rademacher' or 'gaussian', got '${probe}'`);
    this.probe = probe;
  }

  protected override validate(o: SophiaOptions): void {
    super.validate(o);
    checkBetas('Sophia', o.betas);
    checkPositive('Sophia', 'rho', o.rho);
    checkNonNegative('Sophia', 'weightDecay', o.weightDecay);
    checkPositive('Sophia', 'eps', o.eps);
  }

  protected override stateSpec(p: Tensor): Record<string, StateSpec> {
    return { expAvg: { shape: p.shape }, hessian: { shape: p.shape } };
  }

  /** The parameters in order (group by group). */
  get params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /**
   * True when a Hessian refresh is due: before the first step and after every k-th. Counted in the
   * first parameter's steps (part of the state dict), so a resumed run refreshes on schedule.
   */
  get hessianDue(): boolean {
    const first = this.params[0];
    return (first ? this.stepOf(first) : 0) % this.hessianInterval === 0;
  }

  /** Refreshes the Hessian estimate if it is due; returns whether it did. */
  maybeUpdateHessian(closure: () => Tensor): boolean {
    if (!this.hessianDue) return false;
    this.updateHessian(closure);
    return true;
  }

  /**
   * Estimates diag(H) with the configured estimator — `closure` returns the logits [..., C] of a
   * batch for 'gnb' (labels are sampled from them), the scalar loss for 'hutchinson' — and folds
   * it into h. Must run with gradient recording on; parameters' `.grad` are left untouched.
   */
  updateHessian(closure: () => Tensor): void {
    const hs =
      this.estimator === 'gnb'
        ? gnbDiagonal(this.params, closure)
        : hutchinsonDiagonal(this.params, closure, { distribution: this.probe });
    try {
      this.updateHessianWith(hs);
    } finally {
      for (const h of hs) h?.dispose();
    }
  }

  /** h ← β2·h + (1 − β2)·ĥ for each parameter with an estimate (null entries keep their h). */
  updateHessianWith(estimates: readonly (Tensor | null)[]): void {
    const params = this.params;
    if (estimates.length !== params.length)
      throw new DescentError(
        'Sophia.updateHessianWith',
        `got ${estimates.length} estimates for ${params.length} parameters`,
      );
    params.forEach((p, i) => {
      const e = estimates[i];
      if (e && (e.size !== p.size || e.shape.some((d, k) => d !== p.shape[k])))
        throw new DescentError(
          'Sophia.updateHessianWith',
          `estimate ${i} has shape [${e.shape.join(', ')}], parameter has [${p.shape.join(', ')}]`,
        );
    });
    noGrad(() =>
      tidy(() => {
        for (const group of this.groups) {
          const b2 = group.options.betas[1];
          for (const p of group.params) {
            const e = estimates[params.indexOf(p)];
            if (!e) continue;
            const s = this.stateOf(p, group.options).buffers;
            this.setState(s, 'hessian', add(mul(s.hessian, b2), mul(e, 1 - b2)));
          }
        }
      }),
    );
    this.hessianUpdates++;
  }

  protected update(p: Tensor, g: Tensor, o: SophiaOptions, state: Record<string, Tensor>): void {
    const b1 = o.betas[0];
    const m = this.setState(state, 'expAvg', add(mul(state.expAvg, b1), mul(g, 1 - b1)));
    const decayed = o.weightDecay !== 0 ? mul(p, 1 - o.lr * o.weightDecay) : p;
    const ratio = clamp(div(m, maximum(mul(state.hessian, o.rho), o.eps)), -1, 1);
    assign(p, sub(decayed, mul(ratio, o.lr)));
  }
}

import {
  abs,
  add,
  assign,
  DescentError,
  detach,
  div,
  mul,
  noGrad,
  reshape,
  sqrt,
  square,
  stack,
  sum,
  type Tensor,
  tidy,
} from '@descent/core';
import type { OptimizerStateDict } from './optimizer.js';

/** What SAM needs of the optimizer it wraps (every `Optimizer` qualifies). */
export interface BaseOptimizer {
  readonly groups: { params: Tensor[]; options: { lr: number } }[];
  step(): unknown;
  zeroGrad(): void;
  stateDict(): OptimizerStateDict;
  loadStateDict(dict: OptimizerStateDict): void;
  dispose(): void;
}

export interface SAMOptions {
  /** ρ: radius of the neighbourhood the sharpness is measured over (default 0.05). */
  rho: number;
  /** ASAM (Kwon et al. 2021): scale the perturbation by |w| elementwise (default false). */
  adaptive: boolean;
  /** Added to the gradient norm in the perturbation's denominator (default 1e-12). */
  eps: number;
}

/**
 * Sharpness-Aware Minimization (Foret et al. 2021) around any optimizer. Each step takes the
 * gradient at the worst nearby point w + ε(w) and applies it at w:
 *
 *     ε = ρ·T²·g / ‖T·g‖₂   (T = |w| for ASAM, else 1; the norm is over all parameters together)
 *     g_SAM = ∇L(w + ε);    w ← base step from w with g_SAM
 *
 *     const sam = new SAM(new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), { rho: 0.05 });
 *     lossOf(batch).backward();                              // gradient at w
 *     sam.step(() => lossOf(batch).backward());              // ascend, re-evaluate, restore, step
 *     sam.zeroGrad();
 *
 * `firstStep()` / `secondStep()` expose the two halves. The parameters are restored exactly (the
 * original storage is kept while perturbed, so no rounding from subtracting ε back). `groups`,
 * `stateDict()` and `loadStateDict()` are the base optimizer's, so schedules and checkpoints work.
 */
export class SAM {
  readonly options: SAMOptions;
  /** The unperturbed parameters while between firstStep and secondStep. */
  private saved: Map<Tensor, Tensor> | null = null;

  constructor(
    readonly base: BaseOptimizer,
    options: Partial<SAMOptions> = {},
  ) {
    this.options = { rho: 0.05, adaptive: false, eps: 1e-12, ...options };
    const { rho, eps, adaptive } = this.options;
    if (!(rho >= 0 && Number.isFinite(rho)))
      throw new DescentError('SAM', `rho must be a finite number >= 0, got ${rho}`);
    if (!(eps >= 0)) throw new DescentError('SAM', `eps must be >= 0, got ${eps}`);
    if (typeof adaptive !== 'boolean')
      throw new DescentError('SAM', `adaptive must be a boolean, got ${adaptive}`);
  }

  get groups() {
    return this.base.groups;
  }

  private params(): Tensor[] {
    return this.base.groups.flatMap((g) => g.params).filter((p) => p.grad);
  }

  /** Moves every parameter with a gradient to w + ε(w) and clears the gradients. */
  firstStep(): void {
    if (this.saved)
      throw new DescentError(
        'SAM.firstStep',
        'the parameters are already perturbed; call secondStep() first',
      );
    const params = this.params();
    if (params.length === 0)
      throw new DescentError('SAM.firstStep', 'no parameter has a gradient: call backward() first');
    const { rho, adaptive, eps } = this.options;
    const saved = new Map<Tensor, Tensor>();
    noGrad(() =>
      tidy(() => {
        const scaled = params.map((p) => (adaptive ? mul(abs(p), p.grad!) : (p.grad as Tensor)));
        const norm = sqrt(sum(stack(scaled.map((s) => reshape(sum(square(s)), [1])))));
        const scale = div(rho, add(norm, eps));
        for (const p of params) {
          const e = mul(adaptive ? mul(square(p), p.grad!) : p.grad!, scale);
          saved.set(p, detach(p).keep()); // shares p's storage: the exact original values
          assign(p, add(p, e));
        }
      }),
    );
    this.saved = saved;
    this.base.zeroGrad();
  }

  /** Restores the parameters to w and runs the base optimizer's step with the current gradients. */
  secondStep(): void {
    const saved = this.saved;
    if (!saved) throw new DescentError('SAM.secondStep', 'call firstStep() first');
    noGrad(() => {
      for (const [p, w] of saved) {
        assign(p, w);
        w.dispose();
      }
    });
    this.saved = null;
    this.base.step();
  }

  /**
   * One SAM step: the gradients at w must be present; `closure` re-evaluates the loss at the
   * perturbed point and calls `backward()` (gradients are cleared before it runs). Returns what the
   * closure returns.
   */
  step<T>(closure: () => T): T {
    this.firstStep();
    let result: T;
    try {
      result = closure();
    } catch (e) {
      // Leave the parameters unperturbed and usable.
      noGrad(() => {
        for (const [p, w] of this.saved ?? []) {
          assign(p, w);
          w.dispose();
        }
      });
      this.saved = null;
      this.base.zeroGrad();
      throw e;
    }
    this.secondStep();
    return result;
  }

  zeroGrad(): void {
    this.base.zeroGrad();
  }

  stateDict(): OptimizerStateDict {
    return this.base.stateDict();
  }

  loadStateDict(dict: OptimizerStateDict): void {
    this.base.loadStateDict(dict);
  }

  dispose(): void {
    if (this.saved) for (const w of this.saved.values()) w.dispose();
    this.saved = null;
    this.base.dispose();
  }
}

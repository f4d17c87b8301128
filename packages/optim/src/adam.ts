import { AdamUpdate, type AdamUpdateAttrs, DescentError, type Tensor } from '@descent/core';
import { checkBetas, checkNonNegative, Optimizer, type ParamsInput, type StateSpec } from './optimizer.js';

/*
 * The Adam family — Adam, AdamW, AMSGrad, Adamax, NAdam, RAdam — shares one path: every member is
 * the `adamUpdate` op with per-step coefficients (see its rule in @descent/core/ops/optim.ts):
 *   d = ±g + λ·p (L2) · m ← β1·m + (1 − β1)·d · v ← β2·v + (1 − β2)·d²
 *   p ← decay·p − (momentCoef·m + gradCoef·d) / (√v̂·denomScale + eps)
 * A member only says how its coefficients depend on the step (`coefficients`).
 */

export interface AdamFamilyOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Decoupled weight decay p ← (1 − lr·λ)·p (Loshchilov & Hutter) instead of L2 (λ·p added to g). */
  decoupledWeightDecay: boolean;
  maximize: boolean;
  /** Fused kernel: true forces it, false uses core ops, undefined picks it where the backend has it. */
  fused?: boolean;
  /** Multi-tensor apply: keep the group's parameters and state in flat buffers, one update launch per step. */
  flat?: boolean;
}

/** The step-dependent part of `adamUpdate`'s attrs. */
type Coefficients = Pick<AdamUpdateAttrs, 'momentCoef' | 'gradCoef' | 'denomScale' | 'eps' | 'adaptive'>;

abstract class AdamFamily<O extends AdamFamilyOptions> extends Optimizer<O> {
  protected override flatCapable(): boolean {
    return true;
  }

  /** Adamax's infinity norm instead of the second moment. */
  protected infinityNorm = false;

  protected abstract coefficients(o: O, step: number): Coefficients;

  protected amsgrad(_o: O): boolean {
    return false;
  }

  protected override validate(o: O): void {
    super.validate(o);
    checkBetas(this.name, o.betas);
    checkNonNegative(this.name, 'eps', o.eps);
    checkNonNegative(this.name, 'weightDecay', o.weightDecay);
    for (const k of ['decoupledWeightDecay', 'maximize'] as const)
      if (typeof o[k] !== 'boolean') throw new DescentError(this.name, `${k} must be a boolean, got ${o[k]}`);
  }

  protected override stateSpec(p: Tensor, o: O): Record<string, StateSpec> {
    const spec: Record<string, StateSpec> = { expAvg: { shape: p.shape } };
    spec[this.infinityNorm ? 'expInf' : 'expAvgSq'] = { shape: p.shape };
    if (this.amsgrad(o)) spec.maxExpAvgSq = { shape: p.shape };
    return spec;
  }

  protected update(p: Tensor, g: Tensor, o: O, state: Record<string, Tensor>, step: number): void {
    const [beta1, beta2] = o.betas;
    const attrs: AdamUpdateAttrs = {
      beta1,
      oneMinusBeta1: 1 - beta1,
      beta2,
      oneMinusBeta2: 1 - beta2,
      weightDecay: o.decoupledWeightDecay ? 0 : o.weightDecay,
      decay: o.decoupledWeightDecay ? 1 - o.lr * o.weightDecay : 1,
      amsgrad: this.amsgrad(o),
      infinityNorm: this.infinityNorm,
      maximize: o.maximize,
      ...this.coefficients(o, step),
    };
    this.runUpdate(AdamUpdate, p, g, state, attrs, o.fused);
  }
}

export interface AdamOptions extends AdamFamilyOptions {
  /** Use the maximum of past second moments (AMSGrad, Reddi et al. 2018). */
  amsgrad: boolean;
}

/** Adam's bias-corrected step: lr/(1 − β1ᵗ) on m, √v/√(1 − β2ᵗ) + eps below. */
function adamCoefficients(o: AdamFamilyOptions, step: number): Coefficients {
  const [beta1, beta2] = o.betas;
  return {
    momentCoef: o.lr / (1 - beta1 ** step),
    gradCoef: 0,
    denomScale: 1 / Math.sqrt(1 - beta2 ** step),
    eps: o.eps,
    adaptive: true,
  };
}

const ADAM_DEFAULTS = {
  lr: 1e-3,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  weightDecay: 0,
  decoupledWeightDecay: false,
  amsgrad: false,
  maximize: false,
};

/**
 * Adam (Kingma & Ba 2015; torch.optim.Adam), with AMSGrad and L2 (or decoupled) weight decay.
 * Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0, amsgrad false.
 */
export class Adam extends AdamFamily<AdamOptions> {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { ...ADAM_DEFAULTS, ...options });
  }

  protected override validate(o: AdamOptions): void {
    super.validate(o);
    if (typeof o.amsgrad !== 'boolean')
      throw new DescentError(this.name, `amsgrad must be a boolean, got ${o.amsgrad}`);
  }

  protected override amsgrad(o: AdamOptions): boolean {
    return o.amsgrad;
  }

  protected coefficients(o: AdamOptions, step: number): Coefficients {
    return adamCoefficients(o, step);
  }
}

export type AdamWOptions = Omit<AdamOptions, 'decoupledWeightDecay'>;

/**
 * AdamW (Loshchilov & Hutter 2019; torch.optim.AdamW): Adam with decoupled weight decay,
 * p ← (1 − lr·λ)·p before the Adam step. Defaults as Adam's but weightDecay 1e-2.
 */
export class AdamW extends Adam {
  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    super(params as ParamsInput<AdamOptions>, { weightDecay: 1e-2, ...options, decoupledWeightDecay: true });
  }

  protected override validate(o: AdamOptions): void {
    super.validate(o);
    if (!o.decoupledWeightDecay) throw new DescentError('AdamW', 'weight decay is always decoupled in AdamW');
  }
}

export type AdamaxOptions = AdamFamilyOptions;

/**
 * Adamax (Kingma & Ba 2015, §7.1; torch.optim.Adamax): the infinity-norm variant,
 * u ← max(β2·u, |d| + eps), p ← p − lr/(1 − β1ᵗ)·m/u. Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8.
 */
export class Adamax extends AdamFamily<AdamaxOptions> {
  protected override infinityNorm = true;

  constructor(params: ParamsInput<AdamaxOptions>, options: Partial<AdamaxOptions> = {}) {
    super(params, { ...ADAM_DEFAULTS, lr: 2e-3, ...options });
  }

  protected coefficients(o: AdamaxOptions, step: number): Coefficients {
    return {
      momentCoef: o.lr / (1 - o.betas[0] ** step),
      gradCoef: 0,
      denomScale: 1,
      eps: o.eps,
      adaptive: true,
    };
  }
}

export interface NAdamOptions extends AdamFamilyOptions {
  /** ψ of the momentum schedule μₜ = β1·(1 − ½·0.96^(t·ψ)). */
  momentumDecay: number;
}

/**
 * NAdam (Dozat 2016; torch.optim.NAdam): Nesterov momentum in Adam with the momentum schedule
 * μₜ = β1·(1 − ½·0.96^(tψ)): p ← p − lr·(1 − μₜ)/(1 − Πμ)·d/D − lr·μₜ₊₁/(1 − Πμ·μₜ₊₁)·m/D,
 * D = √(v/(1 − β2ᵗ)) + eps. Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, momentumDecay 4e-3.
 */
export class NAdam extends AdamFamily<NAdamOptions> {
  /** Π_{k≤t} μ_k for t = index (computed once per step count, in float64). */
  private readonly muProducts: number[] = [1];

  constructor(params: ParamsInput<NAdamOptions>, options: Partial<NAdamOptions> = {}) {
    super(params, { ...ADAM_DEFAULTS, lr: 2e-3, momentumDecay: 4e-3, ...options });
  }

  protected override validate(o: NAdamOptions): void {
    super.validate(o);
    checkNonNegative('NAdam', 'momentumDecay', o.momentumDecay);
  }

  protected coefficients(o: NAdamOptions, step: number): Coefficients {
    const [beta1, beta2] = o.betas;
    const mu = (t: number) => beta1 * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));
    // The product depends on the options, so recompute when they changed (a schedule on β1 is rare).
    const key = `${beta1}/${o.momentumDecay}`;
    if (this.muKey !== key) {
      this.muKey = key;
      this.muProducts.length = 1;
    }
    while (this.muProducts.length <= step)
      this.muProducts.push(this.muProducts[this.muProducts.length - 1] * mu(this.muProducts.length));
    const muProduct = this.muProducts[step];
    const muNext = mu(step + 1);
    return {
      momentCoef: (o.lr * muNext) / (1 - muProduct * muNext),
      gradCoef: (o.lr * (1 - mu(step))) / (1 - muProduct),
      denomScale: 1 / Math.sqrt(1 - beta2 ** step),
      eps: o.eps,
      adaptive: true,
    };
  }

  private muKey = '';
}

export type RAdamOptions = AdamFamilyOptions;

/**
 * RAdam (Liu et al. 2020; torch.optim.RAdam): Adam whose adaptive step is switched on once the
 * variance of its estimate is tractable (ρₜ > 5) and then scaled by the rectification rₜ; before
 * that, p ← p − lr·m/(1 − β1ᵗ). Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8.
 */
export class RAdam extends AdamFamily<RAdamOptions> {
  constructor(params: ParamsInput<RAdamOptions>, options: Partial<RAdamOptions> = {}) {
    super(params, { ...ADAM_DEFAULTS, ...options });
  }

  protected coefficients(o: RAdamOptions, step: number): Coefficients {
    const [beta1, beta2] = o.betas;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const rhoInf = 2 / (1 - beta2) - 1;
    const rho = rhoInf - (2 * step * beta2 ** step) / bc2;
    if (!(rho > 5))
      return { momentCoef: o.lr / bc1, gradCoef: 0, denomScale: 1, eps: o.eps, adaptive: false };
    const rect = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
    // torch: √(1 − β2ᵗ)/(√v + eps) = 1/(√v·s + eps·s) with s = 1/√(1 − β2ᵗ).
    const s = 1 / Math.sqrt(bc2);
    return { momentCoef: (o.lr * rect) / bc1, gradCoef: 0, denomScale: s, eps: o.eps * s, adaptive: true };
  }
}

import { AdadeltaUpdate, AdagradUpdate, DescentError, RmspropUpdate, type Tensor } from '@descent/core';
import {
  checkNonNegative,
  checkUnitInterval,
  Optimizer,
  type ParamsInput,
  type StateSpec,
} from './optimizer.js';

/*
 * Adagrad, RMSprop and Adadelta: per-coordinate step sizes from running sums or averages of squared
 * gradients (torch.optim's algorithms and defaults). Each is one fused update op.
 */

interface AdaptiveOptions {
  lr: number;
  eps: number;
  weightDecay: number;
  maximize: boolean;
  /** Fused kernel: true forces it, false uses core ops, undefined picks it where the backend has it. */
  fused?: boolean;
  /** Multi-tensor apply: keep the group's parameters and state in flat buffers, one update launch per step. */
  flat?: boolean;
}

function checkCommon(name: string, o: AdaptiveOptions): void {
  checkNonNegative(name, 'eps', o.eps);
  checkNonNegative(name, 'weightDecay', o.weightDecay);
  if (typeof o.maximize !== 'boolean')
    throw new DescentError(name, `maximize must be a boolean, got ${o.maximize}`);
}

export interface AdagradOptions extends AdaptiveOptions {
  /** The step size decays as lr / (1 + (t − 1)·lrDecay). */
  lrDecay: number;
  /** Initial value of the sum of squared gradients. */
  initialAccumulatorValue: number;
}

/**
 * Adagrad (Duchi et al. 2011; torch.optim.Adagrad): s ← s + d², p ← p − lrₜ·d/(√s + eps).
 * Defaults: lr 1e-2, lrDecay 0, weightDecay 0, initialAccumulatorValue 0, eps 1e-10.
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  protected override flatCapable(): boolean {
    return true;
  }

  constructor(params: ParamsInput<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super(params, {
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
      ...options,
    });
  }

  protected override validate(o: AdagradOptions): void {
    super.validate(o);
    checkCommon('Adagrad', o);
    checkNonNegative('Adagrad', 'lrDecay', o.lrDecay);
    checkNonNegative('Adagrad', 'initialAccumulatorValue', o.initialAccumulatorValue);
  }

  protected override stateSpec(p: Tensor, o: AdagradOptions): Record<string, StateSpec> {
    return { sum: { shape: p.shape, init: o.initialAccumulatorValue } };
  }

  protected update(
    p: Tensor,
    g: Tensor,
    o: AdagradOptions,
    state: Record<string, Tensor>,
    step: number,
  ): void {
    const lr = o.lr / (1 + (step - 1) * o.lrDecay);
    this.runUpdate(
      AdagradUpdate,
      p,
      g,
      state,
      { lr, weightDecay: o.weightDecay, eps: o.eps, maximize: o.maximize },
      o.fused,
    );
  }
}

export interface RMSpropOptions extends AdaptiveOptions {
  /** Smoothing constant α of the square average. */
  alpha: number;
  momentum: number;
  /** Normalize by the estimated variance √(E[d²] − E[d]²) instead of √E[d²]. */
  centered: boolean;
}

/**
 * RMSprop (Hinton's lecture 6e; torch.optim.RMSprop): v ← α·v + (1 − α)·d², a = √v + eps
 * (centered: √(v − ḡ²) + eps with ḡ ← α·ḡ + (1 − α)·d), p ← p − lr·d/a, or with momentum μ:
 * b ← μ·b + d/a, p ← p − lr·b. Defaults: lr 1e-2, alpha 0.99, eps 1e-8, momentum 0, centered false.
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  protected override flatCapable(): boolean {
    return true;
  }

  constructor(params: ParamsInput<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super(params, {
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
      ...options,
    });
  }

  protected override validate(o: RMSpropOptions): void {
    super.validate(o);
    checkCommon('RMSprop', o);
    checkUnitInterval('RMSprop', 'alpha', o.alpha, true);
    checkNonNegative('RMSprop', 'momentum', o.momentum);
  }

  protected override stateSpec(p: Tensor, o: RMSpropOptions): Record<string, StateSpec> {
    const spec: Record<string, StateSpec> = { squareAvg: { shape: p.shape } };
    if (o.centered) spec.gradAvg = { shape: p.shape };
    if (o.momentum > 0) spec.momentumBuffer = { shape: p.shape };
    return spec;
  }

  protected update(p: Tensor, g: Tensor, o: RMSpropOptions, state: Record<string, Tensor>): void {
    this.runUpdate(
      RmspropUpdate,
      p,
      g,
      state,
      {
        lr: o.lr,
        alpha: o.alpha,
        oneMinusAlpha: 1 - o.alpha,
        eps: o.eps,
        weightDecay: o.weightDecay,
        momentum: o.momentum,
        centered: o.centered,
        hasMomentum: o.momentum > 0,
        maximize: o.maximize,
      },
      o.fused,
    );
  }
}

export interface AdadeltaOptions extends AdaptiveOptions {
  /** Decay ρ of both running averages. */
  rho: number;
}

/**
 * Adadelta (Zeiler 2012; torch.optim.Adadelta): v ← ρ·v + (1 − ρ)·d², δ = √(u + eps)/√(v + eps)·d,
 * u ← ρ·u + (1 − ρ)·δ², p ← p − lr·δ. Defaults: lr 1, rho 0.9, eps 1e-6, weightDecay 0.
 */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  protected override flatCapable(): boolean {
    return true;
  }

  constructor(params: ParamsInput<AdadeltaOptions>, options: Partial<AdadeltaOptions> = {}) {
    super(params, { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false, ...options });
  }

  protected override validate(o: AdadeltaOptions): void {
    super.validate(o);
    checkCommon('Adadelta', o);
    checkUnitInterval('Adadelta', 'rho', o.rho, true);
  }

  protected override stateSpec(p: Tensor): Record<string, StateSpec> {
    return { squareAvg: { shape: p.shape }, accDelta: { shape: p.shape } };
  }

  protected update(p: Tensor, g: Tensor, o: AdadeltaOptions, state: Record<string, Tensor>): void {
    this.runUpdate(
      AdadeltaUpdate,
      p,
      g,
      state,
      {
        lr: o.lr,
        rho: o.rho,
        oneMinusRho: 1 - o.rho,
        eps: o.eps,
        weightDecay: o.weightDecay,
        maximize: o.maximize,
      },
      o.fused,
    );
  }
}

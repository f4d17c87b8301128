import {
  add,
  DescentError,
  div,
  mul,
  SgdUpdate,
  type SgdUpdateAttrs,
  sqrt,
  square,
  sum,
  type Tensor,
} from '@descent/core';
import {
  checkNonNegative,
  checkUnitInterval,
  Optimizer,
  type ParamGroup,
  type ParamsInput,
  type StateSpec,
} from './optimizer.js';

/** Options every SGD-family optimizer shares. */
interface SgdFamilyOptions {
  lr: number;
  weightDecay: number;
  maximize: boolean;
  /** Fused kernel: true forces it, false uses core ops, undefined picks it where the backend has it. */
  fused?: boolean;
  /** Multi-tensor apply: keep the group's parameters and state in flat buffers, one update launch per step. */
  flat?: boolean;
}

export interface SGDOptions extends SgdFamilyOptions {
  /** μ: heavy-ball (Polyak) momentum. */
  momentum: number;
  /** τ: the gradient enters the buffer scaled by 1 − τ. */
  dampening: number;
  nesterov: boolean;
}

/**
 * One path for the SGD family: the `sgdUpdate` kernel with the family's coefficients.
 * b ← μ·b + (1 − τ)·d (b = d on the first step, as torch does), d = g + λ·p, step along d, b,
 * d + μ·b (Nesterov) or sign(·) (signSGD / Signum).
 */
abstract class SgdFamily<O extends SgdFamilyOptions> extends Optimizer<O> {
  protected override flatCapable(): boolean {
    return true;
  }

  protected abstract momentumOf(o: O): number;
  /** Buffer coefficients at `step`: [bufferDecay, gradScale]. */
  protected abstract bufferCoefficients(o: O, step: number): [number, number];

  protected override validate(o: O): void {
    super.validate(o);
    checkNonNegative(this.name, 'weightDecay', o.weightDecay);
    if (typeof o.maximize !== 'boolean')
      throw new DescentError(this.name, `maximize must be a boolean, got ${o.maximize}`);
  }

  protected override stateSpec(p: Tensor, o: O): Record<string, StateSpec> {
    return this.momentumOf(o) !== 0 ? { momentumBuffer: { shape: p.shape } } : {};
  }

  protected attrs(o: O, step: number, extra: Partial<SgdUpdateAttrs>): SgdUpdateAttrs {
    const momentum = this.momentumOf(o);
    const [bufferDecay, gradScale] = this.bufferCoefficients(o, step);
    return {
      lr: o.lr,
      weightDecay: o.weightDecay,
      momentum,
      bufferDecay,
      gradScale,
      hasMomentum: momentum !== 0,
      nesterov: false,
      maximize: o.maximize,
      sign: false,
      ...extra,
    };
  }

  protected update(p: Tensor, g: Tensor, o: O, state: Record<string, Tensor>, step: number): void {
    this.runUpdate(SgdUpdate, p, g, state, this.attrs(o, step, this.variant(o)), o.fused);
  }

  protected variant(_o: O): Partial<SgdUpdateAttrs> {
    return {};
  }
}

/**
 * Stochastic gradient descent, torch.optim.SGD: momentum (Polyak heavy ball) with dampening,
 * Nesterov momentum, L2 weight decay, maximize. Defaults: lr 1e-3, momentum 0, dampening 0.
 */
export class SGD extends SgdFamily<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, {
      lr: 1e-3,
      momentum: 0,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      maximize: false,
      ...options,
    });
  }

  protected override validate(o: SGDOptions): void {
    super.validate(o);
    checkNonNegative('SGD', 'momentum', o.momentum);
    if (!(o.dampening >= 0 && o.dampening <= 1))
      throw new DescentError('SGD', `dampening must be in [0, 1], got ${o.dampening}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0))
      throw new DescentError('SGD', 'Nesterov momentum needs momentum > 0 and dampening = 0');
  }

  protected momentumOf(o: SGDOptions): number {
    return o.momentum;
  }

  protected bufferCoefficients(o: SGDOptions, step: number): [number, number] {
    return step === 1 ? [0, 1] : [o.momentum, 1 - o.dampening];
  }

  protected override variant(o: SGDOptions): Partial<SgdUpdateAttrs> {
    return { nesterov: o.nesterov };
  }
}

export interface SignSGDOptions extends SgdFamilyOptions {
  /** β of Signum's momentum m ← β·m + (1 − β)·d (0: plain signSGD). */
  momentum: number;
}

/**
 * signSGD (Bernstein et al. 2018): p ← p − lr·sign(d); with `momentum` β it is Signum,
 * p ← p − lr·sign(m), m ← β·m + (1 − β)·d (m starts at 0). Defaults: lr 1e-3, momentum 0.
 */
export class SignSGD extends SgdFamily<SignSGDOptions> {
  constructor(params: ParamsInput<SignSGDOptions>, options: Partial<SignSGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, weightDecay: 0, maximize: false, ...options });
  }

  protected override validate(o: SignSGDOptions): void {
    super.validate(o);
    checkUnitInterval('SignSGD', 'momentum', o.momentum);
  }

  protected momentumOf(o: SignSGDOptions): number {
    return o.momentum;
  }

  protected bufferCoefficients(o: SignSGDOptions): [number, number] {
    return [o.momentum, 1 - o.momentum];
  }

  protected override variant(): Partial<SgdUpdateAttrs> {
    return { sign: true };
  }
}

export interface NormalizedSGDOptions extends SgdFamilyOptions {
  /** Added to the norm: p ← p − lr·d/(‖d‖ + eps). */
  eps: number;
  /** Whose norm: the whole group's gradient (one vector, the textbook method) or each tensor's. */
  normalize: 'group' | 'tensor';
}

/**
 * Normalized gradient descent: p ← p − lr·d/(‖d‖ + eps), d = ±g + λ·p, with ‖d‖ the norm of the
 * group's whole gradient (default) or of each parameter's. A norm needs a reduction first, so a
 * step is that reduction, a scale and the fused SGD update. Defaults: lr 1e-2, eps 1e-12.
 */
export class NormalizedSGD extends SgdFamily<NormalizedSGDOptions> {
  constructor(params: ParamsInput<NormalizedSGDOptions>, options: Partial<NormalizedSGDOptions> = {}) {
    super(params, { lr: 1e-2, eps: 1e-12, normalize: 'group', weightDecay: 0, maximize: false, ...options });
  }

  protected override validate(o: NormalizedSGDOptions): void {
    super.validate(o);
    checkNonNegative('NormalizedSGD', 'eps', o.eps);
    if (o.normalize !== 'group' && o.normalize !== 'tensor')
      throw new DescentError('NormalizedSGD', `normalize must be 'group' or 'tensor', got ${o.normalize}`);
  }

  protected override flatCapable(): boolean {
    return false;
  }

  protected momentumOf(): number {
    return 0;
  }

  protected bufferCoefficients(): [number, number] {
    return [0, 1];
  }

  protected override stepGroup(group: ParamGroup<NormalizedSGDOptions>): void {
    const o = group.options;
    const withGrad = group.params.filter((p) => p.grad);
    // The direction with weight decay and sign folded in, so the norm is the norm of what is stepped.
    const direction = (p: Tensor) => {
      const d = o.maximize ? mul(p.grad!, -1) : p.grad!;
      return o.weightDecay !== 0 ? add(d, mul(p, o.weightDecay)) : d;
    };
    const dirs = new Map(withGrad.map((p) => [p, direction(p)]));
    const norm = (ts: Tensor[]) =>
      add(sqrt(ts.map((t) => sum(square(t))).reduce((a, b) => add(a, b))), o.eps);
    const groupNorm = o.normalize === 'group' && withGrad.length > 0 ? norm([...dirs.values()]) : null;
    for (const p of withGrad) {
      const d = dirs.get(p)!;
      const scaled = div(d, groupNorm ?? norm([d]));
      // The direction already holds ± and λ·p: step with a plain update.
      this.updateParam(p, scaled, { ...o, weightDecay: 0, maximize: false });
    }
  }
}

import {
  add,
  assign,
  DescentError,
  div,
  eye,
  matmul,
  maximum,
  mul,
  reshape,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  transpose,
} from '@descent/core';
import { inversePthRoot } from './matrix.js';
import {
  checkBetas,
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  Optimizer,
  type ParamsInput,
  type StateSpec,
} from './optimizer.js';

export type ShampooGraft = 'none' | 'sgd' | 'adagrad' | 'adam';

export interface ShampooOptions {
  lr: number;
  /** Heavy-ball momentum μ on the final update: b ← μ·b + u (0 = off). */
  momentum: number;
  /** Decoupled weight decay λ: p ← p·(1 − lr·λ). */
  weightDecay: number;
  /** ε of the damping: roots of H + ε·I ('absolute', the paper's H₀ = ε·I) or H + ε·‖H‖_F·I ('relative'). */
  epsilon: number;
  /**
   * 'relative' (default) scales ε by ‖H‖_F ≥ λ_max, bounding κ(H + damping) by ≈ 1/ε whatever the
   * gradients' scale: in f32 an absolute ε below ~1e-7·‖H‖ is lost to rounding, and the Newton
   * iteration's cost grows with log κ. 'absolute' is the paper's ε·I.
   */
  damping: 'relative' | 'absolute';
  /** Statistics H ← β·H + (1 − β)·G_(i)G_(i)ᵀ; 1 (default) sums them as in the paper. */
  statisticsDecay: number;
  /** Recompute the inverse roots every this many steps (default 1: every step, as in the paper). */
  preconditionInterval: number;
  /**
   * Layer-wise grafting (Agarwal et al. 2020): take the Shampoo direction with the norm of another
   * optimizer's step — 'sgd' (‖g‖), 'adagrad', 'adam' — or 'none' (the paper's plain Shampoo).
   */
  graft: ShampooGraft;
  /** β1, β2 of the Adam graft. */
  graftBetas: [number, number];
  /** ε of the Adam/Adagrad graft denominators. */
  graftEps: number;
  /** Coupled-Newton iterations per inverse root (see `inversePthRoot`). */
  rootIterations: number;
  /** Dimensions larger than this get no preconditioner (identity on that side). */
  maxPreconditionerDim: number;
}

/** The parameter as the tensor Shampoo works on (a scalar is a 1-vector). */
const dimsOf = (p: Tensor): number[] => (p.rank === 0 ? [1] : [...p.shape]);

/** x with `axis` moved to the end, flattened to [rest, d] (the mode-`axis` unfolding, transposed). */
function unfold(x: Tensor, axis: number): Tensor {
  const last = x.rank - 1;
  const moved = axis === last ? x : transpose(x, [...x.shape.keys()].filter((i) => i !== axis).concat(axis));
  return reshape(moved, [-1, x.shape[axis]]);
}

/** x ×_axis P for a symmetric P: multiplies every mode-`axis` fibre of x by P. */
function modeProduct(x: Tensor, axis: number, p: Tensor): Tensor {
  const last = x.rank - 1;
  if (axis === last) return reshape(matmul(reshape(x, [-1, x.shape[last]]), p), x.shape);
  const perm = [...x.shape.keys()].filter((i) => i !== axis).concat(axis);
  const moved = transpose(x, perm);
  const y = reshape(matmul(reshape(moved, [-1, x.shape[axis]]), p), moved.shape);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return transpose(y, inverse);
}

const frobenius = (x: Tensor) => sqrt(sum(square(x)));

/**
 * Shampoo (Gupta, Koren & Singer 2018, Algorithm 2 for tensors; Algorithm 1 for matrices). For a
 * parameter with k axes and gradient G, each axis i of size ≤ maxPreconditionerDim keeps the
 * statistic H_i ← H_i + G_(i)·G_(i)ᵀ (the mode-i unfolding; for a matrix H_0 = L = Σ G·Gᵀ and
 * H_1 = R = Σ Gᵀ·G) and the update is
 *
 *     P = G ×_1 (H_1 + δ₁I)^(−1/2k) ×_2 … ×_k (H_k + δ_kI)^(−1/2k)    (matrix: L^(−¼)·G·R^(−¼))
 *     δ_i = ε·‖H_i‖_F (relative damping, default) or ε (the paper's)
 *     u = graft ? P·‖D‖/‖P‖ : P          (D: the graft optimizer's step for G)
 *     b ← μ·b + u (if momentum);  p ← p·(1 − lr·λ) − lr·b
 *
 * The inverse roots are computed every `preconditionInterval` steps by the coupled Newton iteration
 * (`inversePthRoot`) — core matmuls, so every backend runs it and nothing is read back. Vectors get
 * full-matrix AdaGrad (k = 1: H^(−½)); a parameter with no preconditioned axis takes the graft's
 * step (or plain SGD). Defaults: lr 1e-3, relative damping ε = 1e-4, no momentum, no grafting,
 * 20 root iterations. Relative damping bounds κ(H + δI) by ≈ 1/ε = 1e4, for which the Newton
 * iteration converges to 1e-7 in ≤ 15 iterations (p = 2, 4, 6); in f32 a smaller ε loses the small
 * eigendirections to rounding (ε = 1e-6 left f32 runs 1e-2 away from float64 on a 64×64 quadratic;
 * ε = 1e-4 kept them within 2e-6 — measured with js, wasm and js64 backends).
 */
export class Shampoo extends Optimizer<ShampooOptions> {
  constructor(params: ParamsInput<ShampooOptions>, options: Partial<ShampooOptions> = {}) {
    super(params, {
      lr: 1e-3,
      momentum: 0,
      weightDecay: 0,
      epsilon: 1e-4,
      damping: 'relative',
      statisticsDecay: 1,
      preconditionInterval: 1,
      graft: 'none',
      graftBetas: [0.9, 0.999],
      graftEps: 1e-8,
      rootIterations: 20,
      maxPreconditionerDim: 1024,
      ...options,
    });
  }

  protected override validate(o: ShampooOptions): void {
    super.validate(o);
    checkUnitInterval('Shampoo', 'momentum', o.momentum);
    checkNonNegative('Shampoo', 'weightDecay', o.weightDecay);
    checkPositive('Shampoo', 'epsilon', o.epsilon);
    if (o.damping !== 'relative' && o.damping !== 'absolute')
      throw new DescentError('Shampoo', `damping must be 'relative' or 'absolute', got '${o.damping}'`);
    if (!(o.statisticsDecay > 0 && o.statisticsDecay <= 1))
      throw new DescentError('Shampoo', `statisticsDecay must be in (0, 1], got ${o.statisticsDecay}`);
    for (const [name, v] of [
      ['preconditionInterval', o.preconditionInterval],
      ['maxPreconditionerDim', o.maxPreconditionerDim],
    ] as const)
      if (!Number.isInteger(v) || v < 1)
        throw new DescentError('Shampoo', `${name} must be a positive integer, got ${v}`);
    if (!Number.isInteger(o.rootIterations) || o.rootIterations < 1)
      throw new DescentError('Shampoo', `rootIterations must be a positive integer, got ${o.rootIterations}`);
    if (!['none', 'sgd', 'adagrad', 'adam'].includes(o.graft))
      throw new DescentError('Shampoo', `graft must be 'none', 'sgd', 'adagrad' or 'adam', got '${o.graft}'`);
    checkBetas('Shampoo', o.graftBetas);
    checkPositive('Shampoo', 'graftEps', o.graftEps);
  }

  /** The axes of `p` that get a preconditioner. */
  private axes(p: Tensor, o: ShampooOptions): number[] {
    return dimsOf(p).flatMap((d, i) => (d <= o.maxPreconditionerDim ? [i] : []));
  }

  protected override stateSpec(p: Tensor, o: ShampooOptions): Record<string, StateSpec> {
    const dims = dimsOf(p);
    const s: Record<string, StateSpec> = {};
    for (const i of this.axes(p, o)) {
      s[`statistic${i}`] = { shape: [dims[i], dims[i]] };
      s[`root${i}`] = { shape: [dims[i], dims[i]] };
    }
    if (o.graft === 'adam') {
      s.graftExpAvg = { shape: p.shape };
      s.graftExpAvgSq = { shape: p.shape };
    }
    if (o.graft === 'adagrad') s.graftSum = { shape: p.shape };
    if (o.momentum !== 0) s.momentumBuffer = { shape: p.shape };
    return s;
  }

  /** The graft optimizer's step direction D for gradient g (its norm sets the step's size). */
  private graftStep(g: Tensor, o: ShampooOptions, state: Record<string, Tensor>, step: number): Tensor {
    switch (o.graft) {
      case 'adam': {
        const [b1, b2] = o.graftBetas;
        const m = this.setState(state, 'graftExpAvg', add(mul(state.graftExpAvg, b1), mul(g, 1 - b1)));
        const v = this.setState(
          state,
          'graftExpAvgSq',
          add(mul(state.graftExpAvgSq, b2), mul(square(g), 1 - b2)),
        );
        const denom = add(sqrt(div(v, 1 - b2 ** step)), o.graftEps);
        return div(div(m, 1 - b1 ** step), denom);
      }
      case 'adagrad': {
        const s = this.setState(state, 'graftSum', add(state.graftSum, square(g)));
        return div(g, add(sqrt(s), o.graftEps));
      }
      default:
        return g;
    }
  }

  protected update(
    p: Tensor,
    g: Tensor,
    o: ShampooOptions,
    state: Record<string, Tensor>,
    step: number,
  ): void {
    const dims = dimsOf(p);
    const G = reshape(g, dims);
    const axes = this.axes(p, o);
    const refresh = (step - 1) % o.preconditionInterval === 0;
    const beta = o.statisticsDecay;
    let pre = G;
    for (const i of axes) {
      const u = unfold(G, i);
      const outer = matmul(u, u, { transposeA: true });
      const stat = this.setState(
        state,
        `statistic${i}`,
        beta === 1
          ? add(state[`statistic${i}`], outer)
          : add(mul(state[`statistic${i}`], beta), mul(outer, 1 - beta)),
      );
      if (refresh) {
        // Relative damping has a floor so an all-zero statistic (zero gradients) still has a root.
        const eps = o.damping === 'relative' ? mul(maximum(frobenius(stat), 1e-12), o.epsilon) : o.epsilon;
        const damped = add(stat, mul(eye(dims[i], { backend: p.backend }), eps));
        this.setState(
          state,
          `root${i}`,
          inversePthRoot(damped, 2 * dims.length, { iterations: o.rootIterations }),
        );
      }
      pre = modeProduct(pre, i, state[`root${i}`]);
    }
    let u: Tensor;
    if (o.graft === 'none') {
      u = pre;
    } else {
      const d = reshape(this.graftStep(g, o, state, step), dims);
      // No preconditioned axis: the graft's own step. Otherwise Shampoo's direction at the graft's norm.
      u = axes.length === 0 ? d : mul(pre, div(frobenius(d), maximum(frobenius(pre), 1e-30)));
    }
    u = reshape(u, p.shape);
    if (o.momentum !== 0)
      u = this.setState(state, 'momentumBuffer', add(mul(state.momentumBuffer, o.momentum), u));
    const decayed = o.weightDecay !== 0 ? mul(p, 1 - o.lr * o.weightDecay) : p;
    assign(p, sub(decayed, mul(u, o.lr)));
  }
}

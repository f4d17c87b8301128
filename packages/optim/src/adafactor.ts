import {
  AdafactorUpdate,
  add,
  assign,
  DescentError,
  div,
  matmul,
  maximum,
  mean,
  mul,
  ones,
  reshape,
  rsqrt,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
} from '@descent/core';
import { checkNonNegative, Optimizer, type ParamsInput, type StateSpec } from './optimizer.js';

export interface AdafactorOptions {
  /** Step size, used only when `relativeStep` is false (with a relative step lr is computed; leave it unset). */
  lr: number;
  /** [ε1, ε2]: ε1 regularizes the squared gradient, ε2 floors the parameter scale. */
  eps: [number, number];
  /** d: the update's RMS is clipped to at most d. */
  clipThreshold: number;
  /** c in β2(t) = 1 − t^c (must be < 0; −0.8 in the paper). */
  decayRate: number;
  /** First-moment decay β1, or null for no first moment (the memory-saving default). */
  beta1: number | null;
  /** Decoupled weight decay: p ← p − λ·α_t·p. */
  weightDecay: number;
  /** Scale the step by max(ε2, RMS(p)) — the relative step size of the paper. */
  scaleParameter: boolean;
  /** Step size ρ_t = min(10⁻², 1/√t) (or min(10⁻⁶·t, 1/√t) with `warmupInit`) instead of `lr`. */
  relativeStep: boolean;
  warmupInit: boolean;
  /** Fused kernel for the elementwise part (rank ≤ 2): true forces it, false uses core ops, undefined picks it where the backend has it. */
  fused?: boolean;
}

/** RMS(x) = ‖x‖₂/√n, as a scalar tensor. */
const rms = (x: Tensor) => sqrt(mean(square(x)));

/**
 * Adafactor (Shazeer & Stern 2018, Algorithms 4–5 with the paper's relative step, update clipping
 * and optional β1), following the documented behaviour and defaults of Hugging Face's
 * `transformers.optimization.Adafactor`. For a parameter of rank ≥ 2 the second moment of the
 * gradient is kept factored over the last two axes — a row vector R (mean over columns) and a
 * column vector C (mean over rows) per matrix — and V ≈ R·Cᵀ/mean(R); vectors keep a full V.
 *
 *     t ← t + 1;  α_t = max(ε2, RMS(p))·ρ_t  (or lr)
 *     β2(t) = 1 − t^c;  G2 = g² + ε1
 *     factored: R ← β2·R + (1−β2)·mean_cols(G2);  C ← β2·C + (1−β2)·mean_rows(G2)
 *               U = g / √(R·C/mean(R))          else: V ← β2·V + (1−β2)·G2;  U = g/√V
 *     U ← U / max(1, RMS(U)/d) · α_t
 *     with β1: M ← β1·M + (1−β1)·U;  U = M
 *     p ← p − λ·α_t·p − U
 *
 * State (zero at start, as in the reference): R [..., m, 1] and C [..., 1, n] (kept with unit
 * axes so they broadcast), or V; M when β1 is set. Nothing is read back to the host: RMS(p) and
 * α_t stay scalar tensors on the parameter's backend.
 */
export class Adafactor extends Optimizer<AdafactorOptions> {
  constructor(params: ParamsInput<AdafactorOptions>, options: Partial<AdafactorOptions> = {}) {
    const relativeStep = options.relativeStep ?? true;
    if (relativeStep && options.lr !== undefined)
      throw new DescentError(
        'Adafactor',
        `a manual lr (${options.lr}) cannot be combined with relativeStep: true; pass relativeStep: false to use lr`,
      );
    if (!relativeStep && options.lr === undefined)
      throw new DescentError('Adafactor', 'relativeStep: false needs an lr');
    super(params, {
      lr: 0,
      eps: [1e-30, 1e-3],
      clipThreshold: 1,
      decayRate: -0.8,
      beta1: null,
      weightDecay: 0,
      scaleParameter: true,
      relativeStep,
      warmupInit: false,
      ...options,
    });
  }

  protected override validate(o: AdafactorOptions): void {
    super.validate(o);
    if (o.warmupInit && !o.relativeStep)
      throw new DescentError('Adafactor', 'warmupInit: true requires relativeStep: true');
    if (o.eps.length !== 2 || !o.eps.every((e) => e >= 0))
      throw new DescentError('Adafactor', `eps must be two numbers >= 0, got [${o.eps.join(', ')}]`);
    if (!(o.clipThreshold > 0))
      throw new DescentError('Adafactor', `clipThreshold must be > 0, got ${o.clipThreshold}`);
    if (!(o.decayRate < 0)) throw new DescentError('Adafactor', `decayRate must be < 0, got ${o.decayRate}`);
    if (o.beta1 !== null && !(o.beta1 >= 0 && o.beta1 < 1))
      throw new DescentError('Adafactor', `beta1 must be null or in [0, 1), got ${o.beta1}`);
    checkNonNegative('Adafactor', 'weightDecay', o.weightDecay);
  }

  protected override stateSpec(p: Tensor, o: AdafactorOptions): Record<string, StateSpec> {
    const s: Record<string, StateSpec> = {};
    if (p.rank >= 2) {
      s.expAvgSqRow = { shape: [...p.shape.slice(0, -1), 1] };
      s.expAvgSqCol = { shape: [...p.shape.slice(0, -2), 1, p.shape[p.rank - 1]] };
    } else {
      s.expAvgSq = { shape: p.shape };
    }
    if (o.beta1 !== null) s.expAvg = { shape: p.shape };
    return s;
  }

  protected update(
    p: Tensor,
    g: Tensor,
    o: AdafactorOptions,
    state: Record<string, Tensor>,
    t: number,
  ): void {
    // α_t: the step size (a scalar tensor when it depends on RMS(p)).
    const rho = o.relativeStep ? Math.min(o.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : o.lr;
    const alpha: Tensor | number = o.scaleParameter ? mul(maximum(rms(p), o.eps[1]), rho) : rho;
    const beta2t = 1 - t ** o.decayRate;
    const ema = (prev: Tensor, x: Tensor) => add(mul(prev, beta2t), mul(x, 1 - beta2t));
    const g2 = add(square(g), o.eps[0]);
    // 1/√V̂ factored as rowScale[r]·colScale[c] over the parameter viewed as [rows, cols].
    let rowScale: Tensor;
    let colScale: Tensor | null = null;
    if (p.rank >= 2) {
      // Row statistics [..., m, 1] and column statistics [..., 1, n], kept with unit axes to broadcast.
      const row = this.setState(state, 'expAvgSqRow', ema(state.expAvgSqRow, mean(g2, -1, true)));
      const col = this.setState(state, 'expAvgSqCol', ema(state.expAvgSqCol, mean(g2, -2, true)));
      rowScale = rsqrt(div(row, mean(row, -2, true)));
      colScale = rsqrt(col);
    } else {
      rowScale = rsqrt(this.setState(state, 'expAvgSq', ema(state.expAvgSq, g2)));
    }
    if (p.rank <= 2 && this.useFused(p, AdafactorUpdate.name, o.fused)) {
      this.fusedStep(p, g, o, state, alpha, g2, rowScale, colScale);
      return;
    }
    let u = colScale ? mul(mul(g, rowScale), colScale) : mul(g, rowScale);
    u = mul(div(u, maximum(div(rms(u), o.clipThreshold), 1)), alpha);
    if (o.beta1 !== null)
      u = this.setState(state, 'expAvg', add(mul(state.expAvg, o.beta1), mul(u, 1 - o.beta1)));
    const decayed = o.weightDecay !== 0 ? sub(p, mul(p, mul(alpha, o.weightDecay))) : p;
    assign(p, sub(decayed, u));
  }

  /**
   * The elementwise part as one `adafactorUpdate` pass. RMS(u) is found without forming u:
   * Σ u² = Σ_r rowScale_r²·Σ_c (g2_rc − ε1)·colScale_c² — a matrix-vector product over the g² + ε1
   * the statistics already needed.
   */
  private fusedStep(
    p: Tensor,
    g: Tensor,
    o: AdafactorOptions,
    state: Record<string, Tensor>,
    alpha: Tensor | number,
    g2: Tensor,
    rowScale: Tensor,
    colScale: Tensor | null,
  ): void {
    const rows = p.rank === 2 ? p.shape[0] : p.size;
    const cols = p.rank === 2 ? p.shape[1] : 1;
    const r2 = square(reshape(rowScale, [rows, 1]));
    const c2 = colScale ? square(reshape(colScale, [cols, 1])) : ones([1, 1], { backend: p.backend });
    const sumU2 = sub(
      sum(mul(matmul(reshape(g2, [rows, cols]), c2), r2)),
      mul(mul(sum(r2), sum(c2)), o.eps[0]),
    );
    const rmsU = sqrt(div(maximum(sumU2, 0), p.size));
    const scale = reshape(div(alpha, maximum(div(rmsU, o.clipThreshold), 1)), [1]);
    // With a tensor α (parameter scaling) the decay factor is not a host number: apply it first.
    let decay = 1;
    if (o.weightDecay !== 0) {
      if (typeof alpha === 'number') decay = 1 - alpha * o.weightDecay;
      else assign(p, sub(p, mul(p, mul(alpha, o.weightDecay))));
    }
    const b1 = o.beta1 ?? 0;
    const attrs = { rows, cols, beta1: b1, oneMinusBeta1: 1 - b1, decay, hasMomentum: o.beta1 !== null };
    const buffers: Record<string, Tensor> = {
      rowScale: reshape(rowScale, [rows]),
      colScale: colScale ? reshape(colScale, [cols]) : ones([1], { backend: p.backend }),
      scale,
    };
    if (o.beta1 !== null) buffers.expAvg = state.expAvg;
    this.runUpdate(AdafactorUpdate, p, g, buffers, attrs, true);
  }
}

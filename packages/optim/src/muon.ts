import {
  AdamUpdate,
  type AdamUpdateAttrs,
  add,
  assign,
  DescentError,
  mul,
  reshape,
  type Tensor,
} from '@descent/core';
import { newtonSchulz } from './matrix.js';
import {
  checkBetas,
  checkNonNegative,
  checkUnitInterval,
  Optimizer,
  type ParamGroupInput,
  type ParamsInput,
  type StateSpec,
} from './optimizer.js';

export interface MuonOptions {
  lr: number;
  /** Decoupled weight decay λ: p ← p·(1 − lr·λ) (both halves). */
  weightDecay: number;
  /** μ of the momentum buffer b ← μ·b + (1 − μ)·g. */
  momentum: number;
  /** Orthogonalize (1 − μ)·g + μ·b instead of b. */
  nesterov: boolean;
  /** (a, b, c) of the quintic Newton–Schulz iteration. */
  nsCoefficients: [number, number, number];
  nsSteps: number;
  /** Newton–Schulz normalization floor: X₀ = G/max(‖G‖_F, eps). */
  eps: number;
  /**
   * Shape-aware step scale for a [fanIn, fanOut] matrix: 'original' (Keller Jordan) √max(1, fanOut/fanIn),
   * 'matchRmsAdamW' (Moonshot) 0.2·√max(fanIn, fanOut), 'none' 1.
   */
  adjustLr: 'original' | 'matchRmsAdamW' | 'none';
  /** true: Muon (parameters of rank ≥ 2); false: AdamW. Groups built automatically set it. */
  useMuon: boolean;
  /** AdamW's (β1, β2), for groups with useMuon false. */
  betas: [number, number];
  /** AdamW's eps, for groups with useMuon false. */
  adamEps: number;
  /** AdamW groups: fused `adamUpdate` kernel (true forces, false uses core ops, undefined: where available). */
  fused?: boolean;
}

/** Options of the AdamW half when Muon splits a parameter list itself. */
export interface MuonAdamWConfig {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export interface MuonConfig extends Partial<Omit<MuonOptions, 'useMuon'>> {
  /** Overrides for the AdamW group made from the non-matrix parameters (default: AdamW's defaults, Muon's lr). */
  adamw?: MuonAdamWConfig;
}

/** A parameter of rank ≥ 2 as the [fanIn, fanOut] matrix Muon orthogonalizes (output units on the last axis). */
const asMatrix = (p: Tensor): [number, number] => [p.size / p.shape[p.rank - 1], p.shape[p.rank - 1]];

/**
 * Muon — MomentUm Orthogonalized by Newton–Schulz (Keller Jordan et al. 2024; torch.optim.Muon),
 * with AdamW for everything that is not a matrix, in one optimizer object:
 *
 *     b ← μ·b + (1 − μ)·g;  B̃ = nesterov ? (1 − μ)·g + μ·b : b
 *     O = NewtonSchulz₅(B̃)   (≈ U·Vᵀ of B̃ = U·S·Vᵀ; quintic, 5 steps)
 *     p ← p·(1 − lr·λ) − lr·scale(shape)·O
 *
 * (torch documents b ← μ·b + g; its code, and this one, keep the (1 − μ)-scaled buffer — the same
 * direction, since Newton–Schulz normalizes its input.) A parameter of rank > 2 is orthogonalized
 * as the [fanIn, fanOut] matrix of its leading axes by its last one (Linear [in, out], conv
 * [KH, KW, Cin, Cout] → [KH·KW·Cin, Cout]). Parameters of rank < 2 — biases, norm gains — and any
 * group with `useMuon: false` (embeddings and output heads are usually better there) take AdamW
 * steps with the group's lr, `betas`, `adamEps` and weightDecay, through the fused `adamUpdate` op.
 *
 * `new Muon(model.parameters(), { lr: 0.02, adamw: { lr: 3e-4 } })` splits the list into a Muon
 * group (rank ≥ 2) and an AdamW group; explicit groups say `useMuon` themselves. Defaults are
 * torch.optim.Muon's: lr 1e-3, weightDecay 0.1, momentum 0.95, Nesterov, (3.4445, −4.7750,
 * 2.0315), 5 steps, eps 1e-7, 'original' scaling; the AdamW half: betas (0.9, 0.999), eps 1e-8,
 * weightDecay 1e-2 (torch.optim.AdamW's) and Muon's lr.
 */
export class Muon extends Optimizer<MuonOptions> {
  constructor(params: ParamsInput<MuonOptions>, config: MuonConfig = {}) {
    const { adamw = {}, ...options } = config;
    super(Muon.split(params, adamw), {
      lr: 1e-3,
      weightDecay: 0.1,
      momentum: 0.95,
      nesterov: true,
      nsCoefficients: [3.4445, -4.775, 2.0315],
      nsSteps: 5,
      eps: 1e-7,
      adjustLr: 'original',
      useMuon: true,
      betas: [0.9, 0.999],
      adamEps: 1e-8,
      ...options,
    });
    for (const g of this.groups) {
      if (!g.options.useMuon) continue;
      const bad = g.params.find((p) => p.rank < 2);
      if (bad)
        throw new DescentError(
          'Muon',
          `Muon orthogonalizes matrices; parameter ${bad.toString()} has rank ${bad.rank}: put it in a group with useMuon: false (AdamW)`,
        );
    }
  }

  /**
   * A flat list (or groups without `useMuon`) is split: rank ≥ 2 → Muon, the rest → AdamW with the
   * `adamw` overrides. Groups that set `useMuon` are kept as they are.
   */
  private static split(
    params: ParamsInput<MuonOptions>,
    adamw: MuonAdamWConfig,
  ): ParamGroupInput<MuonOptions>[] {
    const list = params as readonly (Tensor | ParamGroupInput<MuonOptions>)[];
    if (!Array.isArray(list))
      throw new DescentError('Muon', 'params must be an array of tensors or of groups');
    const groups: ParamGroupInput<MuonOptions>[] =
      list.length > 0 && 'params' in (list[0] as object)
        ? (list as ParamGroupInput<MuonOptions>[])
        : [{ params: list as Tensor[] }];
    const adamOverrides: Partial<MuonOptions> = { useMuon: false };
    if (adamw.lr !== undefined) adamOverrides.lr = adamw.lr;
    adamOverrides.betas = adamw.betas ?? [0.9, 0.999];
    adamOverrides.adamEps = adamw.eps ?? 1e-8;
    adamOverrides.weightDecay = adamw.weightDecay ?? 1e-2;
    return groups.flatMap((g) => {
      if (g.useMuon !== undefined) return [g];
      const isTensor = (p: unknown): p is Tensor => typeof p === 'object' && p !== null && 'rank' in p;
      const matrices = g.params.filter((p) => !isTensor(p) || p.rank >= 2);
      const others = g.params.filter((p) => isTensor(p) && p.rank < 2);
      const out: ParamGroupInput<MuonOptions>[] = [];
      if (matrices.length > 0 || others.length === 0) out.push({ ...g, params: matrices, useMuon: true });
      if (others.length > 0) out.push({ ...g, ...adamOverrides, params: others });
      return out;
    });
  }

  protected override validate(o: MuonOptions): void {
    super.validate(o);
    checkNonNegative('Muon', 'weightDecay', o.weightDecay);
    checkUnitInterval('Muon', 'momentum', o.momentum);
    if (!Number.isInteger(o.nsSteps) || o.nsSteps < 0 || o.nsSteps >= 100)
      throw new DescentError('Muon', `nsSteps must be an integer in [0, 100), got ${o.nsSteps}`);
    if (
      !Array.isArray(o.nsCoefficients) ||
      o.nsCoefficients.length !== 3 ||
      !o.nsCoefficients.every(Number.isFinite)
    )
      throw new DescentError(
        'Muon',
        `nsCoefficients must be three finite numbers, got ${JSON.stringify(o.nsCoefficients)}`,
      );
    checkNonNegative('Muon', 'eps', o.eps);
    if (!['original', 'matchRmsAdamW', 'none'].includes(o.adjustLr))
      throw new DescentError(
        'Muon',
        `adjustLr must be 'original', 'matchRmsAdamW' or 'none', got '${o.adjustLr}'`,
      );
    if (typeof o.useMuon !== 'boolean')
      throw new DescentError('Muon', `useMuon must be a boolean, got ${o.useMuon}`);
    checkBetas('Muon', o.betas);
    checkNonNegative('Muon', 'adamEps', o.adamEps);
  }

  protected override stateSpec(p: Tensor, o: MuonOptions): Record<string, StateSpec> {
    return o.useMuon
      ? { momentumBuffer: { shape: p.shape } }
      : { expAvg: { shape: p.shape }, expAvgSq: { shape: p.shape } };
  }

  /** The step-size multiplier for a parameter's shape. */
  static lrScale(p: Tensor, adjust: MuonOptions['adjustLr']): number {
    const [fanIn, fanOut] = asMatrix(p);
    if (adjust === 'original') return Math.sqrt(Math.max(1, fanOut / fanIn));
    if (adjust === 'matchRmsAdamW') return 0.2 * Math.sqrt(Math.max(fanIn, fanOut));
    return 1;
  }

  protected update(p: Tensor, g: Tensor, o: MuonOptions, state: Record<string, Tensor>, step: number): void {
    if (!o.useMuon) {
      this.adamwUpdate(p, g, o, state, step);
      return;
    }
    const mu = o.momentum;
    const buf = this.setState(state, 'momentumBuffer', add(mul(state.momentumBuffer, mu), mul(g, 1 - mu)));
    const direction = o.nesterov ? add(mul(g, 1 - mu), mul(buf, mu)) : buf;
    const ortho = newtonSchulz(reshape(direction, asMatrix(p)), {
      steps: o.nsSteps,
      coefficients: o.nsCoefficients,
      eps: o.eps,
    });
    const decayed = o.weightDecay !== 0 ? mul(p, 1 - o.lr * o.weightDecay) : p;
    assign(p, add(decayed, mul(reshape(ortho, p.shape), -o.lr * Muon.lrScale(p, o.adjustLr))));
  }

  /** AdamW (torch.optim.AdamW: bias-corrected moments, decoupled decay) through the `adamUpdate` op. */
  private adamwUpdate(
    p: Tensor,
    g: Tensor,
    o: MuonOptions,
    state: Record<string, Tensor>,
    step: number,
  ): void {
    const [beta1, beta2] = o.betas;
    const attrs: AdamUpdateAttrs = {
      beta1,
      oneMinusBeta1: 1 - beta1,
      beta2,
      oneMinusBeta2: 1 - beta2,
      weightDecay: 0,
      decay: 1 - o.lr * o.weightDecay,
      amsgrad: false,
      infinityNorm: false,
      maximize: false,
      momentCoef: o.lr / (1 - beta1 ** step),
      gradCoef: 0,
      denomScale: 1 / Math.sqrt(1 - beta2 ** step),
      eps: o.adamEps,
      adaptive: true,
    };
    this.runUpdate(AdamUpdate, p, g, state, attrs, o.fused);
  }
}

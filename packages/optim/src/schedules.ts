import { DescentError } from '@descent/core';

/**
 * Learning-rate schedules as composable objects.
 *
 * A `Schedule` maps a step count t = 0, 1, 2, … to a **factor** that multiplies each parameter
 * group's base learning rate (the lr the group had when the `LRScheduler` was made). Working in
 * factors lets one schedule drive groups with different learning rates, and lets schedules be
 * combined: `chain` multiplies factors, `sequential` hands over from one schedule to the next at
 * milestones. The closed forms follow torch.optim.lr_scheduler (ConstantLR, StepLR, MultiStepLR,
 * ExponentialLR, LinearLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, PolynomialLR, OneCycleLR, SequentialLR,
 * ChainedScheduler, ReduceLROnPlateau), with PyTorch's absolute learning rates written as fractions
 * of the base lr (`eta_min` → `minFactor`, OneCycle's `max_lr` = the base lr).
 */
export interface Schedule {
  /** Multiplier of the base learning rate at step `t` (t ≥ 0 scheduler steps taken). */
  factor(t: number): number;
  /** An absolute momentum (SGD's `momentum`, or β1 of `betas`) at step t, for schedules that cycle it (`oneCycle`). */
  momentum?(t: number): number | undefined;
  /** Receives a validation metric (only stateful schedules such as `reduceOnPlateau` use it). */
  observe?(metric: number): void;
  /** Serializable state of a stateful schedule (for checkpoints). */
  state?(): Record<string, number>;
  loadState?(s: Record<string, number>): void;
}

function check(name: string, ok: boolean, what: string): void {
  if (!ok) throw new DescentError(name, what);
}

const isCount = (n: number) => Number.isInteger(n) && n >= 0;

/** `factor` for the first `steps` steps, then 1 (PyTorch ConstantLR); `constant()` is the identity. */
export function constant(factor = 1, steps = Number.POSITIVE_INFINITY): Schedule {
  check('constant', factor >= 0, `factor must be >= 0, got ${factor}`);
  check('constant', steps >= 0, `steps must be >= 0, got ${steps}`);
  return { factor: (t) => (t < steps ? factor : 1) };
}

/** γ^⌊t / stepSize⌋ (PyTorch StepLR). */
export function stepDecay(stepSize: number, gamma = 0.1): Schedule {
  check(
    'stepDecay',
    Number.isInteger(stepSize) && stepSize > 0,
    `stepSize must be a positive integer, got ${stepSize}`,
  );
  check('stepDecay', gamma >= 0, `gamma must be >= 0, got ${gamma}`);
  return { factor: (t) => gamma ** Math.floor(t / stepSize) };
}

/** γ^(number of milestones ≤ t) (PyTorch MultiStepLR). Milestones must be increasing step counts. */
export function multiStep(milestones: readonly number[], gamma = 0.1): Schedule {
  const ms = [...milestones];
  check(
    'multiStep',
    ms.every((m, i) => isCount(m) && (i === 0 || m > ms[i - 1])),
    `milestones must be strictly increasing non-negative integers, got [${ms.join(', ')}]`,
  );
  check('multiStep', gamma >= 0, `gamma must be >= 0, got ${gamma}`);
  return { factor: (t) => gamma ** ms.filter((m) => m <= t).length };
}

/** γ^t (PyTorch ExponentialLR). */
export function exponential(gamma: number): Schedule {
  check('exponential', gamma >= 0, `gamma must be >= 0, got ${gamma}`);
  return { factor: (t) => gamma ** t };
}

/**
 * Linear interpolation from `start` to `end` over `steps` steps, then `end` (PyTorch LinearLR).
 * Linear warm-up is `linear(0, 1, n)` (or a small start), linear decay `linear(1, 0, n)`.
 */
export function linear(start: number, end: number, steps: number): Schedule {
  check('linear', start >= 0 && end >= 0, `start and end factors must be >= 0, got ${start} and ${end}`);
  check('linear', Number.isInteger(steps) && steps > 0, `steps must be a positive integer, got ${steps}`);
  return { factor: (t) => start + ((end - start) * Math.min(t, steps)) / steps };
}

/** (1 − min(t, T)/T)^power (PyTorch PolynomialLR). */
export function polynomial(steps: number, power = 1): Schedule {
  check('polynomial', Number.isInteger(steps) && steps > 0, `steps must be a positive integer, got ${steps}`);
  return { factor: (t) => (1 - Math.min(t, steps) / steps) ** power };
}

export interface CosineOptions {
  /** Steps of the whole schedule including warm-up (PyTorch's T_max when there is no warm-up). */
  totalSteps: number;
  /** Linear warm-up steps from `warmupStart` to 1 before the cosine starts (default 0). */
  warmupSteps?: number;
  /** Factor at step 0 of the warm-up (default 0). */
  warmupStart?: number;
  /** Floor of the cosine, as a fraction of the base lr (PyTorch's eta_min / base lr; default 0). */
  minFactor?: number;
}

/**
 * Cosine annealing with optional linear warm-up: during warm-up the factor rises linearly from
 * `warmupStart` (t = 0) to 1 (t = warmupSteps); then, with τ = t − warmupSteps and
 * T = totalSteps − warmupSteps, it is minFactor + (1 − minFactor)·(1 + cos(π·min(τ, T)/T))/2
 * (PyTorch CosineAnnealingLR's closed form), staying at minFactor after T.
 */
export function cosine(o: CosineOptions): Schedule {
  const warm = o.warmupSteps ?? 0;
  const w0 = o.warmupStart ?? 0;
  const floor = o.minFactor ?? 0;
  check('cosine', isCount(warm), `warmupSteps must be a non-negative integer, got ${warm}`);
  check(
    'cosine',
    Number.isInteger(o.totalSteps) && o.totalSteps > warm,
    `totalSteps must be an integer > warmupSteps (${warm}), got ${o.totalSteps}`,
  );
  check('cosine', floor >= 0 && w0 >= 0, `minFactor and warmupStart must be >= 0, got ${floor} and ${w0}`);
  const T = o.totalSteps - warm;
  return {
    factor: (t) => {
      if (t < warm) return w0 + ((1 - w0) * t) / warm;
      const tau = Math.min(t - warm, T);
      return floor + ((1 - floor) * (1 + Math.cos((Math.PI * tau) / T))) / 2;
    },
  };
}

export interface CosineRestartsOptions {
  /** Length of the first cycle, in steps (PyTorch's T_0). */
  period: number;
  /** Each cycle is `mult` times longer than the previous one (integer ≥ 1, default 1). */
  mult?: number;
  /** Floor of each cycle (eta_min / base lr; default 0). */
  minFactor?: number;
}

/**
 * Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017; PyTorch
 * CosineAnnealingWarmRestarts): within a cycle of length T_i, starting at step s_i,
 * minFactor + (1 − minFactor)·(1 + cos(π·(t − s_i)/T_i))/2; then the factor jumps back to 1.
 */
export function cosineRestarts(o: CosineRestartsOptions): Schedule {
  const mult = o.mult ?? 1;
  const floor = o.minFactor ?? 0;
  check(
    'cosineRestarts',
    Number.isInteger(o.period) && o.period > 0,
    `period must be a positive integer, got ${o.period}`,
  );
  check('cosineRestarts', Number.isInteger(mult) && mult >= 1, `mult must be an integer >= 1, got ${mult}`);
  check('cosineRestarts', floor >= 0, `minFactor must be >= 0, got ${floor}`);
  return {
    factor: (t) => {
      let start = 0;
      let length = o.period;
      while (t >= start + length) {
        start += length;
        length *= mult;
      }
      return floor + ((1 - floor) * (1 + Math.cos((Math.PI * (t - start)) / length))) / 2;
    },
  };
}

export interface OneCycleOptions {
  totalSteps: number;
  /** Fraction of the steps spent increasing the lr (default 0.3). */
  pctStart?: number;
  /** Initial lr = max lr / divFactor (default 25). */
  divFactor?: number;
  /** Final lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** 'cos' (default) or 'linear' interpolation within each phase. */
  anneal?: 'cos' | 'linear';
  /** Three phases (up, back down to the initial lr, then to the final lr) as in fast.ai (default false). */
  threePhase?: boolean;
  /** Cycle the momentum inversely to the lr, between maxMomentum and baseMomentum (default true, as torch). */
  cycleMomentum?: boolean;
  /** Momentum at the lr's peak (default 0.85). */
  baseMomentum?: number;
  /** Momentum at the start and end (default 0.95). */
  maxMomentum?: number;
}

/**
 * The 1cycle policy (Smith & Topin 2018) with PyTorch OneCycleLR's phase boundaries and
 * interpolation; the group's base lr is the maximum. With `cycleMomentum` (default) the momentum
 * (SGD's `momentum` or Adam's β1) goes maxMomentum → baseMomentum while the lr rises, and back.
 */
export function oneCycle(o: OneCycleOptions): Schedule {
  const T = o.totalSteps;
  const pct = o.pctStart ?? 0.3;
  const div = o.divFactor ?? 25;
  const finalDiv = o.finalDivFactor ?? 1e4;
  const mLow = o.baseMomentum ?? 0.85;
  const mHigh = o.maxMomentum ?? 0.95;
  check('oneCycle', Number.isInteger(T) && T > 0, `totalSteps must be a positive integer, got ${T}`);
  check('oneCycle', pct > 0 && pct < 1, `pctStart must be in (0, 1), got ${pct}`);
  check(
    'oneCycle',
    div > 0 && finalDiv > 0,
    `divFactor and finalDivFactor must be > 0, got ${div}, ${finalDiv}`,
  );
  check(
    'oneCycle',
    mLow >= 0 && mLow <= mHigh && mHigh < 1,
    `momenta must satisfy 0 <= baseMomentum <= maxMomentum < 1, got ${mLow}, ${mHigh}`,
  );
  const initial = 1 / div;
  const min = initial / finalDiv;
  // Each phase: where it ends, and the lr factor and momentum it goes between.
  const phases = o.threePhase
    ? [
        { end: pct * T - 1, lr: [initial, 1], m: [mHigh, mLow] },
        { end: 2 * pct * T - 2, lr: [1, initial], m: [mLow, mHigh] },
        { end: T - 1, lr: [initial, min], m: [mHigh, mHigh] },
      ]
    : [
        { end: pct * T - 1, lr: [initial, 1], m: [mHigh, mLow] },
        { end: T - 1, lr: [1, min], m: [mLow, mHigh] },
      ];
  const interp =
    o.anneal === 'linear'
      ? (a: number, b: number, p: number) => a + (b - a) * p
      : (a: number, b: number, p: number) => b + ((a - b) * (Math.cos(Math.PI * p) + 1)) / 2;
  /** The phase holding step t and the fraction of it done. */
  const locate = (t: number) => {
    if (t > T) throw new DescentError('oneCycle', `step ${t} is past totalSteps (${T})`);
    let start = 0;
    for (let i = 0; i < phases.length - 1; i++) {
      if (t <= phases[i].end) return { ph: phases[i], p: (t - start) / (phases[i].end - start) };
      start = phases[i].end;
    }
    const last = phases[phases.length - 1];
    return { ph: last, p: (t - start) / (last.end - start) };
  };
  return {
    factor: (t) => {
      const { ph, p } = locate(t);
      return interp(ph.lr[0], ph.lr[1], p);
    },
    momentum:
      o.cycleMomentum === false
        ? undefined
        : (t) => {
            const { ph, p } = locate(t);
            return interp(ph.m[0], ph.m[1], p);
          },
  };
}

/** Any factor function of the step (PyTorch LambdaLR). */
export function lambda(fn: (t: number) => number): Schedule {
  return { factor: fn };
}

/** The product of the factors (PyTorch ChainedScheduler): e.g. `chain(linear(0.1, 1, 100), plateau)`. */
export function chain(...schedules: Schedule[]): Schedule {
  check('chain', schedules.length > 0, 'needs at least one schedule');
  return {
    factor: (t) => schedules.reduce((f, s) => f * s.factor(t), 1),
    // The first schedule that sets a momentum sets it.
    momentum: (t) => {
      for (const s of schedules) {
        const m = s.momentum?.(t);
        if (m !== undefined) return m;
      }
      return undefined;
    },
    observe: (m) => {
      for (const s of schedules) s.observe?.(m);
    },
    state: () => Object.assign({}, ...schedules.map((s, i) => prefixed(i, s.state?.() ?? {}))),
    loadState: (st) => {
      schedules.forEach((s, i) => {
        s.loadState?.(unprefixed(i, st));
      });
    },
  };
}

/**
 * Runs `schedules[i]` from step milestones[i − 1] on, each seeing the steps since its own start
 * (PyTorch SequentialLR): `sequential([linear(0, 1, 500), cosine({ totalSteps: 9500 })], [500])`.
 */
export function sequential(schedules: Schedule[], milestones: readonly number[]): Schedule {
  check(
    'sequential',
    schedules.length === milestones.length + 1,
    `needs one milestone between each pair of schedules: got ${schedules.length} schedules and ${milestones.length} milestones`,
  );
  check(
    'sequential',
    milestones.every((m, i) => isCount(m) && (i === 0 || m > milestones[i - 1])),
    `milestones must be strictly increasing non-negative integers, got [${milestones.join(', ')}]`,
  );
  const which = (t: number) => milestones.filter((m) => m <= t).length;
  let last = 0;
  return {
    factor: (t) => {
      const i = which(t);
      last = t;
      return schedules[i].factor(t - (i === 0 ? 0 : milestones[i - 1]));
    },
    momentum: (t) => {
      const i = which(t);
      return schedules[i].momentum?.(t - (i === 0 ? 0 : milestones[i - 1]));
    },
    // A metric goes to the schedule that is active now.
    observe: (m) => schedules[which(last)].observe?.(m),
    state: () => Object.assign({}, ...schedules.map((s, i) => prefixed(i, s.state?.() ?? {}))),
    loadState: (st) => {
      schedules.forEach((s, i) => {
        s.loadState?.(unprefixed(i, st));
      });
    },
  };
}

function prefixed(i: number, s: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [`${i}.${k}`, v]));
}
function unprefixed(i: number, s: Record<string, number>): Record<string, number> {
  const p = `${i}.`;
  return Object.fromEntries(
    Object.entries(s)
      .filter(([k]) => k.startsWith(p))
      .map(([k, v]) => [k.slice(p.length), v]),
  );
}

export interface PlateauOptions {
  /** 'min' (default): lower metrics are better; 'max': higher are better. */
  mode?: 'min' | 'max';
  /** Multiplier applied on a plateau (default 0.1). */
  factor?: number;
  /** Metrics without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** Improvement threshold (default 1e-4). */
  threshold?: number;
  /** 'rel' (default): better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Metrics to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lowest factor (PyTorch's min_lr / base lr; default 0). */
  minFactor?: number;
  /** Reductions smaller than eps (in factor) are skipped (default 1e-8). */
  eps?: number;
}

/**
 * Reduce-on-plateau (PyTorch ReduceLROnPlateau): `observe(metric)` after each evaluation; when the
 * metric has not improved for more than `patience` observations the factor is multiplied by
 * `factor` (not below `minFactor`), followed by `cooldown` observations of grace. `factor(t)`
 * ignores t and returns the current factor, so it composes with `chain` (e.g. under a warm-up).
 */
export function reduceOnPlateau(o: PlateauOptions = {}): Schedule {
  const mode = o.mode ?? 'min';
  const mult = o.factor ?? 0.1;
  const patience = o.patience ?? 10;
  const threshold = o.threshold ?? 1e-4;
  const thresholdMode = o.thresholdMode ?? 'rel';
  const cooldown = o.cooldown ?? 0;
  const minFactor = o.minFactor ?? 0;
  const eps = o.eps ?? 1e-8;
  check('reduceOnPlateau', mult >= 0 && mult < 1, `factor must be in [0, 1), got ${mult}`);
  check(
    'reduceOnPlateau',
    isCount(patience) && isCount(cooldown),
    'patience and cooldown must be non-negative integers',
  );
  check('reduceOnPlateau', threshold >= 0, `threshold must be >= 0, got ${threshold}`);
  let current = 1;
  let best = mode === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  let bad = 0;
  let cooling = 0;
  const better = (m: number): boolean => {
    if (mode === 'min') return thresholdMode === 'rel' ? m < best * (1 - threshold) : m < best - threshold;
    return thresholdMode === 'rel' ? m > best * (1 + threshold) : m > best + threshold;
  };
  return {
    factor: () => current,
    observe(metric: number) {
      if (Number.isNaN(metric)) throw new DescentError('reduceOnPlateau', 'the observed metric is NaN');
      if (better(metric)) {
        best = metric;
        bad = 0;
      } else {
        bad++;
      }
      if (cooling > 0) {
        cooling--;
        bad = 0;
      }
      if (bad > patience) {
        const next = Math.max(current * mult, minFactor);
        if (current - next > eps) current = next;
        cooling = cooldown;
        bad = 0;
      }
    },
    state: () => ({ current, best, bad, cooling }),
    loadState(s) {
      ({ current, best, bad, cooling } = s as {
        current: number;
        best: number;
        bad: number;
        cooling: number;
      });
    },
  };
}

/** What an `LRScheduler` drives: anything with parameter groups whose options have an `lr`. */
export interface HasParamGroups {
  groups: readonly { options: { lr: number; momentum?: number; betas?: [number, number] } }[];
}

/**
 * Applies a schedule to an optimizer: remembers each group's base lr, sets lr = base·factor(0) at
 * construction, and lr = base·factor(t) after the t-th `step()` (PyTorch's `scheduler.step()`,
 * called once per epoch or per iteration, after `optimizer.step()`). A schedule that cycles
 * momentum (`oneCycle`) also sets each group's `momentum`, or β1 of its `betas`. `step(metric)`
 * first passes the metric to the schedule's `observe` (reduce-on-plateau).
 */
export class LRScheduler {
  readonly baseLrs: number[];
  /** Scheduler steps taken. */
  t = 0;

  constructor(
    readonly optimizer: HasParamGroups,
    readonly schedule: Schedule,
  ) {
    this.baseLrs = optimizer.groups.map((g) => g.options.lr);
    this.apply();
  }

  step(metric?: number): void {
    if (metric !== undefined) {
      if (!this.schedule.observe)
        throw new DescentError(
          'LRScheduler.step',
          'a metric was given but the schedule does not observe metrics',
        );
      this.schedule.observe(metric);
    }
    this.t++;
    this.apply();
  }

  /** The learning rates the groups have now. */
  get lrs(): number[] {
    return this.optimizer.groups.map((g) => g.options.lr);
  }

  private apply(): void {
    const f = this.schedule.factor(this.t);
    if (!(f >= 0) || !Number.isFinite(f))
      throw new DescentError(
        'LRScheduler',
        `the schedule gave factor ${f} at step ${this.t}; expected a finite value >= 0`,
      );
    this.optimizer.groups.forEach((g, i) => {
      g.options.lr = this.baseLrs[i] * f;
    });
    const m = this.schedule.momentum?.(this.t);
    if (m === undefined) return;
    for (const g of this.optimizer.groups) {
      if (typeof g.options.momentum === 'number') g.options.momentum = m;
      else if (Array.isArray(g.options.betas)) g.options.betas = [m, g.options.betas[1]];
      else
        throw new DescentError(
          'LRScheduler',
          'the schedule cycles momentum but the optimizer has neither `momentum` nor `betas` (pass cycleMomentum: false)',
        );
    }
  }

  stateDict(): { t: number; baseLrs: number[]; schedule: Record<string, number> } {
    return { t: this.t, baseLrs: this.baseLrs.slice(), schedule: this.schedule.state?.() ?? {} };
  }

  loadStateDict(s: { t: number; baseLrs: number[]; schedule: Record<string, number> }): void {
    if (s.baseLrs.length !== this.baseLrs.length)
      throw new DescentError(
        'LRScheduler.loadStateDict',
        `state has ${s.baseLrs.length} parameter groups, the optimizer has ${this.baseLrs.length}`,
      );
    this.t = s.t;
    this.baseLrs.splice(0, this.baseLrs.length, ...s.baseLrs);
    this.schedule.loadState?.(s.schedule);
    this.apply();
  }
}

import { describe, expect, it } from 'vitest';
import {
  Adam,
  chain,
  constant,
  cosine,
  cosineRestarts,
  exponential,
  Lion,
  LRScheduler,
  lambda,
  linear,
  multiStep,
  oneCycle,
  polynomial,
  reduceOnPlateau,
  type Schedule,
  SGD,
  sequential,
  stepDecay,
} from '../src/index.js';
import { free, t64 } from './numeric.js';

const factors = (s: Schedule, n: number) => Array.from({ length: n }, (_, t) => s.factor(t));

/** Closed forms are evaluated with the same float64 formulas: equal to the last bit or within 4 ulps. */
function expectFactors(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(Math.abs(g - want[i]), `step ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(
      4 * 2 ** -52 * Math.max(1, Math.abs(want[i])),
    );
  });
}

describe('schedules against their closed forms', () => {
  it('constant, stepDecay, multiStep, exponential, linear, polynomial', () => {
    expectFactors(factors(constant(0.5, 3), 5), [0.5, 0.5, 0.5, 1, 1]);
    expectFactors(factors(constant(), 3), [1, 1, 1]);
    expectFactors(factors(stepDecay(3, 0.5), 8), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]);
    expectFactors(factors(multiStep([2, 5], 0.1), 7), [1, 1, 0.1, 0.1, 0.1, 0.1 ** 2, 0.1 ** 2]);
    expectFactors(factors(exponential(0.9), 4), [1, 0.9, 0.9 ** 2, 0.9 ** 3]);
    expectFactors(factors(linear(0.25, 1, 3), 5), [0.25, 0.5, 0.75, 1, 1]);
    expectFactors(factors(linear(1, 0, 4), 6), [1, 0.75, 0.5, 0.25, 0, 0]);
    expectFactors(factors(polynomial(4, 2), 6), [1, 0.75 ** 2, 0.25, 0.25 ** 2, 0, 0]);
    expectFactors(
      factors(
        lambda((t) => 1 / (t + 1)),
        3,
      ),
      [1, 0.5, 1 / 3],
    );
  });

  it('cosine with warm-up and a floor', () => {
    const s = cosine({ totalSteps: 12, warmupSteps: 4, warmupStart: 0.2, minFactor: 0.1 });
    const want = Array.from({ length: 15 }, (_, t) =>
      t < 4 ? 0.2 + (0.8 * t) / 4 : 0.1 + (0.9 * (1 + Math.cos((Math.PI * Math.min(t - 4, 8)) / 8))) / 2,
    );
    expectFactors(factors(s, 15), want);
    expect(s.factor(4)).toBe(1);
    expect(s.factor(12)).toBeCloseTo(0.1, 15);
    // PyTorch CosineAnnealingLR(T_max=10, eta_min=0) closed form at t=3.
    expect(cosine({ totalSteps: 10 }).factor(3)).toBeCloseTo((1 + Math.cos((3 * Math.PI) / 10)) / 2, 15);
  });

  it('cosineRestarts restarts after each cycle, cycles growing by mult', () => {
    // period 2, mult 2: cycles [0, 2), [2, 6), [6, 14).
    const s = cosineRestarts({ period: 2, mult: 2, minFactor: 0.1 });
    const c = (tau: number, T: number) => 0.1 + (0.9 * (1 + Math.cos((Math.PI * tau) / T))) / 2;
    expectFactors(factors(s, 8), [c(0, 2), c(1, 2), c(0, 4), c(1, 4), c(2, 4), c(3, 4), c(0, 8), c(1, 8)]);
    expect(s.factor(6)).toBe(1);
    expect(() => cosineRestarts({ period: 0 })).toThrow(/period must be a positive integer/);
  });

  it("oneCycle follows PyTorch OneCycleLR's phases", () => {
    // total 10, pct 0.3: phase 1 ends at step 2 (0.3·10 − 1), phase 2 at step 9.
    const s = oneCycle({ totalSteps: 10, divFactor: 25, finalDivFactor: 1e4 });
    const init = 1 / 25;
    const min = init / 1e4;
    const cos = (a: number, b: number, p: number) => b + ((a - b) * (Math.cos(Math.PI * p) + 1)) / 2;
    const want = Array.from({ length: 11 }, (_, t) =>
      t <= 2 ? cos(init, 1, t / 2) : cos(1, min, (t - 2) / 7),
    );
    expectFactors(factors(s, 11), want);
    expect(s.factor(0)).toBeCloseTo(init, 15);
    expect(s.factor(2)).toBe(1);
    expect(s.factor(9)).toBeCloseTo(min, 15);
    expect(() => s.factor(11)).toThrow(/oneCycle: step 11 is past totalSteps \(10\)/);
    // Momentum runs inversely: 0.95 → 0.85 while the lr rises, then back to 0.95.
    const wantM = Array.from({ length: 11 }, (_, t) =>
      t <= 2 ? cos(0.95, 0.85, t / 2) : cos(0.85, 0.95, (t - 2) / 7),
    );
    expectFactors(
      Array.from({ length: 11 }, (_, t) => s.momentum!(t) as number),
      wantM,
    );
    expect(oneCycle({ totalSteps: 10, cycleMomentum: false }).momentum).toBeUndefined();
    // Three phases, linear: up to step 2, down to the initial at step 4 (2·0.3·10 − 2), then to min.
    const l = oneCycle({ totalSteps: 10, threePhase: true, anneal: 'linear' });
    const lin = (a: number, b: number, p: number) => a + (b - a) * p;
    const want3 = Array.from({ length: 10 }, (_, t) =>
      t <= 2 ? lin(init, 1, t / 2) : t <= 4 ? lin(1, init, (t - 2) / 2) : lin(init, min, (t - 4) / 5),
    );
    expectFactors(factors(l, 10), want3);
  });

  it('sequential hands over at milestones; chain multiplies', () => {
    const s = sequential([linear(0.1, 1, 3), exponential(0.5)], [3]);
    expectFactors(factors(s, 6), [0.1, 0.4, 0.7, 1, 0.5, 0.25]);
    const c = chain(stepDecay(2, 0.5), constant(0.1, 1));
    expectFactors(factors(c, 4), [0.1, 1, 0.5, 0.5]);
    expect(() => sequential([constant()], [2])).toThrow(/sequential: needs one milestone between each pair/);
  });

  it('reduceOnPlateau reduces after `patience` bad epochs, honours cooldown and the floor', () => {
    const s = reduceOnPlateau({ factor: 0.5, patience: 2, cooldown: 1, minFactor: 0.2 });
    const seen: number[] = [];
    for (const m of [10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]) {
      s.observe!(m);
      seen.push(s.factor(0));
    }
    // best 9 at the 2nd; bad counts 1, 2, 3 → reduce at the 5th (0.5); one cooldown metric, then
    // 3 more bad → 0.25 at the 9th; then the floor 0.2 at the 13th would be next (not reached).
    expect(seen).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]);
    const st = s.state!();
    const t = reduceOnPlateau({ factor: 0.5, patience: 2, cooldown: 1, minFactor: 0.2 });
    t.loadState!(st);
    t.observe!(9);
    s.observe!(9);
    expect(t.factor(0)).toBe(s.factor(0));
    expect(t.factor(0)).toBe(0.2);
    // 'max' mode with an absolute threshold: 1.05 is no improvement over 1 with threshold 0.1.
    const mx = reduceOnPlateau({
      mode: 'max',
      thresholdMode: 'abs',
      threshold: 0.1,
      patience: 0,
      factor: 0.1,
    });
    mx.observe!(1);
    mx.observe!(1.05);
    expect(mx.factor(0)).toBeCloseTo(0.1, 15);
  });

  it('LRScheduler drives every group from its own base lr, and round-trips its state', () => {
    const a = t64([1], [1]).requireGrad();
    const b = t64([1], [1]).requireGrad();
    const opt = new SGD(
      [
        { params: [a], lr: 0.1 },
        { params: [b], lr: 1 },
      ],
      { lr: 0.5 },
    );
    const sched = new LRScheduler(
      opt,
      chain(linear(0.5, 1, 2), reduceOnPlateau({ patience: 0, factor: 0.5 })),
    );
    expect(sched.lrs).toEqual([0.05, 0.5]);
    sched.step();
    expect(sched.lrs).toEqual([0.1 * 0.75, 0.75]);
    sched.step(3); // first metric: an improvement
    sched.step(4); // worse: halves
    expect(sched.lrs).toEqual([0.05, 0.5]);
    const dict = sched.stateDict();
    const opt2 = new SGD(
      [
        { params: [a], lr: 0.1 },
        { params: [b], lr: 1 },
      ],
      { lr: 0.5 },
    );
    const sched2 = new LRScheduler(
      opt2,
      chain(linear(0.5, 1, 2), reduceOnPlateau({ patience: 0, factor: 0.5 })),
    );
    sched2.loadStateDict(dict);
    expect(sched2.lrs).toEqual(sched.lrs);
    sched.step(5);
    sched2.step(5);
    expect(sched2.lrs).toEqual(sched.lrs);
    expect(() => new LRScheduler(opt, cosine({ totalSteps: 5 })).step(1)).toThrow(/does not observe metrics/);
    free(a, b);
  });

  it("LRScheduler cycles SGD's momentum and Adam's β1 under oneCycle", () => {
    const a = t64([1], [1]).requireGrad();
    const b = t64([1], [1]).requireGrad();
    const sgd = new SGD([a], { lr: 0.4, momentum: 0.9 });
    const adam = new Adam([b], { lr: 0.4, betas: [0.9, 0.99] });
    const s1 = new LRScheduler(sgd, oneCycle({ totalSteps: 10 }));
    const s2 = new LRScheduler(adam, oneCycle({ totalSteps: 10 }));
    for (let t = 0; t < 3; t++) {
      s1.step();
      s2.step();
    }
    // Step 3: the second phase at (3 − 2)/7.
    const m = 0.95 + ((0.85 - 0.95) * (Math.cos(Math.PI / 7) + 1)) / 2;
    expect(sgd.groups[0].options.momentum).toBeCloseTo(m, 15);
    expect(adam.groups[0].options.betas).toEqual([adam.groups[0].options.betas[0], 0.99]);
    expect(adam.groups[0].options.betas[0]).toBeCloseTo(m, 15);
    const lion = new Lion([a], {});
    expect(() => new LRScheduler({ groups: [{ options: { lr: 1 } }] }, oneCycle({ totalSteps: 5 }))).toThrow(
      /cycles momentum but the optimizer has neither `momentum` nor `betas`/,
    );
    expect(new LRScheduler(lion, oneCycle({ totalSteps: 5 })).lrs[0]).toBeCloseTo(1e-4 / 25, 18);
    free(a, b);
  });

  it('rejects bad arguments', () => {
    expect(() => stepDecay(0)).toThrow(/stepDecay: stepSize must be a positive integer/);
    expect(() => multiStep([3, 2])).toThrow(/strictly increasing/);
    expect(() => cosine({ totalSteps: 5, warmupSteps: 5 })).toThrow(
      /totalSteps must be an integer > warmupSteps/,
    );
    expect(() => oneCycle({ totalSteps: 10, pctStart: 1 })).toThrow(/pctStart must be in \(0, 1\)/);
    expect(() => reduceOnPlateau({ factor: 1 })).toThrow(/factor must be in \[0, 1\)/);
    expect(() => lambda(() => Number.NaN)).not.toThrow();
    const p = t64([1], [1]).requireGrad();
    const opt = new SGD([p], { lr: 0.1 });
    expect(
      () =>
        new LRScheduler(
          opt,
          lambda(() => -1),
        ),
    ).toThrow(/factor -1 at step 0/);
    free(p);
  });
});

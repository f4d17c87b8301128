/**
 * The AlgoPerf-style optimizer benchmark: for each workload and optimizer, `trials` quasi-random
 * hyperparameter points (Halton sequence over the declared space), each trained until the validation
 * target or the step budget; the fastest successful trial is the optimizer's cost on the workload;
 * performance profiles over workloads give each optimizer a score.
 */

import type { Tensor } from '@descent/core';
import * as d from '@descent/core';
import { nodeDescentBackends } from '../node-impls.js';
import type { Progress } from '../progress.js';
import type { OptimizerBenchmark, OptimizerTrial, OptimizerWorkloadResult } from '../results.js';
import { halton, performanceRatios, profileArea } from '../stats.js';
import {
  type DrivenOptimizer,
  OPTIMIZERS,
  type OptimizerCtor,
  type OptimizerEntry,
  type Range,
} from './optimizers.js';
import { batchIndices, type OptWorkload, optWorkloads, type Split } from './workloads.js';

const PRIMES = [2, 3, 5, 7, 11];
const TAU_MAX = 4;

/** Trial i's point: Halton coordinates (skipping index 0, which is all zeros) mapped onto each range. */
export function trialPoint(space: Record<string, Range>, i: number): Record<string, number> {
  const out: Record<string, number> = {};
  Object.entries(space).forEach(([k, [lo, hi, scale]], j) => {
    const u = halton(i + 1, PRIMES[j % PRIMES.length]);
    out[k] =
      scale === 'log' ? Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo))) : lo + u * (hi - lo);
  });
  return out;
}

function gather(s: Split, idx: Int32Array, shapeOf: (n: number) => number[], which: 'x' | 'y'): Tensor {
  const src = s[which];
  const per = src.length / s.n;
  const out =
    src instanceof Int32Array ? new Int32Array(idx.length * per) : new Float32Array(idx.length * per);
  idx.forEach((r, i) => {
    out.set(src.subarray(r * per, (r + 1) * per), i * per);
  });
  return d.tensor(out, shapeOf(idx.length));
}

async function runTrial(
  w: OptWorkload,
  entry: OptimizerEntry,
  Ctor: OptimizerCtor,
  h: Record<string, number>,
  trial: number,
  maxSeconds: number,
): Promise<OptimizerTrial> {
  const model = w.model();
  const params = model.parameters();
  const opt: DrivenOptimizer = new Ctor(params, {
    ...entry.options(h),
    ...(entry.config?.(w.classification) ?? {}),
  });
  const xv = d.tensor(w.val.x, w.val.xShape(w.val.n));
  const yv = d.tensor(w.val.y, w.val.yShape(w.val.n));
  let best = Number.NaN;
  const t0 = performance.now();
  let evalMs = 0;
  try {
    for (let step = 1; step <= w.maxSteps; step++) {
      // AlgoPerf also caps each trial's runtime: a trial over the time budget has not reached the target.
      if ((performance.now() - t0 - evalMs) / 1000 > maxSeconds)
        return { trial, hparams: h, reached: false, bestMetric: best, timedOut: true };
      const idx = batchIndices(w.train.n, w.batch, step - 1, 1234);
      const xb = gather(w.train, idx, w.train.xShape, 'x');
      const yb = gather(w.train, idx, w.train.yShape, 'y');
      const lossValue = d.tidy(() => {
        const l = w.loss(model.forward(xb), yb);
        d.backward(l);
        return l.item();
      });
      opt.step();
      opt.zeroGrad();
      if (entry.afterStep === 'hessian' && opt.maybeUpdateHessian) {
        opt.maybeUpdateHessian(() => (w.classification ? model.forward(xb) : w.loss(model.forward(xb), yb)));
        opt.zeroGrad();
      }
      d.dispose(xb, yb);
      if (!Number.isFinite(lossValue))
        return { trial, hparams: h, reached: false, bestMetric: best, diverged: true };
      if (step % w.evalEvery === 0 || step === w.maxSteps) {
        const e0 = performance.now();
        const m = d.tidy(() =>
          w.metric(
            d.noGrad(() => model.forward(xv)),
            yv,
          ),
        );
        evalMs += performance.now() - e0;
        if (Number.isNaN(best) || (w.higherIsBetter ? m > best : m < best)) best = m;
        if (w.reached(m)) {
          // Wall time to target, excluding the evaluations (AlgoPerf excludes evaluation time).
          return {
            trial,
            hparams: h,
            reached: true,
            steps: step,
            seconds: (performance.now() - t0 - evalMs) / 1000,
            bestMetric: m,
          };
        }
      }
    }
    return { trial, hparams: h, reached: false, bestMetric: best };
  } finally {
    opt.dispose?.();
    d.dispose(params, xv, yv);
  }
}

export async function runOptimizerBenchmark(o: {
  quick: boolean;
  progress: Progress;
  trials?: number;
}): Promise<OptimizerBenchmark> {
  // The fastest descent CPU backend available runs every trial (the same one for all optimizers).
  const backends = await nodeDescentBackends({ webgpu: false });
  const backend =
    backends.find((b) => b.id === 'descent-wasm-1t') ?? backends.find((b) => b.id === 'descent-js')!;
  await d.setBackend(backend.backendName);
  const optim = (await import('@descent/optim')) as unknown as Record<string, unknown>;
  const available = OPTIMIZERS.filter((e) => typeof optim[e.name] === 'function');
  const skipped: Record<string, string> = {};
  for (const e of OPTIMIZERS)
    if (!available.includes(e)) skipped[e.name] = '@descent/optim does not export it (yet)';
  const chosen = o.quick
    ? available.filter((e) => ['SGD', 'Adam', 'AdamW', 'Lion'].includes(e.name))
    : available;
  if (o.quick)
    for (const e of available) if (!chosen.includes(e)) skipped[e.name] = 'not in the --quick subset';
  const trials = o.trials ?? (o.quick ? 2 : 5);
  const maxTrialSeconds = o.quick ? 5 : 20;
  // --quick: two workloads, to keep the smoke run short on a loaded machine.
  const workloads = (await optWorkloads(o.quick)).filter((w) => !o.quick || w.id !== 'imbalanced-logistic');
  o.progress.grow(workloads.length * chosen.length);
  const results: OptimizerWorkloadResult[] = [];
  for (const w of workloads) {
    for (const e of chosen) {
      const Ctor = optim[e.name] as OptimizerCtor;
      const list: OptimizerTrial[] = [];
      for (let t = 0; t < trials; t++) {
        o.progress.status(`optimizers ${w.id} · ${e.name} trial ${t + 1}/${trials}`);
        const h = trialPoint(e.space, t);
        try {
          list.push(await runTrial(w, e, Ctor, h, t, maxTrialSeconds));
        } catch (err) {
          list.push({ trial: t, hparams: h, reached: false, bestMetric: Number.NaN, diverged: true });
          o.progress.log(`  ${e.name} on ${w.id} trial ${t}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      const ok = list.filter((t) => t.reached);
      results.push({
        workload: w.id,
        optimizer: e.name,
        target: w.target,
        trials: list,
        bestSteps: ok.length ? Math.min(...ok.map((t) => t.steps!)) : Number.POSITIVE_INFINITY,
        bestSeconds: ok.length ? Math.min(...ok.map((t) => t.seconds!)) : Number.POSITIVE_INFINITY,
      });
      o.progress.tick(`optimizers ${w.id} · ${e.name}: ${ok.length}/${trials} reached`);
    }
  }
  const score = (key: 'bestSeconds' | 'bestSteps') => {
    const cost: Record<string, Record<string, number>> = {};
    for (const r of results) (cost[r.optimizer] ??= {})[r.workload] = r[key];
    const ratios = performanceRatios(cost);
    return Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, profileArea(v, TAU_MAX)]));
  };
  return {
    budget: {
      trials,
      maxSteps: Object.fromEntries(workloads.map((w) => [w.id, w.maxSteps])),
      maxTrialSeconds,
    },
    searchSpaces: Object.fromEntries(chosen.map((e) => [e.name, e.space])),
    results,
    scores: score('bestSeconds'),
    scoresSteps: score('bestSteps'),
    tauMax: TAU_MAX,
    backend: backend.label,
    skippedOptimizers: skipped,
  };
}

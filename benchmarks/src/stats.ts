/**
 * Statistics for benchmark samples: order statistics with spread, power-law fits for cost growth,
 * and AlgoPerf-style performance profiles.
 */

/** Linear-interpolated quantile of sorted values (q in [0, 1]). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty sample');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles. */
  q1: number;
  q3: number;
  /** Median absolute deviation from the median (robust spread). */
  mad: number;
  /** (q3 − q1) / median: the relative spread reported next to each median. */
  relIqr: number;
}

/** Median, quartiles, extremes and MAD of a non-empty sample. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: empty sample');
  const s = [...samples].sort((a, b) => a - b);
  const median = quantileSorted(s, 0.5);
  const dev = s.map((x) => Math.abs(x - median)).sort((a, b) => a - b);
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  return {
    n: s.length,
    median,
    min: s[0],
    max: s[s.length - 1],
    q1,
    q3,
    mad: quantileSorted(dev, 0.5),
    relIqr: median > 0 ? (q3 - q1) / median : 0,
  };
}

export interface PowerFit {
  /** y ≈ c · x^exponent */
  exponent: number;
  c: number;
  /** Coefficient of determination of the fit in log-log space. */
  r2: number;
}

/** Least-squares fit of log y = log c + e·log x (cost growth: matmul time ∝ n^3 ideally). */
export function fitPowerLaw(xs: readonly number[], ys: readonly number[]): PowerFit {
  if (xs.length !== ys.length || xs.length < 2) throw new Error('fitPowerLaw needs ≥ 2 paired points');
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const n = lx.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
    syy += (ly[i] - my) ** 2;
  }
  const exponent = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { exponent, c: Math.exp(my - exponent * mx), r2 };
}

/**
 * Performance profiles (Dolan & Moré; AlgoPerf's scoring). `cost[solver][problem]` is the time (or
 * steps) to reach the target, Infinity when the solver never reached it. ρ_s(τ) is the fraction of
 * problems solver s solves within τ × the best solver's cost on that problem.
 */
export function performanceRatios(cost: Record<string, Record<string, number>>): Record<string, number[]> {
  const solvers = Object.keys(cost);
  const problems = [...new Set(solvers.flatMap((s) => Object.keys(cost[s])))].sort();
  const ratios: Record<string, number[]> = {};
  for (const s of solvers) ratios[s] = [];
  for (const p of problems) {
    const best = Math.min(...solvers.map((s) => cost[s][p] ?? Number.POSITIVE_INFINITY));
    for (const s of solvers) {
      const c = cost[s][p] ?? Number.POSITIVE_INFINITY;
      // A problem nobody solved counts as unsolved for everyone.
      ratios[s].push(Number.isFinite(best) && Number.isFinite(c) ? c / best : Number.POSITIVE_INFINITY);
    }
  }
  return ratios;
}

/** ρ(τ): fraction of ratios ≤ τ. */
export function profileAt(ratios: readonly number[], tau: number): number {
  if (ratios.length === 0) return 0;
  return ratios.filter((r) => r <= tau).length / ratios.length;
}

/**
 * AlgoPerf score: the area under ρ(τ) for τ in [1, τ_max], normalized by (τ_max − 1) so a solver that
 * is the fastest on every problem scores 1 and one that solves nothing scores 0. ρ is a step function,
 * so the integral is exact: each solved problem with ratio r contributes (τ_max − r)/(τ_max − 1)/P.
 */
export function profileArea(ratios: readonly number[], tauMax = 4): number {
  if (ratios.length === 0) return 0;
  let area = 0;
  for (const r of ratios) if (r <= tauMax) area += (tauMax - Math.max(1, r)) / (tauMax - 1);
  return area / ratios.length;
}

/** Halton low-discrepancy sequence value (AlgoPerf uses quasi-random search over the space). */
export function halton(index: number, base: number): number {
  let f = 1;
  let r = 0;
  let i = index;
  while (i > 0) {
    f /= base;
    r += f * (i % base);
    i = Math.floor(i / base);
  }
  return r;
}

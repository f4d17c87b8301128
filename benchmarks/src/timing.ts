/**
 * Wall-clock measurement with a warm-up, an inner loop sized so each sample is long enough for the
 * clock, and ≥ `reps` samples. The first call is timed separately ("cold": JIT, shader compile, first
 * allocation) and never enters the samples.
 */
import { type Summary, summarize } from './stats.js';

export type Runner = () => void | Promise<void>;

export interface MeasureOptions {
  /** Warm-up calls after the cold call (default 2). */
  warmup?: number;
  /** Timed samples (default 7; at least 5 unless the case is too slow, see `slowMs`). */
  reps?: number;
  /** Minimum duration of one sample in ms: cheap calls are repeated inside a sample (default 20). */
  minSampleMs?: number;
  /** When the cold call takes longer than this, take only `slowReps` samples and no warm-up (default ∞). */
  slowMs?: number;
  slowReps?: number;
  now?: () => number;
  /** The caller already made (and timed) the first call: go straight to the warm-up. */
  skipCold?: boolean;
}

export interface Measurement {
  /** Duration of the very first call, ms (NaN with `skipCold`). */
  coldMs: number;
  /** Per-call durations, ms (one per sample; each sample averages `inner` calls). */
  samples: number[];
  inner: number;
  summary: Summary;
}

export async function measure(run: Runner, opts: MeasureOptions = {}): Promise<Measurement> {
  const now = opts.now ?? (() => performance.now());
  const minSample = opts.minSampleMs ?? 20;
  let reps = opts.reps ?? 7;
  // Without a cold call the inner loop is sized from a warm-up call, so make at least one.
  let warmup = Math.max(opts.warmup ?? 2, opts.skipCold ? 1 : 0);
  let t = now();
  let coldMs = Number.NaN;
  if (!opts.skipCold) {
    await run();
    coldMs = now() - t;
  }
  if (opts.slowMs !== undefined && coldMs > opts.slowMs) {
    reps = opts.slowReps ?? 3;
    warmup = 0;
  }
  // Warm-up; the last warm-up call also sizes the inner loop.
  let one = Number.isNaN(coldMs) ? 1 : coldMs;
  for (let i = 0; i < warmup; i++) {
    t = now();
    await run();
    one = now() - t;
  }
  const inner = Math.max(1, Math.min(10_000, Math.ceil(minSample / Math.max(one, 1e-3))));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    t = now();
    for (let i = 0; i < inner; i++) await run();
    samples.push((now() - t) / inner);
  }
  return { coldMs, samples, inner, summary: summarize(samples) };
}

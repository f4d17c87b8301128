/**
 * Wall-clock measurement with a warm-up, an inner loop sized so each sample is long enough for the
 * clock, and ≥ `reps` samples. The first call is timed separately ("cold": JIT, shader compile, first
 * allocation) and never enters the samples.
 *
 * GPU implementations can also give a `GPUTimer` (timestamp queries): then each timed call or sample
 * also gets the GPU time of the work it submitted, measured on the same calls as the wall clock.
 */
import { type Summary, summarize } from './stats.js';

export type Runner = () => void | Promise<void>;

/**
 * GPU time from timestamp queries. `time(fn)` runs `fn` and resolves with the GPU time (ms) of the
 * work `fn` submitted; `unavailable` says why there is none here (and `time` is then never called).
 */
export interface GPUTimer {
  unavailable?: string;
  time(fn: () => Promise<void>): Promise<number>;
}

/** GPU time per call (ms): of the cold call and of each warm sample; or why there is none. */
export interface GPUMeasurement {
  coldMs?: number;
  samples?: number[];
  summary?: Summary;
  unavailable?: string;
}

/**
 * Times `calls` runs of `run`: wall-clock ms per call, and GPU ms per call when a usable timer is
 * given. The wall clock covers only the calls (the timer's own flush and timestamp read-back are
 * outside it).
 */
export async function timeCalls(
  run: Runner,
  calls: number,
  gpu: GPUTimer | undefined,
  now: () => number = () => performance.now(),
): Promise<{ wallMs: number; gpuMs?: number }> {
  let wall = 0;
  const body = async () => {
    const t = now();
    for (let i = 0; i < calls; i++) await run();
    wall = now() - t;
  };
  if (!gpu || gpu.unavailable) {
    await body();
    return { wallMs: wall / calls };
  }
  const g = await gpu.time(body);
  return { wallMs: wall / calls, gpuMs: g / calls };
}

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
  /** Also measure GPU time (timestamp queries) on the cold call and every sample. */
  gpu?: GPUTimer;
}

export interface Measurement {
  /** Duration of the very first call, ms (NaN with `skipCold`). */
  coldMs: number;
  /** Per-call durations, ms (one per sample; each sample averages `inner` calls). */
  samples: number[];
  inner: number;
  summary: Summary;
  /** With `gpu`: GPU time per call of the cold call (unless `skipCold`) and of each sample. */
  gpu?: GPUMeasurement;
}

export async function measure(run: Runner, opts: MeasureOptions = {}): Promise<Measurement> {
  const now = opts.now ?? (() => performance.now());
  const minSample = opts.minSampleMs ?? 20;
  let reps = opts.reps ?? 7;
  // Without a cold call the inner loop is sized from a warm-up call, so make at least one.
  let warmup = Math.max(opts.warmup ?? 2, opts.skipCold ? 1 : 0);
  const gpu = opts.gpu;
  let t: number;
  let coldMs = Number.NaN;
  let gpuColdMs: number | undefined;
  if (!opts.skipCold) {
    const cold = await timeCalls(run, 1, gpu, now);
    coldMs = cold.wallMs;
    gpuColdMs = cold.gpuMs;
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
  const gpuSamples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = await timeCalls(run, inner, gpu, now);
    samples.push(s.wallMs);
    if (s.gpuMs !== undefined) gpuSamples.push(s.gpuMs);
  }
  const m: Measurement = { coldMs, samples, inner, summary: summarize(samples) };
  if (gpu?.unavailable) m.gpu = { unavailable: gpu.unavailable };
  else if (gpu)
    m.gpu = {
      ...(gpuColdMs !== undefined ? { coldMs: gpuColdMs } : {}),
      samples: gpuSamples,
      summary: summarize(gpuSamples),
    };
  return m;
}

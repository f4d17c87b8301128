/** The JSON written to benchmarks/results/<date>-<machine>.json. */
import type { BenchCase } from './cases.js';
import type { OptimStepBenchmark } from './optim-step.js';
import type { KernelResult } from './run.js';
import type { TrainTargetResult } from './train-target.js';

export interface MachineInfo {
  hostname: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** Free-text caveat printed in the report (shared VM, other jobs running). */
  note: string;
  loadAverage: number[];
  /** One core's f32x4 multiply-add peak in the wasm kernels (src/peak.ts), when measured. */
  fmaPeak?: { gflops: number; variant: string };
}

export interface ImplInfo {
  id: string;
  library: string;
  backend: string;
  threads?: number;
  roofline?: boolean;
  reportsCold?: boolean;
  info: Record<string, unknown>;
  /** Where it ran: 'node' or 'chromium'. */
  env: string;
}

export interface TrainResult {
  workload: string;
  impl: string;
  status: 'ok' | 'skipped' | 'error' | 'wrong';
  reason?: string;
  batch: number;
  params?: number;
  /** Median time per training step (ms) and its spread. */
  stepMs?: { median: number; q1: number; q3: number; n: number };
  stepsPerSec?: number;
  samplesPerSec?: number;
  /** Loss after the measured steps and its agreement with the float64 reference after one step. */
  firstLoss?: number;
  firstLossRef?: number;
}

export interface OptimizerTrial {
  trial: number;
  hparams: Record<string, number>;
  reached: boolean;
  steps?: number;
  seconds?: number;
  bestMetric: number;
  diverged?: boolean;
  /** Stopped at the per-trial time budget. */
  timedOut?: boolean;
}

export interface OptimizerWorkloadResult {
  workload: string;
  optimizer: string;
  target: string;
  trials: OptimizerTrial[];
  /** Best trial (fewest steps to target); Infinity when none reached it. */
  bestSteps: number;
  bestSeconds: number;
  /** Anything unusual about this cell (e.g. a trial stopped by hand). */
  note?: string;
}

export interface OptimizerBenchmark {
  budget: { trials: number; maxSteps: Record<string, number>; maxTrialSeconds?: number };
  searchSpaces: Record<string, Record<string, [number, number, 'log' | 'linear']>>;
  results: OptimizerWorkloadResult[];
  /** Normalized area under the performance profile (τ ∈ [1, τmax]), on wall time. */
  scores: Record<string, number>;
  scoresSteps: Record<string, number>;
  tauMax: number;
  backend: string;
  skippedOptimizers: Record<string, string>;
}

export interface BenchResults {
  version: 1;
  date: string;
  mode: 'quick' | 'full';
  command: string;
  machine: MachineInfo;
  impls: ImplInfo[];
  cases: BenchCase[];
  kernels: KernelResult[];
  /** Chromium run (same cases, in-browser implementations). */
  browser?: {
    impls: ImplInfo[];
    kernels: KernelResult[];
    error?: string;
    adapter?: Record<string, unknown>;
    unavailable?: Record<string, string>;
  };
  training?: TrainResult[];
  /** Recipes trained to a test-accuracy target (src/train-target.ts; part of the train suite). */
  trainTargets?: TrainTargetResult[];
  optimizers?: OptimizerBenchmark;
  /** Optimizer step time on a model-shaped parameter set (src/optim-step.ts). */
  optimSteps?: OptimStepBenchmark;
  /** Implementations that could not be started here, with the reason. */
  unavailable?: Record<string, string>;
  durationSeconds: number;
}

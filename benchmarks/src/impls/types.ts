import type { BenchCase, Outputs, Tensors } from '../cases.js';
import type { GPUTimer } from '../timing.js';

/** One prepared case on one implementation: inputs uploaded, ready to run repeatedly. */
export interface Prepared {
  /** Runs the computation once and waits until it has completed (GPU: until the queue is idle). */
  run(): void | Promise<void>;
  /** The outputs of the last run, read back to the host. */
  outputs(): Promise<Outputs>;
  /** Frees everything `prepare` and `run` allocated. */
  dispose(): void | Promise<void>;
  /** Hyperparameters that differ from the case's (tfjs has Adam, not AdamW: weightDecay 0). */
  variant?: { weightDecay?: number; note?: string };
}

/** A library × backend × thread count measured by the harness. */
export interface Impl {
  /** Stable id used in JSON and tables, e.g. 'descent-wasm-1t', 'tfjs-wasm-1t'. */
  id: string;
  library: 'descent' | 'tfjs' | 'onnxruntime-web' | 'memcopy';
  /** Human-readable backend label. */
  backend: string;
  threads?: number;
  /** A rough speed used to skip cases that would take too long (GFLOP/s, GB/s). */
  nominal: { gflops: number; gbps: number };
  /** True for the memory-copy roofline row (not a competitor). */
  roofline?: boolean;
  /** Whether the first run includes a compile step worth reporting separately (GPU shaders). */
  reportsCold?: boolean;
  /** GPU time from timestamp queries (WebGPU implementations); see timing.ts. */
  gpuTimer?: GPUTimer;
  init(): Promise<void>;
  /** `true`, or why this implementation cannot run the case. */
  supports(c: BenchCase): true | string;
  prepare(c: BenchCase, inputs: Tensors): Promise<Prepared>;
  info(): Record<string, unknown>;
  dispose(): Promise<void>;
}

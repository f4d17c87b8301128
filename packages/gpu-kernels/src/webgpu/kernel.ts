import type { TensorInfo } from '@descent/core';
import type { Params } from './wgsl.js';

/** One compute dispatch a kernel asks the backend for. */
export interface DispatchSpec {
  /**
   * Pipeline cache key: the shader generator and its specialization (never shapes — those go in
   * `params`, so one pipeline serves every shape).
   */
  key: string;
  /** The WGSL source; only called when `key` is not cached yet. */
  wgsl: () => string;
  /** Read-only storage bindings 1…n, in order. */
  inputs: readonly TensorInfo[];
  /** Read-write storage bindings after the inputs. */
  outputs: readonly TensorInfo[];
  params: Params;
  /** Workgroup counts [x, y, z]. */
  workgroups: readonly [number, number, number];
}

export interface KernelContext {
  /** The op being run (for messages). */
  readonly op: string;
  dispatch(spec: DispatchSpec): void;
  /** Granted device limits (after any test override). */
  readonly limits: Readonly<Record<string, number>>;
}

/** A WebGPU kernel: records one or more dispatches computing `outputs` from `inputs`. */
export type GPUKernel = (
  ctx: KernelContext,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  attrs: any,
) => void;

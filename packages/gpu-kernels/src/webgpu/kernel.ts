import type { DType, TensorInfo } from '@descent/core';
import type { BindingWindow, SplitLimits } from './split.js';
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
  /**
   * The element range bound for each binding (inputs, then outputs); absent or null: the whole
   * tensor. How kernels run over tensors larger than one binding (see ./split.ts).
   */
  windows?: readonly (BindingWindow | null)[];
}

export interface KernelContext {
  /** The op being run (for messages). */
  readonly op: string;
  dispatch(spec: DispatchSpec): void;
  /**
   * Records a buffer-to-buffer copy of all of `src` into `dst` starting at element `dstElement` — a
   * copy command in the batch, no pipeline and no binding-size limit. 4-byte dtypes only (WebGPU
   * copies whole 4-byte words); `src` and `dst` must not share a buffer.
   */
  copy(src: TensorInfo, dst: TensorInfo, dstElement: number): void;
  /** Granted device limits (after any test override). */
  readonly limits: Readonly<Record<string, number>>;
  /** The largest storage binding and the binding offset alignment, in 4-byte elements. */
  readonly split: SplitLimits;
  /** A temporary tensor for this kernel's dispatches (returned to the pool when the kernel returns). */
  scratch(size: number, dtype: DType): TensorInfo;
}

/** A WebGPU kernel: records one or more dispatches computing `outputs` from `inputs`. */
export type GPUKernel = (
  ctx: KernelContext,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  attrs: any,
) => void;

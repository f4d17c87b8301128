/**
 * What a WasmBackend kernel sees: the kernel module, the address of each tensor's region, and scratch
 * regions that live for the duration of one kernel call. Plus the shape helpers the kernels share.
 */
import type { TensorInfo } from '@descent/core';
import { MAX_RANK } from '../broadcast.js';
import type { KernelExports, KernelModule } from '../module.js';

type Ptr = number;

/** Exports of the kernel module that `KernelModule` has no typed method for (see assembly/*.ts). */
export interface BackendExports extends KernelExports {
  unary_i32(op: number, x: Ptr, y: Ptr, n: number, p0: number, p1: number): void;
  reduce_i32(op: number, x: Ptr, y: Ptr, outer: number, R: number, inner: number): void;
  argreduce_i32(op: number, x: Ptr, y: Ptr, outer: number, R: number, inner: number): void;
  /** Position of the first index outside [0, size), or −1. */
  find_bad_index(idx: Ptr, n: number, size: number): number;
  /** These return the position of the first bad index (nothing written) or −1. */
  gather_32(x: Ptr, idx: Ptr, y: Ptr, outer: number, axisSize: number, inner: number, nIdx: number): number;
  scatter_add_f32(
    u: Ptr,
    idx: Ptr,
    y: Ptr,
    outer: number,
    axisSize: number,
    inner: number,
    nIdx: number,
  ): number;
  scatter_add_i32(
    u: Ptr,
    idx: Ptr,
    y: Ptr,
    outer: number,
    axisSize: number,
    inner: number,
    nIdx: number,
  ): number;
}

export interface WasmKernelContext {
  readonly km: KernelModule;
  readonly exports: BackendExports;
  /** Byte address of a tensor's region (throws for a freed tensor). */
  ptr(t: TensorInfo): Ptr;
  /** A scratch region of `bytes`, freed by the backend when the kernel returns or throws. */
  scratch(bytes: number): Ptr;
}

/** A kernel: reads `inputs`, writes the pre-allocated `outputs` (docs/kernels.md lists the attrs). */
export type WasmKernel = (
  ctx: WasmKernelContext,
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  attrs: any,
) => void;

/** Row-major element strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

export interface StridedPlan {
  /** Rank ≥ 1 (a scalar becomes [1]). */
  shape: number[];
  /** One stride list (elements) per operand. */
  strides: number[][];
}

/**
 * Drops size-1 dims and merges neighbours d−1, d where every operand steps through them as one dim
 * (stride[d−1] = stride[d]·shape[d]), so most plans reach the kernels with rank 1 or 2.
 */
export function simplifyStrided(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): StridedPlan {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k][last] === s[d] * n)) {
      dims[last] *= n;
      strides.forEach((s, k) => {
        st[k][last] = s[d];
      });
    } else {
      dims.push(n);
      strides.forEach((s, k) => {
        st[k].push(s[d]);
      });
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    for (const s of st) s.push(0);
  }
  return { shape: dims, strides: st };
}

/**
 * Calls `run(offsets, shape, strides)` on blocks of rank ≤ MAX_RANK (what the strided kernels take):
 * the plan itself when it fits, else once per index of its leading dims, with each operand's element
 * offset of that block.
 */
export function forEachBlock(
  plan: StridedPlan,
  run: (offsets: number[], shape: number[], strides: number[][]) => void,
): void {
  const rank = plan.shape.length;
  if (rank <= MAX_RANK) {
    run(
      plan.strides.map(() => 0),
      plan.shape,
      plan.strides,
    );
    return;
  }
  const lead = rank - MAX_RANK;
  const shape = plan.shape.slice(lead);
  const strides = plan.strides.map((s) => s.slice(lead));
  const idx = new Array<number>(lead).fill(0);
  const offsets = plan.strides.map(() => 0);
  const blocks = plan.shape.slice(0, lead).reduce((a, b) => a * b, 1);
  for (let b = 0; b < blocks; b++) {
    run(offsets.slice(), shape, strides);
    for (let d = lead - 1; d >= 0; d--) {
      idx[d]++;
      plan.strides.forEach((s, k) => {
        offsets[k] += s[d];
      });
      if (idx[d] < plan.shape[d]) break;
      plan.strides.forEach((s, k) => {
        offsets[k] -= s[d] * plan.shape[d];
      });
      idx[d] = 0;
    }
  }
}

/**
 * dst[Σ i·dstStrides] = src[Σ i·srcStrides] over `shape` (4-byte elements, any rank) with the wasm
 * strided-copy kernel: slices, pads, concat, broadcastTo and high-rank transposes all go through it.
 */
export function copyStrided(
  ctx: WasmKernelContext,
  src: Ptr,
  dst: Ptr,
  shape: readonly number[],
  srcStrides: readonly number[],
  dstStrides: readonly number[],
): void {
  if (shape.some((d) => d === 0)) return;
  forEachBlock(simplifyStrided(shape, [srcStrides, dstStrides]), ([os, od], sh, [ss, ds]) =>
    ctx.km.copyStrided(src + 4 * os, dst + 4 * od, sh, ss, ds),
  );
}

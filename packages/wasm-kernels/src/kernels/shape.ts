/**
 * Data movement: transpose, slice, pad, concat (all strided copies of 4-byte elements, so one kernel
 * serves f32 and i32), gather and scatterAdd (index-checked before anything is written).
 */
import type {
  ConcatKernelAttrs,
  GatherKernelAttrs,
  PadAttrs,
  SliceAttrs,
  TensorInfo,
  TransposeAttrs,
} from '@descent/core';
import { MAX_RANK, simplifyPermutation } from '../broadcast.js';
import { contiguousStrides, copyStrided, type WasmKernel, type WasmKernelContext } from './types.js';

/** 4×4-blocked permute when the merged rank fits the kernel; else a strided copy in blocks. */
const transpose: WasmKernel = (ctx, [x], [y], { perm }: TransposeAttrs) => {
  const merged = simplifyPermutation(x.shape, perm);
  if (merged.shape.length <= MAX_RANK) {
    ctx.km.permute(ctx.ptr(x), ctx.ptr(y), x.shape, perm);
    return;
  }
  const xs = contiguousStrides(x.shape);
  copyStrided(
    ctx,
    ctx.ptr(x),
    ctx.ptr(y),
    y.shape,
    perm.map((p) => xs[p]),
    contiguousStrides(y.shape),
  );
};

const slice: WasmKernel = (ctx, [x], [y], { begin }: SliceAttrs) => {
  const xs = contiguousStrides(x.shape);
  const offset = begin.reduce((o, b, d) => o + b * xs[d], 0);
  copyStrided(ctx, ctx.ptr(x) + 4 * offset, ctx.ptr(y), y.shape, xs, contiguousStrides(y.shape));
};

const pad: WasmKernel = (ctx, [x], [y], { paddings, value }: PadAttrs) => {
  const yp = ctx.ptr(y);
  ctx.km.fill(yp, y.size, value, y.dtype as 'f32' | 'i32'); // f32/i32 only: core refuses f16 here
  const ys = contiguousStrides(y.shape);
  const offset = paddings.reduce((o, [before], d) => o + before * ys[d], 0);
  copyStrided(ctx, ctx.ptr(x), yp + 4 * offset, x.shape, contiguousStrides(x.shape), ys);
};

/** Input i is an [outer, widths[i]] block written at column Σ_{j<i} widths[j] of y [outer, Σ widths]. */
const concat: WasmKernel = (ctx, xs, [y], { outer, widths }: ConcatKernelAttrs) => {
  const total = widths.reduce((a, b) => a + b, 0);
  const yp = ctx.ptr(y);
  let col = 0;
  xs.forEach((x, i) => {
    const w = widths[i];
    copyStrided(ctx, ctx.ptr(x), yp + 4 * col, [outer, w], [w, 1], [total, 1]);
    col += w;
  });
};

function indexError(op: string, ctx: WasmKernelContext, idx: TensorInfo, at: number, size: number): Error {
  const v = ctx.km.readI32(ctx.ptr(idx) + 4 * at, 1)[0];
  return new RangeError(
    `index ${v} (at position ${at} of the indices) is out of range [0, ${size}) on the ${op} axis`,
  );
}

const gather: WasmKernel = (ctx, [x, idx], [y], a: GatherKernelAttrs) => {
  const bad = ctx.exports.gather_32(
    ctx.ptr(x),
    ctx.ptr(idx),
    ctx.ptr(y),
    a.outer,
    a.axisSize,
    a.inner,
    a.numIndices,
  );
  if (bad >= 0) throw indexError('gather', ctx, idx, bad, a.axisSize);
};

const scatterAdd: WasmKernel = (ctx, [u, idx], [y], a: GatherKernelAttrs) => {
  const kernel = u.dtype === 'i32' ? ctx.exports.scatter_add_i32 : ctx.exports.scatter_add_f32;
  const bad = kernel(ctx.ptr(u), ctx.ptr(idx), ctx.ptr(y), a.outer, a.axisSize, a.inner, a.numIndices);
  if (bad >= 0) throw indexError('scatterAdd', ctx, idx, bad, a.axisSize);
};

export const shapeKernels: Record<string, WasmKernel> = { transpose, slice, pad, concat, gather, scatterAdd };

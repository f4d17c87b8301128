/** Row kernels over the last axis: softmax, logSoftmax, crossEntropy (+ backward), layerNorm, rmsNorm; batchNorm. */
import type { CrossEntropyKernelAttrs, NormKernelAttrs, RowKernelAttrs } from '@descent/core';
import type { WasmKernel, WasmKernelContext } from './types.js';

/** Max-subtracted: y = exp(x − max) / Σ exp(x − max) per row. */
const softmax: WasmKernel = (ctx, [x], [y], { rows, size }: RowKernelAttrs) => {
  ctx.km.softmax(ctx.ptr(x), ctx.ptr(y), rows, size);
};

const logSoftmax: WasmKernel = (ctx, [x], [y], { rows, size }: RowKernelAttrs) => {
  ctx.km.logSoftmax(ctx.ptr(x), ctx.ptr(y), rows, size);
};

/** Labels are checked first (the kernels alone would write NaN, or skip the target, for a bad label). */
function checkLabels(ctx: WasmKernelContext, lp: number, rows: number, size: number): void {
  const bad = ctx.exports.find_bad_index(lp, rows, size);
  if (bad >= 0) {
    const label = ctx.km.readI32(lp + 4 * bad, 1)[0];
    throw new RangeError(`label ${label} in row ${bad} is out of range [0, ${size})`);
  }
}

const crossEntropy: WasmKernel = (ctx, [x, labels], [loss], a: CrossEntropyKernelAttrs) => {
  const lp = ctx.ptr(labels);
  checkLabels(ctx, lp, a.rows, a.size);
  ctx.km.crossEntropy(ctx.ptr(x), lp, ctx.ptr(loss), a.rows, a.size, a.labelSmoothing);
};

/**
 * dlogits = (softmax(x) − target)·g per row in one kernel: Σexp on exp's row fast path, then one pass
 * writing e·(g/Σ) − g·ε/C, and the label element corrected by −g·(1−ε). g has one value per row (stride 1).
 */
const crossEntropyBackward: WasmKernel = (ctx, [x, labels, g], [dx], a: CrossEntropyKernelAttrs) => {
  const lp = ctx.ptr(labels);
  checkLabels(ctx, lp, a.rows, a.size);
  ctx.km.crossEntropyBackward(ctx.ptr(x), lp, ctx.ptr(g), 1, ctx.ptr(dx), a.rows, a.size, a.labelSmoothing);
};

const layerNorm: WasmKernel = (ctx, [x, gamma, beta], [y], { rows, size, eps }: NormKernelAttrs) => {
  ctx.km.layerNorm(ctx.ptr(x), ctx.ptr(gamma), ctx.ptr(beta), ctx.ptr(y), rows, size, eps);
};

const rmsNorm: WasmKernel = (ctx, [x, gamma], [y], { rows, size, eps }: NormKernelAttrs) => {
  ctx.km.rmsNorm(ctx.ptr(x), ctx.ptr(gamma), ctx.ptr(y), rows, size, eps);
};

/** Channels last: `size` is the channel count. */
const batchNorm: WasmKernel = (
  ctx,
  [x, mean, variance, gamma, beta],
  [y],
  { rows, size, eps }: NormKernelAttrs,
) => {
  const p = ctx.ptr.bind(ctx);
  ctx.km.batchNormApply(p(x), p(mean), p(variance), p(gamma), p(beta), p(y), rows, size, eps);
};

export const nnKernels: Record<string, WasmKernel> = {
  softmax,
  logSoftmax,
  crossEntropy,
  crossEntropyBackward,
  layerNorm,
  rmsNorm,
  batchNorm,
};

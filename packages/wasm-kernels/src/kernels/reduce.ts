/** Reductions over the [outer, reduceSize, inner] view core hands every reduction kernel. */
import type { ReduceKernelAttrs } from '@descent/core';
import { ArgReduceOp, ReduceOp } from '../ops.js';
import type { WasmKernel } from './types.js';

function reduceKernel(op: 'sum' | 'max' | 'min'): WasmKernel {
  return (ctx, [x], [y], { outer, reduceSize, inner }: ReduceKernelAttrs) => {
    const [xp, yp] = [ctx.ptr(x), ctx.ptr(y)];
    if (x.dtype === 'i32') ctx.exports.reduce_i32(ReduceOp[op], xp, yp, outer, reduceSize, inner);
    else ctx.km.reduce(op, xp, yp, outer, reduceSize, inner);
  };
}

/** First extreme wins; a NaN counts as the extreme. Output i32. */
function argKernel(op: 'argmax' | 'argmin'): WasmKernel {
  return (ctx, [x], [y], { outer, reduceSize, inner }: ReduceKernelAttrs) => {
    const [xp, yp] = [ctx.ptr(x), ctx.ptr(y)];
    if (x.dtype === 'i32') ctx.exports.argreduce_i32(ArgReduceOp[op], xp, yp, outer, reduceSize, inner);
    else ctx.km.argReduce(op, xp, yp, outer, reduceSize, inner);
  };
}

export const reduceKernels: Record<string, WasmKernel> = {
  sum: reduceKernel('sum'),
  max: reduceKernel('max'),
  min: reduceKernel('min'),
  argmax: argKernel('argmax'),
  argmin: argKernel('argmin'),
};

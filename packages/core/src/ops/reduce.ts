import { noGrad } from '../autograd/api.js';
import { DescentError, fmtShape } from '../errors.js';
import { defineOp, type OpDef, runOp } from '../op.js';
import { normalizeAxes, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, clamp, div, equal, exp, log, mul, square, sub, where } from './elementwise.js';
import { broadcastTo, reshape, transpose } from './shape-ops.js';
import { composite } from './util.js';

/**
 * Reductions run on a canonical view: the input as [outer, reduceSize, inner] with the reduced axes
 * contiguous in the middle. Core transposes first when the requested axes are not contiguous, so a
 * kernel only ever handles this one layout. Output: [outer, inner] elements.
 */
export interface ReduceKernelAttrs {
  outer: number;
  reduceSize: number;
  inner: number;
}

/** Attrs of the reduction ops: a contiguous run of axes [first, last], and keepDims. */
export interface ReduceAttrs {
  axes: number[];
  keepDims: boolean;
}

function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

function reduceOp(
  name: string,
  opts: { argIndex?: boolean; needsNonEmpty?: boolean; backward?: OpDef<ReduceAttrs>['backward'] },
): OpDef<ReduceAttrs> {
  return defineOp<ReduceAttrs>({
    name,
    infer([x], { axes, keepDims }) {
      if (opts.needsNonEmpty && axes.some((a) => x.shape[a] === 0)) {
        throw new DescentError(
          name,
          `cannot reduce over an empty axis: shape ${fmtShape(x.shape)}, axes [${axes.join(', ')}]`,
        );
      }
      return [{ shape: reducedShape(x.shape, axes, keepDims), dtype: opts.argIndex ? 'i32' : x.dtype }];
    },
    kernelAttrs: ([x], { axes }): ReduceKernelAttrs => {
      const first = axes.length ? axes[0] : x.rank;
      const last = axes.length ? axes[axes.length - 1] : x.rank - 1;
      return {
        outer: sizeOf(x.shape.slice(0, first)),
        reduceSize: sizeOf(x.shape.slice(first, last + 1)),
        inner: sizeOf(x.shape.slice(last + 1)),
      };
    },
    backward: opts.backward,
  });
}

/** Broadcasts a reduced gradient (or value) back over the reduced axes of `x`. */
function expandBack(t: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return broadcastTo(reshape(t, reducedShape(x.shape, axes, true)), x.shape);
}

export const Sum = reduceOp('sum', {
  backward: ({ inputs: [x], grads: [g], attrs: { axes } }) => [expandBack(g!, x, axes)],
});

/** max/min backward: the gradient is shared evenly between tied extreme elements (as PyTorch's amax). */
const extremeBackward: OpDef<ReduceAttrs>['backward'] = ({
  inputs: [x],
  outputs: [y],
  grads: [g],
  attrs: { axes },
}) => {
  const mask = equal(x, expandBack(y, x, axes));
  const count = sum(mask, axes, true);
  return [mul(mask, expandBack(div(reshape(g!, count.shape), count), x, axes))];
};
export const Max = reduceOp('max', { needsNonEmpty: true, backward: extremeBackward });
export const Min = reduceOp('min', { needsNonEmpty: true, backward: extremeBackward });
export const Argmax = reduceOp('argmax', { argIndex: true, needsNonEmpty: true });
export const Argmin = reduceOp('argmin', { argIndex: true, needsNonEmpty: true });

/**
 * Applies a reduction over any set of axes: contiguous axes go straight to the kernel; otherwise the
 * reduced axes are first moved (transposed) to the end.
 */
function reduce(
  def: OpDef<ReduceAttrs>,
  x: Tensor,
  axes: number | readonly number[] | undefined,
  keepDims: boolean,
): Tensor {
  const list = normalizeAxes(def.name, axes, x.shape);
  const contiguous = list.every((a, i) => i === 0 || a === list[i - 1] + 1);
  if (contiguous) return runOp(def, [x], { axes: list, keepDims })[0];
  return composite([x], () => {
    const kept = x.shape.map((_, i) => i).filter((i) => !list.includes(i));
    const moved = transpose(x, [...kept, ...list]);
    const tail = list.map((_, i) => kept.length + i);
    const r = runOp(def, [moved], { axes: tail, keepDims: false })[0];
    return keepDims ? reshape(r, reducedShape(x.shape, list, true)) : r;
  });
}

export const sum = (x: Tensor, axes?: number | readonly number[], keepDims = false) =>
  reduce(Sum, x, axes, keepDims);
export const max = (x: Tensor, axes?: number | readonly number[], keepDims = false) =>
  reduce(Max, x, axes, keepDims);
export const min = (x: Tensor, axes?: number | readonly number[], keepDims = false) =>
  reduce(Min, x, axes, keepDims);

/** Index (i32) of the largest element along one axis; the first one on ties. */
export function argmax(x: Tensor, axis = -1, keepDims = false): Tensor {
  if (typeof axis !== 'number') throw new DescentError('argmax', 'takes a single axis');
  return reduce(Argmax, x, axis, keepDims);
}
export function argmin(x: Tensor, axis = -1, keepDims = false): Tensor {
  if (typeof axis !== 'number') throw new DescentError('argmin', 'takes a single axis');
  return reduce(Argmin, x, axis, keepDims);
}

function countOf(x: Tensor, axes: number | readonly number[] | undefined): number {
  return normalizeAxes('mean', axes, x.shape).reduce((n, a) => n * x.shape[a], 1);
}

/** Mean over axes (NaN over an empty axis, like NumPy). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  if (x.dtype !== 'f32')
    throw new DescentError('mean', `expected an f32 tensor, got ${x.dtype} (cast first)`);
  const n = countOf(x, axes);
  return composite([x], () => mul(sum(x, axes, keepDims), 1 / n));
}

/** Variance over axes; `correction` = 1 gives the unbiased (Bessel) estimate. */
export function variance(
  x: Tensor,
  axes?: number | readonly number[],
  keepDims = false,
  correction = 0,
): Tensor {
  if (x.dtype !== 'f32') throw new DescentError('variance', `expected an f32 tensor, got ${x.dtype}`);
  const n = countOf(x, axes);
  return composite([x], () => {
    const centered = sub(x, mean(x, axes, true));
    return mul(sum(square(centered), axes, keepDims), 1 / (n - correction));
  });
}

/**
 * log Σ exp(x) over axes, stably: m + log Σ exp(x − m) with m the (detached) max, clamped to a finite
 * value so an all −∞ slice gives −∞ instead of NaN.
 *
 * Confident slices (one x far above the rest, with m near 0) need the sum split: Σ = k + s', k the
 * number of maxima (their exp(x − m) is exactly 1) and s' the rest. log Σ = log1p((k − 1) + s'), so
 * log(1 + s') keeps s' even where fl(1 + s') = 1 (x = [0, −20]: 2.06e-9, not 0). The k terms are summed
 * from the maxima's own exp(x − m), so every element keeps its gradient exp(x_j − m)/Σ = softmax.
 * log1p(t) is log(u)·(t/(u − 1)) with u = fl(1 + t) (t itself where u = 1), its gradient that of log(u),
 * 1/u: the correction log(u)·(t/(u − 1) − 1) is detached, since t/(u − 1) differs from 1 by u's rounding
 * relative to t (up to 15% for t ≈ 3e-7), which is right for the value and wrong as a derivative.
 */
export function logSumExp(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  if (x.dtype !== 'f32') throw new DescentError('logSumExp', `expected an f32 tensor, got ${x.dtype}`);
  return composite([x], () => {
    const m = noGrad(() => clamp(max(x, axes, true), -3.4028234663852886e38, 3.4028234663852886e38));
    const e = exp(sub(x, m));
    const isMax = noGrad(() => equal(x, m));
    const k = sum(where(isMax, e, 0), axes, true);
    const rest = sum(where(isMax, 0, e), axes, true);
    const t = add(sub(k, 1), rest);
    const u = add(t, 1);
    const exact = noGrad(() => equal(u, 1));
    const lu = log(u);
    // value log(u)·t/(u − 1); gradient that of log(u), 1/u (the factor is 1 only up to u's rounding)
    const correction = noGrad(() => mul(lu, sub(div(t, where(exact, 1, sub(u, 1))), 1)));
    const out = add(where(exact, t, add(lu, correction)), m);
    return keepDims
      ? out
      : reshape(out, reducedShape(x.shape, normalizeAxes('logSumExp', axes, x.shape), false));
  });
}

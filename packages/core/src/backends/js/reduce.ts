import type { ReduceKernelAttrs } from '../../ops/reduce.js';
import type { JsKernel } from './types.js';

/** Folds each [outer, ·, inner] column with `step`, in float64, starting from `init`. */
function reduceKernel(init: number, step: (acc: number, v: number) => number): JsKernel {
  return ([x], [y], { outer, reduceSize, inner }: ReduceKernelAttrs) => {
    const xs = x.array;
    const ys = y.array;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = init;
        for (let r = 0; r < reduceSize; r++) acc = step(acc, xs[(o * reduceSize + r) * inner + i]);
        ys[o * inner + i] = acc;
      }
    }
  };
}

/** Index of the first extreme element; a NaN counts as the extreme (as in NumPy). */
function argKernel(better: (v: number, best: number) => boolean): JsKernel {
  return ([x], [y], { outer, reduceSize, inner }: ReduceKernelAttrs) => {
    const xs = x.array;
    const ys = y.array;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let best = xs[o * reduceSize * inner + i];
        let at = 0;
        for (let r = 1; r < reduceSize && !Number.isNaN(best); r++) {
          const v = xs[(o * reduceSize + r) * inner + i];
          if (Number.isNaN(v) || better(v, best)) {
            best = v;
            at = r;
          }
        }
        ys[o * inner + i] = at;
      }
    }
  };
}

export const reduceKernels: Record<string, JsKernel> = {
  sum: reduceKernel(0, (a, v) => a + v),
  max: reduceKernel(Number.NEGATIVE_INFINITY, Math.max), // Math.max/min propagate NaN
  min: reduceKernel(Number.POSITIVE_INFINITY, Math.min),
  argmax: argKernel((v, best) => v > best),
  argmin: argKernel((v, best) => v < best),
};

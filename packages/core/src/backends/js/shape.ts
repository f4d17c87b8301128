import type {
  ConcatKernelAttrs,
  GatherKernelAttrs,
  PadAttrs,
  SliceAttrs,
  TransposeAttrs,
} from '../../ops/shape-ops.js';
import { stridesOf } from '../../shape.js';
import type { JsKernel } from './types.js';

/** Calls visit(outIndex, multiIndex) for every element of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], visit: (i: number, idx: number[]) => void): void {
  const total = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < total; i++) {
    visit(i, idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

const transpose: JsKernel = ([x], [y], { perm }: TransposeAttrs) => {
  const xStrides = stridesOf(x.shape);
  const src = perm.map((p) => xStrides[p]);
  forEachIndex(y.shape, (i, idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += idx[d] * src[d];
    y.array[i] = x.array[off];
  });
};

const slice: JsKernel = ([x], [y], { begin }: SliceAttrs) => {
  const xStrides = stridesOf(x.shape);
  forEachIndex(y.shape, (i, idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += (idx[d] + begin[d]) * xStrides[d];
    y.array[i] = x.array[off];
  });
};

const pad: JsKernel = ([x], [y], { paddings, value }: PadAttrs) => {
  const yStrides = stridesOf(y.shape);
  y.array.fill(value);
  forEachIndex(x.shape, (i, idx) => {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += (idx[d] + paddings[d][0]) * yStrides[d];
    y.array[off] = x.array[i];
  });
};

const concat: JsKernel = (xs, [y], { outer, widths }: ConcatKernelAttrs) => {
  const total = widths.reduce((a, b) => a + b, 0);
  for (let o = 0; o < outer; o++) {
    let col = 0;
    xs.forEach((x, k) => {
      const w = widths[k];
      for (let j = 0; j < w; j++) y.array[o * total + col + j] = x.array[o * w + j];
      col += w;
    });
  }
};

function checkIndex(op: string, v: number, size: number): void {
  if (v < 0 || v >= size) throw new RangeError(`${op}: index ${v} is out of range [0, ${size})`);
}

const gather: JsKernel = ([x, idx], [y], { outer, axisSize, inner, numIndices }: GatherKernelAttrs) => {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < numIndices; j++) {
      const v = idx.array[j];
      checkIndex('gather', v, axisSize);
      for (let i = 0; i < inner; i++)
        y.array[(o * numIndices + j) * inner + i] = x.array[(o * axisSize + v) * inner + i];
    }
  }
};

const scatterAdd: JsKernel = ([u, idx], [y], { outer, axisSize, inner, numIndices }: GatherKernelAttrs) => {
  y.array.fill(0);
  for (let j = 0; j < numIndices; j++) checkIndex('scatterAdd', idx.array[j], axisSize);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < numIndices; j++) {
      const v = idx.array[j];
      for (let i = 0; i < inner; i++)
        y.array[(o * axisSize + v) * inner + i] += u.array[(o * numIndices + j) * inner + i];
    }
  }
};

export const shapeKernels: Record<string, JsKernel> = { transpose, slice, pad, concat, gather, scatterAdd };

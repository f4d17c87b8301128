import { DescentError, fmtShape } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major element strides. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new DescentError(
        op,
        `invalid shape ${fmtShape(shape)}: dimensions must be non-negative integers`,
      );
    }
  }
}

/** Resolves a possibly negative axis against a rank, with an error naming the op and the shape. */
export function normalizeAxis(op: string, axis: number, shape: Shape): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new DescentError(
      op,
      `axis ${axis} is out of range for a tensor of shape ${fmtShape(shape)} (expected an integer in [${-rank}, ${rank - 1}])`,
    );
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalizes and sorts a set of axes (undefined = all axes); rejects duplicates. */
export function normalizeAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  shape: Shape,
): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normalizeAxis(op, a, shape)).sort((a, b) => a - b);
  for (let i = 1; i < out.length; i++) {
    if (out[i] === out[i - 1])
      throw new DescentError(op, `axis ${out[i]} appears twice in [${list.join(', ')}]`);
  }
  return out;
}

/** NumPy broadcasting of two shapes; the error names the op, both shapes and the axis that disagrees. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new DescentError(
        op,
        `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast: axis ${i - rank} has sizes ${da} and ${db} (expected equal sizes or 1)`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Element strides that read `inShape` as if it were broadcast to `outShape` (0 on broadcast axes).
 * `inShape` is right-aligned against `outShape`.
 */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const own = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((_, i) => {
    const j = i - off;
    return j < 0 || inShape[j] === 1 ? 0 : own[j];
  });
}

/**
 * A broadcast plan handed to elementwise kernels: the output shape and, per input, the element strides
 * to read it. Adjacent axes are merged when every input steps through them contiguously (or not at all),
 * so most plans have rank 1 or 2 and kernels can take fast paths. Size-1 axes are dropped.
 */
export interface BroadcastPlan {
  readonly outShape: number[];
  readonly strides: number[][];
}

export function broadcastPlan(outShape: Shape, inShapes: readonly Shape[]): BroadcastPlan {
  let dims: number[] = [];
  let strides: number[][] = inShapes.map(() => []);
  const full = inShapes.map((s) => broadcastStrides(s, outShape));
  for (let i = 0; i < outShape.length; i++) {
    if (outShape[i] === 1) continue;
    dims.push(outShape[i]);
    for (let k = 0; k < full.length; k++) strides[k].push(full[k][i]);
  }
  // Merge axis i into i-1 when, for every input, stride[i-1] == stride[i] * dim[i].
  const mergedDims: number[] = [];
  const mergedStrides: number[][] = inShapes.map(() => []);
  for (let i = 0; i < dims.length; i++) {
    const last = mergedDims.length - 1;
    const canMerge = last >= 0 && strides.every((s, k) => mergedStrides[k][last] === s[i] * dims[i]);
    if (canMerge) {
      mergedDims[last] *= dims[i];
      strides.forEach((s, k) => {
        mergedStrides[k][last] = s[i];
      });
    } else {
      mergedDims.push(dims[i]);
      for (let k = 0; k < strides.length; k++) mergedStrides[k].push(strides[k][i]);
    }
  }
  dims = mergedDims;
  strides = mergedStrides;
  return { outShape: dims, strides };
}

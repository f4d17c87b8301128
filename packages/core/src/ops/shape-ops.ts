import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { checkInputs, defineOp, type OpDef, record, runOp } from '../op.js';
import {
  broadcastShapes,
  broadcastStrides,
  checkShape,
  normalizeAxis,
  shapesEqual,
  sizeOf,
} from '../shape.js';
import type { Tensor } from '../tensor.js';
import { arange } from './creation.js';
import { equal } from './elementwise.js';
import { sum } from './reduce.js';
import { composite } from './util.js';

// ------------------------------------------------------------------------------- reshape (a view)

interface ReshapeAttrs {
  shape: readonly number[];
}
/** Reshape shares storage and runs no kernel; it is on the tape so gradients flow through it. */
const Reshape: OpDef<ReshapeAttrs> = {
  name: 'reshape',
  infer: ([x], { shape }) => [{ shape, dtype: x.dtype }],
  backward: ({ inputs: [x], grads: [g] }) => [reshape(g!, x.shape)],
};

function resolveShape(x: Tensor, shape: readonly number[]): number[] {
  const out = shape.slice();
  const infer = out.indexOf(-1);
  if (infer !== out.lastIndexOf(-1))
    throw new DescentError('reshape', `only one dimension can be -1, got ${fmtShape(shape)}`);
  if (infer >= 0) {
    const known = out.reduce((p, d, i) => (i === infer ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new DescentError(
        'reshape',
        `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`,
      );
    }
    out[infer] = x.size / known;
  }
  checkShape('reshape', out);
  if (sizeOf(out) !== x.size) {
    throw new DescentError(
      'reshape',
      `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)} (${sizeOf(out)} elements)`,
    );
  }
  return out;
}

/** Same data, new shape (one dimension may be -1). Shares storage; no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkInputs('reshape', [x]);
  const target = resolveShape(x, shape);
  const out = engine.makeView(x, target);
  record(Reshape, [x], [out], { shape: target });
  return out;
}

/** A new tensor on the same storage, recorded on the tape (used by functional grad). */
export const identity = (x: Tensor): Tensor => reshape(x, x.shape);

export const flatten = (x: Tensor): Tensor => reshape(x, [x.size]);

export function expandDims(x: Tensor, axis: number): Tensor {
  const shape = x.shape.slice();
  const a = normalizeAxis('expandDims', axis, [...shape, 1]);
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Removes size-1 axes (the given ones, or all). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const list =
    axes === undefined
      ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
      : typeof axes === 'number'
        ? [axes]
        : axes;
  const norm = list.map((a) => normalizeAxis('squeeze', a, x.shape));
  for (const a of norm) {
    if (x.shape[a] !== 1)
      throw new DescentError(
        'squeeze',
        `axis ${a} of shape ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`,
      );
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !norm.includes(i)),
  );
}

// ------------------------------------------------------------------------------- transpose

export interface TransposeAttrs {
  perm: number[];
}
export const Transpose = defineOp<TransposeAttrs>({
  name: 'transpose',
  infer([x], { perm }) {
    const ok = perm.length === x.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!ok)
      throw new DescentError(
        'transpose',
        `perm [${perm.join(', ')}] is not a permutation of the ${x.rank} axes of ${fmtShape(x.shape)}`,
      );
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  backward: ({ grads: [g], attrs: { perm } }) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [transpose(g!, inverse)];
  },
});

/** Permutes axes (default: reverses them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm
    ? perm.map((a) => normalizeAxis('transpose', a, x.shape))
    : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.every((a, i) => a === i)) return identity(x);
  return runOp(Transpose, [x], { perm: p })[0];
}
export const permute = transpose;

// ------------------------------------------------------------------------------- slice / pad

export interface SliceAttrs {
  begin: number[];
  size: number[];
}
export const Slice = defineOp<SliceAttrs>({
  name: 'slice',
  infer([x], { begin, size }) {
    if (begin.length !== x.rank || size.length !== x.rank) {
      throw new DescentError(
        'slice',
        `begin [${begin.join(', ')}] and size [${size.join(', ')}] must have one entry per axis of ${fmtShape(x.shape)}`,
      );
    }
    x.shape.forEach((d, i) => {
      if (begin[i] < 0 || size[i] < 0 || begin[i] + size[i] > d) {
        throw new DescentError(
          'slice',
          `axis ${i}: begin ${begin[i]} + size ${size[i]} is outside [0, ${d}] for shape ${fmtShape(x.shape)}`,
        );
      }
    });
    return [{ shape: size, dtype: x.dtype }];
  },
  backward: ({ inputs: [x], grads: [g], attrs: { begin, size } }) => [
    pad(
      g!,
      begin.map((b, i) => [b, x.shape[i] - b - size[i]]),
    ),
  ],
});

/** The block starting at `begin` with extent `size` (-1 = to the end). Negative begins count from the end. */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length > x.rank)
    throw new DescentError('slice', `begin has ${begin.length} entries for shape ${fmtShape(x.shape)}`);
  const b = x.shape.map((d, i) => {
    const v = begin[i] ?? 0;
    return v < 0 ? v + d : v;
  });
  const s = x.shape.map((d, i) => {
    const v = size?.[i] ?? -1;
    return v === -1 ? d - b[i] : v;
  });
  return runOp(Slice, [x], { begin: b, size: s })[0];
}

export interface PadAttrs {
  paddings: [number, number][];
  value: number;
}
export const Pad = defineOp<PadAttrs>({
  name: 'pad',
  infer([x], { paddings, value }) {
    if (
      paddings.length !== x.rank ||
      paddings.some((p) => p.length !== 2 || p.some((v) => !Number.isInteger(v) || v < 0))
    ) {
      throw new DescentError(
        'pad',
        `paddings must be one [before, after] pair of non-negative integers per axis of ${fmtShape(x.shape)}, got ${JSON.stringify(paddings)}`,
      );
    }
    if (typeof value !== 'number')
      throw new DescentError('pad', `pad value must be a number, got ${typeof value}`);
    return [{ shape: x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]), dtype: x.dtype }];
  },
  backward: ({ inputs: [x], grads: [g], attrs: { paddings } }) => [
    slice(
      g!,
      paddings.map((p) => p[0]),
      x.shape,
    ),
  ],
});

/** Pads each axis with `[before, after]` elements of `value` (default 0). */
export function pad(
  x: Tensor,
  paddings: readonly (readonly [number, number] | number[])[],
  value = 0,
): Tensor {
  const p = paddings.map((q) => [q[0], q[1]] as [number, number]);
  return runOp(Pad, [x], { paddings: p, value })[0];
}

// ------------------------------------------------------------------------------- concat / stack

export interface ConcatAttrs {
  axis: number;
}
/**
 * Kernel attrs: inputs seen as [outer, widths[i]] blocks; the output is [outer, Σ widths] with the
 * blocks side by side (width = size of the concat axis × everything after it).
 */
export interface ConcatKernelAttrs {
  outer: number;
  widths: number[];
}
export const Concat = defineOp<ConcatAttrs>({
  name: 'concat',
  infer(xs, { axis }) {
    if (xs.length === 0) throw new DescentError('concat', 'needs at least one tensor');
    const first = xs[0];
    const shape = first.shape.slice();
    xs.forEach((x, k) => {
      if (x.dtype !== first.dtype)
        throw new DescentError('concat', `input ${k} has dtype ${x.dtype}, input 0 has ${first.dtype}`);
      if (x.rank !== first.rank || x.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new DescentError(
          'concat',
          `input ${k} has shape ${fmtShape(x.shape)}, incompatible with ${fmtShape(first.shape)} along axis ${axis} (all other axes must match)`,
        );
      }
      if (k > 0) shape[axis] += x.shape[axis];
    });
    return [{ shape, dtype: first.dtype }];
  },
  kernelAttrs: (xs, { axis }): ConcatKernelAttrs => {
    const outer = sizeOf(xs[0].shape.slice(0, axis));
    const inner = sizeOf(xs[0].shape.slice(axis + 1));
    return { outer, widths: xs.map((x) => x.shape[axis] * inner) };
  },
  backward: ({ inputs, grads: [g], attrs: { axis } }) => {
    let offset = 0;
    return inputs.map((x) => {
      const begin = x.shape.map((_, i) => (i === axis ? offset : 0));
      offset += x.shape[axis];
      return slice(g!, begin, x.shape);
    });
  },
});

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new DescentError('concat', 'needs at least one tensor');
  const a = normalizeAxis('concat', axis, xs[0].shape);
  return runOp(Concat, xs, { axis: a })[0];
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new DescentError('stack', 'needs at least one tensor');
  const a = normalizeAxis('stack', axis, [...xs[0].shape, 1]);
  return composite(xs, () =>
    concat(
      xs.map((x) => expandDims(x, a)),
      a,
    ),
  );
}

// ------------------------------------------------------------------------------- gather / scatterAdd

export interface GatherAttrs {
  axis: number;
}
/** Kernel attrs: x seen as [outer, axisSize, inner]; indices flattened to numIndices entries. */
export interface GatherKernelAttrs {
  outer: number;
  axisSize: number;
  inner: number;
  numIndices: number;
}
export const Gather = defineOp<GatherAttrs>({
  name: 'gather',
  infer([x, idx], { axis }) {
    if (idx.dtype !== 'i32')
      throw new DescentError(
        'gather',
        `indices must be i32, got ${idx.dtype} of shape ${fmtShape(idx.shape)}`,
      );
    return [{ shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], dtype: x.dtype }];
  },
  kernelAttrs: ([x, idx], { axis }): GatherKernelAttrs => ({
    outer: sizeOf(x.shape.slice(0, axis)),
    axisSize: x.shape[axis],
    inner: sizeOf(x.shape.slice(axis + 1)),
    numIndices: idx.size,
  }),
  differentiableInputs: [0],
  backward: ({ inputs: [x, idx], grads: [g], attrs: { axis } }) => [
    scatterAdd(g!, idx, axis, x.shape[axis]),
    null,
  ],
});

/** Picks slices of `x` along `axis` by i32 `indices` (embedding lookup is `gather(table, ids, 0)`). */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  return runOp(Gather, [x, indices], { axis: normalizeAxis('gather', axis, x.shape) })[0];
}

export interface ScatterAddAttrs {
  axis: number;
  size: number;
}
export const ScatterAdd = defineOp<ScatterAddAttrs>({
  name: 'scatterAdd',
  infer([u, idx], { axis, size }) {
    if (idx.dtype !== 'i32') throw new DescentError('scatterAdd', `indices must be i32, got ${idx.dtype}`);
    const lead = u.shape.slice(0, axis);
    const mid = u.shape.slice(axis, axis + idx.rank);
    if (!shapesEqual(mid, idx.shape)) {
      throw new DescentError(
        'scatterAdd',
        `updates ${fmtShape(u.shape)} must contain the indices shape ${fmtShape(idx.shape)} at axis ${axis}`,
      );
    }
    return [{ shape: [...lead, size, ...u.shape.slice(axis + idx.rank)], dtype: u.dtype }];
  },
  kernelAttrs: ([u, idx], { axis, size }): GatherKernelAttrs => ({
    outer: sizeOf(u.shape.slice(0, axis)),
    axisSize: size,
    inner: sizeOf(u.shape.slice(axis + idx.rank)),
    numIndices: idx.size,
  }),
  differentiableInputs: [0],
  backward: ({ inputs: [, idx], grads: [g], attrs: { axis } }) => [gather(g!, idx, axis), null],
});

/** Zeros of extent `size` on `axis`, with each slice of `updates` added at its index (duplicates add up). */
export function scatterAdd(updates: Tensor, indices: Tensor, axis: number, size: number): Tensor {
  if (!Number.isInteger(size) || size < 0)
    throw new DescentError('scatterAdd', `size must be a non-negative integer, got ${size}`);
  return runOp(ScatterAdd, [updates, indices], { axis, size })[0];
}

/** One-hot rows for i32 `indices`: shape [...indices.shape, depth], f32. Out-of-range indices give all-zero rows. */
export function oneHot(indices: Tensor, depth: number): Tensor {
  if (indices.dtype !== 'i32') throw new DescentError('oneHot', `indices must be i32, got ${indices.dtype}`);
  return composite([], () =>
    equal(expandDims(indices, -1), arange(0, depth, 1, { dtype: 'i32', backend: indices.backend })),
  );
}

// ------------------------------------------------------------------------------- broadcasting

export interface BroadcastToAttrs {
  shape: number[];
}
export const BroadcastTo = defineOp<BroadcastToAttrs>({
  name: 'broadcastTo',
  infer([x], { shape }) {
    const out = broadcastShapes('broadcastTo', x.shape, shape);
    if (!shapesEqual(out, shape))
      throw new DescentError('broadcastTo', `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
    return [{ shape, dtype: x.dtype }];
  },
  kernelAttrs: ([x], { shape }) => ({ outShape: shape, strides: [broadcastStrides(x.shape, shape)] }),
  backward: ({ inputs: [x], grads: [g] }) => [sumToShape(g!, x.shape)],
});

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(x.shape, shape)) return identity(x);
  return runOp(BroadcastTo, [x], { shape: shape.slice() })[0];
}

/** Sums `g` over the axes that broadcasting expanded, giving a tensor of `shape` (undoes broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = sum(g, axes, true);
  if (shapesEqual(summed.shape, shape)) return summed;
  return reshape(summed, shape);
}

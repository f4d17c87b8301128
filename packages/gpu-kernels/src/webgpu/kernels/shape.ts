/**
 * Data movement. transpose, slice and pad are one generator — an "index map": each output element
 * peels its multi-index off the output shape, maps every axis to a source coordinate
 * (c − lo[d], which must lie in [0, inDim[d]) or the element is the fill value) and reads the source
 * at Σ coordinate·stride[d]. Values move as u32 bits, so one pipeline serves f32 and i32.
 * concat is one strided copy per input (along the first axis: a buffer-to-buffer copy command each);
 * gather reads rows by index; scatterAdd is deterministic:
 * each output element sums its own updates in index order (no float atomics in WGSL).
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { needsSplit, offsetRange, splitRange, type WalkAxis, windowOver } from '../split.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';

const stridesOf = (shape: readonly number[]) => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
};

/**
 * Params: [n, rank, fillBits, then per axis d: outDim, lo (i32), inDim, stride; then start, x bias,
 * y bias]. Thread i handles output g = start + i, reads x[off − x bias] and writes y[g − y bias]
 * (biases: the bound windows' offsets, when the tensors are larger than one binding).
 */
function indexMap(
  ctx: KernelContext,
  x: TensorInfo,
  y: TensorInfo,
  axes: { outDim: number; lo: number; inDim: number; stride: number }[],
  fill = 0,
): void {
  const split = needsSplit(ctx.split, x, y);
  // The source offset of an output coordinate c on axis d: clamp(c − lo, 0, inDim − 1)·stride, a
  // non-decreasing function of c (the clamp only widens the window to padding positions).
  const walk: WalkAxis[] = axes.map((a) => ({
    dim: a.outDim,
    at: (c: number) => Math.min(Math.max(c - a.lo, 0), a.inDim - 1) * a.stride,
  }));
  const { alignElements } = ctx.split;
  const pieces = split
    ? splitRange(y.size, ctx.split, (s, e) => [
        windowOver(...offsetRange(walk, s, e), alignElements),
        windowOver(s, e - 1, alignElements),
      ])
    : [{ s: 0, e: y.size, windows: [{ offset: 0 }, { offset: 0 }] }];
  for (const { s, e, windows } of pieces) {
    const params = new Params().u32(e - s, axes.length).as(x.dtype === 'i32' ? 'i32' : 'f32', fill);
    for (const a of axes) params.u32(a.outDim).i32(a.lo).u32(a.inDim, a.stride);
    params.u32(s, windows[0].offset, windows[1].offset);
    ctx.dispatch({
      key: 'indexMap',
      wgsl: () =>
        [
          header([{ name: 'x', elem: 'u32' }], [{ name: 'y', elem: 'u32' }], params.length),
          linearMain(
            'pu(0u)',
            `  let rank = pu(1u);
  let extra = 3u + rank * 4u;
  let g = pu(extra) + i;
  var rem = g;
  var off = 0u;
  var inside = true;
  for (var e = rank; e > 0u; e = e - 1u) {
    let b = 3u + (e - 1u) * 4u;
    let dim = pu(b);
    let c = i32(rem % dim) - pi(b + 1u);
    rem = rem / dim;
    if (c < 0 || u32(c) >= pu(b + 2u)) { inside = false; } else { off = off + u32(c) * pu(b + 3u); }
  }
  let yi = g - pu(extra + 2u);
  if (inside) { y[yi] = x[off - pu(extra + 1u)]; } else { y[yi] = pu(2u); }`,
          ),
        ].join('\n'),
      inputs: [x],
      outputs: [y],
      params,
      workgroups: grid1d(e - s),
      windows: split ? (windows as { offset: number; size: number }[]) : undefined,
    });
  }
}

const BIG = 0x7fffffff;

const transpose: GPUKernel = (ctx, [x], [y], { perm }: { perm: number[] }) => {
  const xs = stridesOf(x.shape);
  indexMap(
    ctx,
    x,
    y,
    y.shape.map((d, i) => ({ outDim: d, lo: 0, inDim: BIG, stride: xs[perm[i]] })),
  );
};

const slice: GPUKernel = (ctx, [x], [y], { begin }: { begin: number[] }) => {
  const xs = stridesOf(x.shape);
  indexMap(
    ctx,
    x,
    y,
    y.shape.map((d, i) => ({ outDim: d, lo: -begin[i], inDim: BIG, stride: xs[i] })),
  );
};

const pad: GPUKernel = (
  ctx,
  [x],
  [y],
  { paddings, value }: { paddings: [number, number][]; value: number },
) => {
  const xs = stridesOf(x.shape);
  indexMap(
    ctx,
    x,
    y,
    y.shape.map((d, i) => ({ outDim: d, lo: paddings[i][0], inDim: x.shape[i], stride: xs[i] })),
    value,
  );
};

/**
 * Params: [n, width, total, column offset, start, x bias, y bias]:
 * y[(g / width)·total + off + g % width] = x[g] for g = start + i (biases as in indexMap).
 */
const concat: GPUKernel = (ctx, xs, [y], { outer, widths }: { outer: number; widths: number[] }) => {
  // Along the first axis every input is one contiguous block of y: a buffer-to-buffer copy each, no
  // shader and no binding limit — how flat-mode optimizers gather a model's gradients at memcpy
  // speed (as dispatches it cost one per input plus an integer division per element).
  if (outer === 1) {
    let at = 0;
    for (const x of xs) {
      ctx.copy(x, y, at);
      at += x.size;
    }
    return;
  }
  const total = widths.reduce((a, b) => a + b, 0);
  const { alignElements } = ctx.split;
  let off = 0;
  xs.forEach((x, k) => {
    const w = widths[k];
    const n = outer * w;
    const yAt = (g: number) => Math.floor(g / w) * total + off + (g % w);
    const split = needsSplit(ctx.split, x, y);
    const pieces = split
      ? splitRange(n, ctx.split, (s, e) => [
          windowOver(s, e - 1, alignElements),
          windowOver(yAt(s), yAt(e - 1), alignElements),
        ])
      : [{ s: 0, e: n, windows: [{ offset: 0 }, { offset: 0 }] }];
    for (const { s, e, windows } of n > 0 ? pieces : []) {
      const params = new Params().u32(e - s, w, total, off, s, windows[0].offset, windows[1].offset);
      ctx.dispatch({
        key: 'concat',
        wgsl: () =>
          [
            header([{ name: 'x', elem: 'u32' }], [{ name: 'y', elem: 'u32' }], params.length),
            linearMain(
              'pu(0u)',
              '  let w = pu(1u);\n  let g = pu(4u) + i;\n  y[(g / w) * pu(2u) + pu(3u) + g % w - pu(6u)] = x[g - pu(5u)];',
            ),
          ].join('\n'),
        inputs: [x],
        outputs: [y],
        params,
        workgroups: grid1d(e - s),
        windows: split ? (windows as { offset: number; size: number }[]) : undefined,
      });
    }
    off += w;
  });
};

interface GatherAttrs {
  outer: number;
  axisSize: number;
  inner: number;
  numIndices: number;
}

/**
 * y[o, j, i] = x[o, idx[j], i]. An index out of [0, axisSize) cannot throw from a GPU kernel: its
 * row is filled with zero bits (documented in the README).
 */
const gather: GPUKernel = (ctx, [x, idx], [y], { axisSize, inner, numIndices }: GatherAttrs) => {
  const params = new Params().u32(y.size, axisSize, inner, numIndices);
  ctx.dispatch({
    key: 'gather',
    wgsl: () =>
      [
        header(
          [
            { name: 'x', elem: 'u32' },
            { name: 'idx', elem: 'i32' },
          ],
          [{ name: 'y', elem: 'u32' }],
          params.length,
        ),
        linearMain(
          'pu(0u)',
          `  let A = pu(1u);
  let inner = pu(2u);
  let J = pu(3u);
  let ii = i % inner;
  let j = (i / inner) % J;
  let o = i / (inner * J);
  let v = idx[j];
  if (v < 0 || u32(v) >= A) { y[i] = 0u; } else { y[i] = x[(o * A + u32(v)) * inner + ii]; }`,
        ),
      ].join('\n'),
    inputs: [x, idx],
    outputs: [y],
    params,
    workgroups: grid1d(y.size),
  });
};

/** y[o, v, i] = Σ_{j: idx[j] = v} u[o, j, i], summed in increasing j (deterministic). */
const scatterAdd: GPUKernel = (ctx, [u, idx], [y], { axisSize, inner, numIndices }: GatherAttrs) => {
  const e = u.dtype === 'i32' ? 'i32' : 'f32';
  const params = new Params().u32(y.size, axisSize, inner, numIndices);
  ctx.dispatch({
    key: `scatterAdd/${e}`,
    wgsl: () =>
      [
        header(
          [
            { name: 'u', elem: e },
            { name: 'idx', elem: 'i32' },
          ],
          [{ name: 'y', elem: e }],
          params.length,
        ),
        linearMain(
          'pu(0u)',
          `  let A = pu(1u);
  let inner = pu(2u);
  let J = pu(3u);
  let ii = i % inner;
  let v = i32((i / inner) % A);
  let o = i / (inner * A);
  var acc = ${e}(0);
  for (var j = 0u; j < J; j = j + 1u) {
    if (idx[j] == v) { acc = acc + u[(o * J + j) * inner + ii]; }
  }
  y[i] = acc;`,
        ),
      ].join('\n'),
    inputs: [u, idx],
    outputs: [y],
    params,
    workgroups: grid1d(y.size),
  });
};

export const shapeKernels: Record<string, GPUKernel> = { transpose, slice, pad, concat, gather, scatterAdd };

/** The ops above that run over tensors larger than one storage binding (see ../split.ts). */
export const shapeSplitting = ['transpose', 'slice', 'pad', 'concat'];

/**
 * Data movement. transpose, slice and pad are one generator — an "index map": each output element
 * peels its multi-index off the output shape, maps every axis to a source coordinate
 * (c − lo[d], which must lie in [0, inDim[d]) or the element is the fill value) and reads the source
 * at Σ coordinate·stride[d]. Values move as u32 bits, so one pipeline serves f32 and i32.
 * concat is one strided copy per input; gather reads rows by index; scatterAdd is deterministic:
 * each output element sums its own updates in index order (no float atomics in WGSL).
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
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

/** Params: [n, rank, fillBits, then per axis d: outDim, lo (i32), inDim, stride]. */
function indexMap(
  ctx: KernelContext,
  x: TensorInfo,
  y: TensorInfo,
  axes: { outDim: number; lo: number; inDim: number; stride: number }[],
  fill = 0,
): void {
  const params = new Params().u32(y.size, axes.length).as(x.dtype === 'i32' ? 'i32' : 'f32', fill);
  for (const a of axes) params.u32(a.outDim).i32(a.lo).u32(a.inDim, a.stride);
  ctx.dispatch({
    key: 'indexMap',
    wgsl: () =>
      [
        header([{ name: 'x', elem: 'u32' }], [{ name: 'y', elem: 'u32' }], params.length),
        linearMain(
          'pu(0u)',
          `  let rank = pu(1u);
  var rem = i;
  var off = 0u;
  var inside = true;
  for (var e = rank; e > 0u; e = e - 1u) {
    let b = 3u + (e - 1u) * 4u;
    let dim = pu(b);
    let c = i32(rem % dim) - pi(b + 1u);
    rem = rem / dim;
    if (c < 0 || u32(c) >= pu(b + 2u)) { inside = false; } else { off = off + u32(c) * pu(b + 3u); }
  }
  if (inside) { y[i] = x[off]; } else { y[i] = pu(2u); }`,
        ),
      ].join('\n'),
    inputs: [x],
    outputs: [y],
    params,
    workgroups: grid1d(y.size),
  });
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

/** Params: [n, width, total, column offset]: y[o·total + off + j] = x[o·width + j]. */
const concat: GPUKernel = (ctx, xs, [y], { outer, widths }: { outer: number; widths: number[] }) => {
  const total = widths.reduce((a, b) => a + b, 0);
  let off = 0;
  xs.forEach((x, k) => {
    const w = widths[k];
    const n = outer * w;
    if (n > 0) {
      const params = new Params().u32(n, w, total, off);
      ctx.dispatch({
        key: 'concat',
        wgsl: () =>
          [
            header([{ name: 'x', elem: 'u32' }], [{ name: 'y', elem: 'u32' }], params.length),
            linearMain('pu(0u)', '  let w = pu(1u);\n  y[(i / w) * pu(2u) + pu(3u) + i % w] = x[i];'),
          ].join('\n'),
        inputs: [x],
        outputs: [y],
        params,
        workgroups: grid1d(n),
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

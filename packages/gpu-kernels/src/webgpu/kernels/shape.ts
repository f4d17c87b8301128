/**
 * Data movement. transpose, slice and pad are one generator — an "index map": each output element
 * peels its multi-index off the output shape, maps every axis to a source coordinate
 * (c − lo[d], which must lie in [0, inDim[d]) or the element is the fill value) and reads the source
 * at Σ coordinate·stride[d]. Values move as u32 bits, so one pipeline serves f32 and i32.
 * concat is one strided copy per input (along the first axis: one dispatch per up to 8 inputs);
 * gather reads rows by index; scatterAdd is deterministic:
 * each output element sums its own updates in index order (no float atomics in WGSL).
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { needsSplit, offsetRange, splitRange, type WalkAxis, windowOver } from '../split.js';
import { grid1d, header, linearMain, Params, WG } from '../wgsl.js';

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

/** Elements each thread of the gathering concat copies (strided by the workgroup size: coalesced). */
const GATHER_PER_THREAD = 16;

/**
 * A concat along the first axis (outer = 1: every input one contiguous block of y), with no tensor
 * larger than one binding: up to `slots` (≤ 8) inputs per dispatch. How flat-mode optimizers gather a
 * model's gradients — as one dispatch per input it cost as many dispatches as the per-tensor updates
 * it replaces, plus an integer division and remainder per element.
 *
 * Each workgroup copies 256·GATHER_PER_THREAD elements of one input; the workgroups of input k are
 * numbered from its start word, so the input is found by a scan that is uniform in the workgroup
 * (no divergence) and picked by a `switch` (WGSL cannot index bindings). Unused slots bind input 0
 * again with no workgroups (read-only bindings may alias), so one pipeline serves every batch.
 * Params: [slots, total workgroups, then per slot: n, y offset, first workgroup].
 */
function gatherConcat(ctx: KernelContext, xs: readonly TensorInfo[], y: TensorInfo, slots: number): void {
  const per = WG * GATHER_PER_THREAD;
  const items: { x: TensorInfo; off: number }[] = [];
  let off = 0;
  for (const x of xs) {
    if (x.size > 0) items.push({ x, off });
    off += x.size;
  }
  for (let b = 0; b < items.length; b += slots) {
    const batch = items.slice(b, b + slots);
    // Workgroups of each slot, numbered consecutively (an unused slot has none).
    const first: number[] = [];
    let groups = 0;
    for (let k = 0; k < slots; k++) {
      first.push(groups);
      if (batch[k]) groups += Math.ceil(batch[k].x.size / per);
    }
    const params = new Params().u32(slots, groups);
    for (let k = 0; k < slots; k++) params.u32(batch[k]?.x.size ?? 0, batch[k]?.off ?? 0, first[k]);
    const copyCases = Array.from(
      { length: slots },
      (_, k) => `    case ${k}u: {
      for (var j = 0u; j < ${GATHER_PER_THREAD}u; j = j + 1u) {
        let r = base + j * ${WG}u + lid;
        if (r >= n) { break; }
        y[yo + r] = x${k}[r];
      }
    }`,
    ).join('\n');
    ctx.dispatch({
      key: `concat/gather${slots}`,
      wgsl: () =>
        [
          header(
            Array.from({ length: slots }, (_, k) => ({ name: `x${k}`, elem: 'u32' as const })),
            [{ name: 'y', elem: 'u32' }],
            2 + 3 * slots,
          ),
          `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= pu(1u)) { return; }
  var k = 0u;
  for (var s = 1u; s < pu(0u); s = s + 1u) {
    if (w >= pu(4u + 3u * s)) { k = s; }
  }
  let n = pu(2u + 3u * k);
  let yo = pu(3u + 3u * k);
  let base = (w - pu(4u + 3u * k)) * ${per}u;
  switch k {
${copyCases}
    default: {}
  }
}`,
        ].join('\n'),
      inputs: Array.from({ length: slots }, (_, k) => (batch[k] ?? batch[0]).x),
      outputs: [y],
      params,
      workgroups: grid1d(groups * WG),
    });
  }
}

/**
 * Params: [n, width, total, column offset, start, x bias, y bias]:
 * y[(g / width)·total + off + g % width] = x[g] for g = start + i (biases as in indexMap).
 * A concat along the first axis of tensors that fit one binding is `gatherConcat` instead.
 */
const concat: GPUKernel = (ctx, xs, [y], { outer, widths }: { outer: number; widths: number[] }) => {
  // Inputs per dispatch: the storage bindings left beside y, at most 8 — each slot adds a case to
  // the shader's switch, and on lavapipe (which runs every case under a lane mask) 15 slots copied
  // a 38-tensor gather slower than 8 (9 ms vs 5 ms; one dispatch per input: 17 ms).
  const slots = Math.min(8, (ctx.limits.maxStorageBuffersPerShaderStage || 8) - 1);
  if (outer === 1 && xs.length > 1 && slots >= 2 && !needsSplit(ctx.split, y, ...xs)) {
    gatherConcat(ctx, xs, y, slots);
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

/**
 * Row kernels (one workgroup per row, reductions in workgroup memory): softmax, logSoftmax,
 * crossEntropy (max-subtracted, with the accurate exp/log of wgsl-math), layerNorm, rmsNorm; and the
 * elementwise batchNorm. One generator builds each row kernel from its passes.
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { type BindingWindow, needsSplit, splitRange, windowOver } from '../split.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';
import { mathLib } from '../wgsl-math.js';

const RWG = 256;

/** Workgroup reductions over `red` (sum, and max with NaN propagation). */
const WG_REDUCE = `
var<workgroup> red: array<f32, ${RWG}>;
fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn max_nan(a: f32, b: f32) -> f32 { return select(max(a, b), f32_nan(), is_nan(a) || is_nan(b)); }
fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max_nan(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

/**
 * Row-kernel parameters: [rows, size, attr (f32: eps or label smoothing), row base, vector base].
 * Row `row` of a [rows, size] binding starts at row·size + row base, its entry in a [rows] binding
 * (labels, per-row losses) is at row + vector base; both are 0 unless the tensors are split.
 */
const ROW_WORDS = 5;

/** How a row kernel's binding is laid out, which decides its window when rows are split. */
type RowLayout = 'rows' | 'vector' | 'whole';

/**
 * Dispatches a row kernel over all rows at once, or — when a tensor is larger than one binding — over
 * runs of rows, binding the runs' windows of the [rows, size] and [rows] tensors (per-column
 * parameters such as gamma are bound whole). A single row larger than a binding is not split.
 */
function rowDispatch(
  ctx: KernelContext,
  kernel: { key: string; wgsl: () => string },
  { rows, size, attr = 0 }: { rows: number; size: number; attr?: number },
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
  layout: readonly RowLayout[],
): void {
  const all = [...inputs, ...outputs];
  const { alignElements, maxElements } = ctx.split;
  const split = needsSplit(ctx.split, ...all);
  if (split && size > maxElements - alignElements)
    throw new Error(
      `webgpu ${ctx.op}: a row of ${size} elements is larger than one storage binding (${maxElements} ` +
        'elements); rows are split across dispatches, a single row is not',
    );
  const windowsOf = (s: number, e: number): BindingWindow[] =>
    all.map((t, i) =>
      layout[i] === 'rows'
        ? windowOver(s * size, e * size - 1, alignElements)
        : layout[i] === 'vector'
          ? windowOver(s, e - 1, alignElements)
          : { offset: 0, size: t.size },
    );
  const pieces = split ? splitRange(rows, ctx.split, windowsOf) : [{ s: 0, e: rows, windows: null }];
  for (const { s, e, windows } of pieces) {
    const at = (l: RowLayout, base: number) => {
      const i = layout.indexOf(l);
      return windows && i >= 0 ? base - windows[i].offset : 0;
    };
    const params = new Params()
      .u32(e - s, size)
      .f32(attr)
      .u32(at('rows', s * size), at('vector', s));
    ctx.dispatch({
      ...kernel,
      inputs,
      outputs,
      params,
      workgroups: grid1d(e - s, 1),
      windows: windows ?? undefined,
    });
  }
}

/**
 * A row kernel: `body` runs once per workgroup with `row`, `size` (= pu(1)), `base` (where the row
 * starts in a [rows, size] binding), `vrow` (its index in a [rows] binding) and `lid` defined; it
 * strides over the row with `for (var j = lid; j < size; j += ${RWG})`.
 */
function rowKernel(
  key: string,
  inputs: { name: string; elem: 'f32' | 'i32' }[],
  body: string,
  math: string[] = [],
): { key: string; wgsl: () => string } {
  return {
    key,
    wgsl: () => `${header(inputs, [{ name: 'y', elem: 'f32' }], ROW_WORDS)}
${mathLib(['consts', ...math])}
${WG_REDUCE}
@compute @workgroup_size(${RWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let size = pu(1u);
  let base = row * size + pu(3u);
  let vrow = row + pu(4u);
${body}
}`,
  };
}

const LOOP = `for (var j = lid; j < size; j = j + ${RWG}u)`;

interface RowAttrs {
  rows: number;
  size: number;
}

function softmaxKernel(log: boolean): GPUKernel {
  return (ctx, [x], [y], { rows, size }: RowAttrs) => {
    const body = `
  var m = -f32_inf();
  ${LOOP} { m = max_nan(m, x[base + j]); }
  m = wg_max(m, lid);
  var s = 0.0f;
  ${LOOP} { s = s + exp_acc(x[base + j] - m); }
  s = wg_sum(s, lid);
  ${
    log
      ? `let ls = log_acc(s);\n  ${LOOP} { y[base + j] = (x[base + j] - m) - ls; }`
      : `let inv = 1.0f / s;\n  ${LOOP} { y[base + j] = exp_acc(x[base + j] - m) * inv; }`
  }`;
    rowDispatch(
      ctx,
      rowKernel(log ? 'logSoftmax' : 'softmax', [{ name: 'x', elem: 'f32' }], body, ['exp', 'log']),
      { rows, size },
      [x],
      [y],
      ['rows', 'rows'],
    );
  };
}

/**
 * lse(x) − (1−ε)·x[label] − (ε/size)·Σx per row. A label outside [0, size) cannot throw from the
 * GPU: that row's loss is NaN.
 */
const crossEntropy: GPUKernel = (
  ctx,
  [x, labels],
  [y],
  { rows, size, labelSmoothing }: RowAttrs & { labelSmoothing: number },
) => {
  const body = `
  let eps = pf(2u);
  var m = -f32_inf();
  ${LOOP} { m = max_nan(m, x[base + j]); }
  m = wg_max(m, lid);
  var s = 0.0f;
  var t = 0.0f;
  ${LOOP} { let v = x[base + j]; s = s + exp_acc(v - m); t = t + v; }
  s = wg_sum(s, lid);
  t = wg_sum(t, lid);
  if (lid == 0u) {
    let label = labels[vrow];
    if (label < 0 || u32(label) >= size) {
      y[vrow] = f32_nan();
    } else {
      y[vrow] = (m + log_acc(s)) - (1.0f - eps) * x[base + u32(label)] - (eps / f32(size)) * t;
    }
  }`;
  rowDispatch(
    ctx,
    rowKernel(
      'crossEntropy',
      [
        { name: 'x', elem: 'f32' },
        { name: 'labels', elem: 'i32' },
      ],
      body,
      ['exp', 'log'],
    ),
    { rows, size, attr: labelSmoothing },
    [x, labels],
    [y],
    ['rows', 'vector', 'vector'],
  );
};

interface NormAttrs extends RowAttrs {
  eps: number;
}

const layerNorm: GPUKernel = (ctx, [x, gamma, beta], [y], { rows, size, eps }: NormAttrs) => {
  const body = `
  var s = 0.0f;
  ${LOOP} { s = s + x[base + j]; }
  let mu = wg_sum(s, lid) / f32(size);
  var v = 0.0f;
  ${LOOP} { let d = x[base + j] - mu; v = v + d * d; }
  let rstd = 1.0f / sqrt(wg_sum(v, lid) / f32(size) + pf(2u));
  ${LOOP} { y[base + j] = (x[base + j] - mu) * rstd * gamma[j] + beta[j]; }`;
  rowDispatch(
    ctx,
    rowKernel(
      'layerNorm',
      [
        { name: 'x', elem: 'f32' },
        { name: 'gamma', elem: 'f32' },
        { name: 'beta', elem: 'f32' },
      ],
      body,
    ),
    { rows, size, attr: eps },
    [x, gamma, beta],
    [y],
    ['rows', 'whole', 'whole', 'rows'],
  );
};

const rmsNorm: GPUKernel = (ctx, [x, gamma], [y], { rows, size, eps }: NormAttrs) => {
  const body = `
  var s = 0.0f;
  ${LOOP} { let v = x[base + j]; s = s + v * v; }
  let rstd = 1.0f / sqrt(wg_sum(s, lid) / f32(size) + pf(2u));
  ${LOOP} { y[base + j] = x[base + j] * rstd * gamma[j]; }`;
  rowDispatch(
    ctx,
    rowKernel(
      'rmsNorm',
      [
        { name: 'x', elem: 'f32' },
        { name: 'gamma', elem: 'f32' },
      ],
      body,
    ),
    { rows, size, attr: eps },
    [x, gamma],
    [y],
    ['rows', 'whole', 'rows'],
  );
};

/** y = (x − mean)·rsqrt(var + eps)·gamma + beta, channel = last axis. */
const batchNorm: GPUKernel = (ctx, [x, mean, variance, gamma, beta], [y], { size, eps }: NormAttrs) => {
  const params = new Params().u32(x.size, size).f32(eps);
  const names = ['x', 'mean', 'variance', 'gamma', 'beta'];
  ctx.dispatch({
    key: 'batchNorm',
    wgsl: () =>
      [
        header(
          names.map((name) => ({ name, elem: 'f32' as const })),
          [{ name: 'y', elem: 'f32' }],
          params.length,
        ),
        linearMain(
          'pu(0u)',
          '  let c = i % pu(1u);\n  y[i] = (x[i] - mean[c]) / sqrt(variance[c] + pf(2u)) * gamma[c] + beta[c];',
        ),
      ].join('\n'),
    inputs: [x, mean, variance, gamma, beta],
    outputs: [y],
    params,
    workgroups: grid1d(x.size),
  });
};

export const nnKernels: Record<string, GPUKernel> = {
  softmax: softmaxKernel(false),
  logSoftmax: softmaxKernel(true),
  crossEntropy,
  layerNorm,
  rmsNorm,
  batchNorm,
};

/** The ops above that run over tensors larger than one storage binding (see ../split.ts). */
export const nnSplitting = ['softmax', 'logSoftmax', 'crossEntropy', 'layerNorm', 'rmsNorm'];

/**
 * Row kernels (one workgroup per row, reductions in workgroup memory): softmax, logSoftmax,
 * crossEntropy (max-subtracted, with the accurate exp/log of wgsl-math), layerNorm, rmsNorm; and the
 * elementwise batchNorm. One generator builds each row kernel from its passes.
 */
import type { GPUKernel } from '../kernel.js';
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
 * A row kernel: `body` runs once per workgroup with `row`, `size` (= pu(1)), `base` = row·size and
 * `lid` defined; it strides over the row with `for (var j = lid; j < size; j += ${RWG})`.
 */
function rowKernel(
  key: string,
  inputs: { name: string; elem: 'f32' | 'i32' }[],
  params: Params,
  body: string,
  math: string[] = [],
): { key: string; wgsl: () => string } {
  return {
    key,
    wgsl: () => `${header(inputs, [{ name: 'y', elem: 'f32' }], params.length)}
${mathLib(['consts', ...math])}
${WG_REDUCE}
@compute @workgroup_size(${RWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= pu(0u)) { return; }
  let size = pu(1u);
  let base = row * size;
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
    const params = new Params().u32(rows, size);
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
    ctx.dispatch({
      ...rowKernel(log ? 'logSoftmax' : 'softmax', [{ name: 'x', elem: 'f32' }], params, body, [
        'exp',
        'log',
      ]),
      inputs: [x],
      outputs: [y],
      params,
      workgroups: grid1d(rows, 1),
    });
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
  const params = new Params().u32(rows, size).f32(labelSmoothing);
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
    let label = labels[row];
    if (label < 0 || u32(label) >= size) {
      y[row] = f32_nan();
    } else {
      y[row] = (m + log_acc(s)) - (1.0f - eps) * x[base + u32(label)] - (eps / f32(size)) * t;
    }
  }`;
  ctx.dispatch({
    ...rowKernel(
      'crossEntropy',
      [
        { name: 'x', elem: 'f32' },
        { name: 'labels', elem: 'i32' },
      ],
      params,
      body,
      ['exp', 'log'],
    ),
    inputs: [x, labels],
    outputs: [y],
    params,
    workgroups: grid1d(rows, 1),
  });
};

interface NormAttrs extends RowAttrs {
  eps: number;
}

const layerNorm: GPUKernel = (ctx, [x, gamma, beta], [y], { rows, size, eps }: NormAttrs) => {
  const params = new Params().u32(rows, size).f32(eps);
  const body = `
  var s = 0.0f;
  ${LOOP} { s = s + x[base + j]; }
  let mu = wg_sum(s, lid) / f32(size);
  var v = 0.0f;
  ${LOOP} { let d = x[base + j] - mu; v = v + d * d; }
  let rstd = 1.0f / sqrt(wg_sum(v, lid) / f32(size) + pf(2u));
  ${LOOP} { y[base + j] = (x[base + j] - mu) * rstd * gamma[j] + beta[j]; }`;
  ctx.dispatch({
    ...rowKernel(
      'layerNorm',
      [
        { name: 'x', elem: 'f32' },
        { name: 'gamma', elem: 'f32' },
        { name: 'beta', elem: 'f32' },
      ],
      params,
      body,
    ),
    inputs: [x, gamma, beta],
    outputs: [y],
    params,
    workgroups: grid1d(rows, 1),
  });
};

const rmsNorm: GPUKernel = (ctx, [x, gamma], [y], { rows, size, eps }: NormAttrs) => {
  const params = new Params().u32(rows, size).f32(eps);
  const body = `
  var s = 0.0f;
  ${LOOP} { let v = x[base + j]; s = s + v * v; }
  let rstd = 1.0f / sqrt(wg_sum(s, lid) / f32(size) + pf(2u));
  ${LOOP} { y[base + j] = x[base + j] * rstd * gamma[j]; }`;
  ctx.dispatch({
    ...rowKernel(
      'rmsNorm',
      [
        { name: 'x', elem: 'f32' },
        { name: 'gamma', elem: 'f32' },
      ],
      params,
      body,
    ),
    inputs: [x, gamma],
    outputs: [y],
    params,
    workgroups: grid1d(rows, 1),
  });
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

/**
 * Row kernels (one workgroup per row, reductions in workgroup memory): softmax, logSoftmax,
 * crossEntropy and its logits gradient (max-subtracted, with the accurate exp/log of wgsl-math), layerNorm, rmsNorm; and the
 * elementwise batchNorm. One generator builds each row kernel from its passes.
 *
 * Why the row kernels look the way they do (they were the slowest part of this backend): a row gets
 * `rowThreads(size)` invocations — 64 for rows up to 2048, 256 beyond — each striding over the row
 * (neighbouring invocations read neighbouring elements: coalesced). Fewer invocations per row means a
 * shallower tree (6 levels) and fewer barriers, which are what CPU rasterizers (lavapipe, SwiftShader)
 * pay for most — they run a workgroup's invocations as SIMD batches and switch between them at every
 * barrier — while GPUs still get one workgroup per row of many rows. The softmax family takes each
 * invocation's own max m_t first, then Σ exp(x − m_t) over its elements, and merges the (m_t, s_t)
 * pairs in ONE tree with the rescaling s = s₁·e^(m₁−m) + s₂·e^(m₂−m), m = max(m₁, m₂): one tree instead
 * of two, and softmax evaluates exp once per element (it keeps e^(x − m_t) in y and scales y by
 * e^(m_t − M)/S in place) instead of twice. logSoftmax and crossEntropy merge (m_t, c_t, r_t) instead —
 * the count of elements at m_t and Σ e^(x − m_t) over the others — so that log Σ can be log1p of the
 * rest in a confident row (logSum). A row whose max M is not finite (a NaN, +∞, or all −∞) is
 * NaN throughout, as in the reference (its e^(x − M) is NaN there).
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { alignedPieces, type BindingWindow, needsSplit, splitRange, windowOver } from '../split.js';
import { grid1d, header, linearMain, Params } from '../wgsl.js';
import { mathLib } from '../wgsl-math.js';

/** Invocations per row: 64 (a 6-level tree) unless the row is long enough to keep 256 busy. */
export const rowThreads = (size: number) => (size > 2048 ? 256 : 64);

/**
 * Workgroup reductions over `RW` invocations (a WGSL constant the kernel defines): sums, max with NaN
 * propagation, and the (max, Σexp) merge of the softmax family. Each returns the result to every
 * invocation.
 */
const WG_REDUCE = `
var<workgroup> red: array<f32, RW>;
var<workgroup> red2: array<f32, RW>;
var<workgroup> red3: array<f32, RW>;
fn max_nan(a: f32, b: f32) -> f32 { return select(max(a, b), f32_nan(), is_nan(a) || is_nan(b)); }
fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = RW / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = RW / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max_nan(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
// s·e^(m − mm) for a partial sum s taken at max m, rescaled to the larger max mm (m = −∞: s = 0).
fn rescale(s: f32, m: f32, mm: f32) -> f32 { return select(s * exp_acc(m - mm), 0.0f, s == 0.0f); }
// (M, S): the row max and Σ e^(x − M), from each invocation's (m_t, s_t = Σ e^(x − m_t)).
fn wg_max_sumexp(m: f32, s: f32, lid: u32) -> vec2<f32> {
  red[lid] = m;
  red2[lid] = s;
  workgroupBarrier();
  for (var k = RW / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) {
      let m1 = red[lid];
      let m2 = red[lid + k];
      let mm = max_nan(m1, m2);
      red2[lid] = rescale(red2[lid], m1, mm) + rescale(red2[lid + k], m2, mm);
      red[lid] = mm;
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(red[0], red2[0]);
  workgroupBarrier();
  return r;
}
// A partial sum taken at max m, as (c, r): c elements equal to m (each e⁰ = 1) and r = Σ e^(x − m) over
// the rest, seen from the larger max mm: kept as it is when m = mm, else all of it rescaled into the rest.
fn at_max(c: f32, r: f32, m: f32, mm: f32) -> vec2<f32> {
  if (m == mm) { return vec2<f32>(c, r); }
  return vec2<f32>(0.0f, rescale(c + r, m, mm));
}
// (M, C, R): the row max, how many elements equal it and Σ e^(x − M) over the others, from each
// invocation's (m_t, c_t, r_t) — the sum split so that log Σ can be log1p(R) when C = 1 (see logSum).
fn wg_max_count_rest(m: f32, c: f32, r: f32, lid: u32) -> vec3<f32> {
  red[lid] = m;
  red2[lid] = c;
  red3[lid] = r;
  workgroupBarrier();
  for (var k = RW / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) {
      let m1 = red[lid];
      let m2 = red[lid + k];
      let mm = max_nan(m1, m2);
      let a = at_max(red2[lid], red3[lid], m1, mm);
      let b = at_max(red2[lid + k], red3[lid + k], m2, mm);
      red2[lid] = a.x + b.x;
      red3[lid] = a.y + b.y;
      red[lid] = mm;
    }
    workgroupBarrier();
  }
  let out = vec3<f32>(red[0], red2[0], red3[0]);
  workgroupBarrier();
  return out;
}
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }`;

/**
 * WGSL for log Σ e^(x − M) from the split sum Σ = C + R (C elements at the max M, R the rest): log1p(R)
 * when C = 1, log(C + R) otherwise. In a confident row (one logit L above the rest) R ≈ e⁻ᴸ can be under
 * f32's precision of 1, where log(1 + R) = 0 — yet log Σ ≈ R is the whole log-softmax at the max and the
 * loss of a label there. With C ≥ 2, log(C + R) ≥ log 2 and the sum's rounding is relative.
 */
const logSum = (c: string, r: string) => `select(log_acc(${c} + ${r}), log1p_acc(${r}), ${c} == 1.0f)`;

/**
 * Row-kernel parameters: [rows, size, attr (f32: eps or label smoothing), row base, vector base].
 * Row `row` of a [rows, size] binding starts at row·size + row base, its entry in a [rows] binding
 * (labels, per-row losses) is at row + vector base; both are 0 unless the tensors are split.
 */
const ROW_WORDS = 5;

/**
 * How a row kernel's binding is laid out, which decides its window when rows are split: 'rows' a
 * [rows, size] tensor, 'vector' a [rows] one (labels, per-row losses and gradients), 'whole' a per-column
 * [size] parameter (gamma, beta: bound whole, or a long row's segment of columns).
 */
type RowLayout = 'rows' | 'vector' | 'whole';

interface RowBinding {
  name: string;
  elem: 'f32' | 'i32';
  layout: RowLayout;
}

const X: RowBinding = { name: 'x', elem: 'f32', layout: 'rows' };
const LABELS: RowBinding = { name: 'labels', elem: 'i32', layout: 'vector' };
const column = (name: string): RowBinding => ({ name, elem: 'f32', layout: 'whole' });

/**
 * Every row op: its input bindings (the row data x first; the output y follows them), y's layout, and the
 * phases of its long-row form (see longRows).
 */
const ROW_OPS = {
  softmax: { inputs: [X], y: 'rows', longPhases: ['stats', 'write'] },
  logSoftmax: { inputs: [X], y: 'rows', longPhases: ['stats', 'write'] },
  crossEntropy: { inputs: [X, LABELS], y: 'vector', longPhases: ['stats'] },
  crossEntropyBackward: {
    inputs: [X, LABELS, { name: 'g', elem: 'f32', layout: 'vector' }],
    y: 'rows',
    longPhases: ['stats', 'write'],
  },
  layerNorm: { inputs: [X, column('gamma'), column('beta')], y: 'rows', longPhases: ['sum', 'dev', 'write'] },
  rmsNorm: { inputs: [X, column('gamma')], y: 'rows', longPhases: ['sumsq', 'write'] },
} satisfies Record<string, { inputs: RowBinding[]; y: RowLayout; longPhases: string[] }>;

type RowOp = keyof typeof ROW_OPS;

/**
 * Runs row op `op` (its kernel: `body` after rowKernel's prelude, with the WGSL math `math` beyond exp)
 * over all rows at once, or — when a tensor is larger than one binding — over runs of rows, binding the
 * runs' windows of the [rows, size] and [rows] tensors (per-column parameters such as gamma are bound
 * whole). Rows longer than one binding go to `longRows`.
 */
function rowDispatch(
  ctx: KernelContext,
  op: RowOp,
  body: string,
  { rows, size, attr = 0 }: { rows: number; size: number; attr?: number },
  inputs: readonly TensorInfo[],
  y: TensorInfo,
  math: string[] = [],
): void {
  const kernel = rowKernel(op, rowThreads(size), body, math);
  const outputs = [y];
  const layout = [...ROW_OPS[op].inputs.map((b) => b.layout), ROW_OPS[op].y];
  const all = [...inputs, ...outputs];
  const { alignElements, maxElements } = ctx.split;
  const split = needsSplit(ctx.split, ...all);
  if (split && size > maxElements - alignElements) {
    longRows(ctx, op, { rows, size, attr }, inputs, outputs);
    return;
  }
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

// ------------------------------------------------------------------------------------ long rows

/**
 * Rows longer than one storage binding: each row is walked in segments of at most one binding, one
 * workgroup per (row, segment), in phases. Each phase runs over every segment of every row before the
 * next starts (dispatches in a pass are ordered), gathering per-row statistics in a scratch tensor
 * `st` (5 words per row) that the later phases read:
 * - softmax / logSoftmax / crossEntropy(Backward): `stats` merges each segment's max m and Σexp(x − m) into the
 *   row's running (max, sum) — s' = s·e^(m − m') + s_seg·e^(m_seg − m'), the online softmax
 *   recurrence (logSoftmax and crossEntropy keep the sum split, see longLogSumStats) — plus Σx and
 *   x[label] for crossEntropy, whose loss the last segment writes; `write` produces the outputs;
 * - layerNorm: Σx, then Σ(x − μ)², then `write`; rmsNorm: Σx², then `write`.
 * Segment sums are workgroup trees, so only the merge across segments adds roundings (a handful).
 * The phases of each op are its `longPhases` in ROW_OPS.
 */
/**
 * Params: [segment length, segment's first column j0, size, stats index (5·row), first segment,
 * last segment, attr (f32), x/y base (the segment's start in the x window — y, when it is per element,
 * is bound with the same window), column base (j0 in the gamma/beta windows), vector base (the row in
 * the labels / loss windows)].
 */
/** A long row's loop over its segment's elements. */
const SEG = 'for (var j = lid; j < n; j = j + RW)';
/** Adds a segment's `value` into stats slot `slot` (the first segment stores it). */
const merge = (value: string, slot: number) =>
  `if (first) { st[k + ${slot}u] = ${value}; } else { st[k + ${slot}u] = st[k + ${slot}u] + ${value}; }`;

function longRowPhase(op: string, phase: string): string {
  switch (`${op}/${phase}`) {
    case 'softmax/stats':
    case 'crossEntropyBackward/stats':
      return `
  var m = -f32_inf();
  ${SEG} { m = max_nan(m, x[xb + j]); }
  m = wg_max(m, lid);
  var s = 0.0f;
  ${SEG} { s = s + exp_acc(x[xb + j] - m); }
  s = wg_sum(s, lid);
  if (lid == 0u) {
    // A sum of 0 contributes nothing (its e^(m − m') may be e^(−∞ + ∞) = NaN).
    if (first) { st[k] = m; st[k + 1u] = s; } else {
      let m0 = st[k];
      let s0 = st[k + 1u];
      let mm = max_nan(m0, m);
      st[k] = mm;
      st[k + 1u] = rescale(s0, m0, mm) + rescale(s, m, mm);
    }
  }`;
    case 'logSoftmax/stats':
    case 'crossEntropy/stats':
      return longLogSumStats(op === 'crossEntropy');
    case 'softmax/write':
      return `
  let m = st[k];
  let inv = 1.0f / st[k + 1u];
  ${SEG} { y[xb + j] = exp_acc(x[xb + j] - m) * inv; }`;
    case 'crossEntropyBackward/write':
      return `
  let m = st[k];
  let inv = 1.0f / st[k + 1u];
  ${ceTarget('pf(6u)', 'labels[vb]', 'g[vb]')}
  ${SEG} { y[xb + j] = ${ceGrad('exp_acc(x[xb + j] - m) * inv', 'j0 + j')}; }`;
    case 'logSoftmax/write':
      return `
  let m = st[k];
  let ls = ${logSum('st[k + 4u]', 'st[k + 1u]')};
  ${SEG} { y[xb + j] = (x[xb + j] - m) - ls; }`;
    case 'layerNorm/sum':
    case 'rmsNorm/sumsq': {
      const term = phase === 'sum' ? 'x[xb + j]' : 'x[xb + j] * x[xb + j]';
      return `
  var s = 0.0f;
  ${SEG} { s = s + ${term}; }
  s = wg_sum(s, lid);
  if (lid == 0u) { ${merge('s', 0)} }`;
    }
    case 'layerNorm/dev':
      return `
  let mu = st[k] / f32(size);
  var v = 0.0f;
  ${SEG} { let d = x[xb + j] - mu; v = v + d * d; }
  v = wg_sum(v, lid);
  if (lid == 0u) { ${merge('v', 1)} }`;
    case 'layerNorm/write':
      return `
  let mu = st[k] / f32(size);
  let rstd = 1.0f / sqrt(st[k + 1u] / f32(size) + pf(6u));
  ${SEG} { y[xb + j] = (x[xb + j] - mu) * rstd * gamma[cb + j] + beta[cb + j]; }`;
    case 'rmsNorm/write':
      return `
  let rstd = 1.0f / sqrt(st[k] / f32(size) + pf(6u));
  ${SEG} { y[xb + j] = x[xb + j] * rstd * gamma[cb + j]; }`;
  }
  throw new Error(`no long-row phase ${op}/${phase}`);
}

/**
 * The `stats` phase of logSoftmax and crossEntropy: like softmax's, but the row's sum kept split at its
 * running max m (st[k]) as the count of elements equal to m (st[k + 4]) and Σ e^(x − m) over the rest
 * (st[k + 1]), merged across segments with at_max (see wg_max_count_rest), so that log Σ can be
 * log1p(rest) (logSum). crossEntropy also sums x (st[k + 2]) and picks x[label] (st[k + 3]); its last
 * segment writes the loss, log Σ added last: (m − (1−ε)·x[label] − ε·mean x) + log Σ, whose first part is
 * exactly 0 for a label at the max of a confident row, where the loss is all in log Σ ≈ e⁻ᴸ.
 */
function longLogSumStats(ce: boolean): string {
  return `
  var m = -f32_inf();
  ${SEG} { m = max_nan(m, x[xb + j]); }
  m = wg_max(m, lid);
  // an all −∞ segment contributes nothing (its x − m would be −∞ + ∞)
  let mz = select(m, 0.0f, m == -f32_inf());
  var c = 0.0f;
  var r = 0.0f;
  var t = 0.0f;
  ${SEG} {
    let v = x[xb + j];
    if (v - m == 0.0f) { c = c + 1.0f; } else { r = r + exp_acc(v - mz); }${ce ? '\n    t = t + v;' : ''}
  }
  c = wg_sum(c, lid);
  r = wg_sum(r, lid);
  ${ce ? 't = wg_sum(t, lid);' : ''}
  if (lid == 0u) {
    if (first) { st[k] = m; st[k + 4u] = c; st[k + 1u] = r; } else {
      let m0 = st[k];
      let mm = max_nan(m0, m);
      let a = at_max(st[k + 4u], st[k + 1u], m0, mm);
      let b = at_max(c, r, m, mm);
      st[k] = mm;
      st[k + 4u] = a.x + b.x;
      st[k + 1u] = a.y + b.y;
    }${
      ce
        ? `
    ${merge('t', 2)}
    let label = labels[vb];
    var xl = 0.0f;
    if (label >= i32(j0) && label < i32(j0 + n)) { xl = x[xb + u32(label) - j0]; }
    ${merge('xl', 3)}
    if (last) {
      let eps = pf(6u);
      if (label < 0 || u32(label) >= size) {
        y[vb] = f32_nan();
      } else {
        let ls = ${logSum('st[k + 4u]', 'st[k + 1u]')};
        y[vb] = ((st[k] - (1.0f - eps) * st[k + 3u]) - (eps / f32(size)) * st[k + 2u]) + ls;
      }
    }`
        : ''
    }
  }`;
}

/** Invocations per (row, segment) of a long row (segments are as long as a binding allows). */
const LONG_ROW_THREADS = 256;

function longRows(
  ctx: KernelContext,
  op: RowOp,
  { rows, size, attr }: { rows: number; size: number; attr: number },
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
): void {
  const spec = ROW_OPS[op];
  const { maxElements, alignElements } = ctx.split;
  const seg = maxElements - alignElements;
  const st = ctx.scratch(rows * 5, 'f32');
  for (const phase of spec.longPhases) {
    const key = `longRow/${op}/${phase}`;
    const wgsl = () => `${header(
      spec.inputs,
      [
        { name: 'y', elem: 'f32' },
        { name: 'st', elem: 'f32' },
      ],
      10,
    )}
${mathLib(['consts', 'exp', 'log'])}
const RW = ${LONG_ROW_THREADS}u;
${WG_REDUCE}
@compute @workgroup_size(${LONG_ROW_THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = pu(0u);
  let j0 = pu(1u);
  let size = pu(2u);
  let k = pu(3u);
  let first = pu(4u) == 1u;
  let last = pu(5u) == 1u;
  let xb = pu(7u);
  let cb = pu(8u);
  let vb = pu(9u);
${longRowPhase(op, phase)}
}`;
    for (let r = 0; r < rows; r++)
      for (let j0 = 0; j0 < size; j0 += seg) {
        const n = Math.min(seg, size - j0);
        const xw = windowOver(r * size + j0, r * size + j0 + n - 1, alignElements);
        const cw = windowOver(j0, j0 + n - 1, alignElements);
        const vw = windowOver(r, r, alignElements);
        const windowOf = { rows: xw, vector: vw, whole: cw };
        const inWindows = spec.inputs.map((b) => windowOf[b.layout]);
        const params = new Params()
          .u32(n, j0, size, 5 * r, j0 === 0 ? 1 : 0, j0 + n >= size ? 1 : 0)
          .f32(attr)
          .u32(r * size + j0 - xw.offset, j0 - cw.offset, r - vw.offset);
        ctx.dispatch({
          key,
          wgsl,
          inputs,
          outputs: [outputs[0], st],
          params,
          workgroups: [1, 1, 1],
          windows: [...inWindows, windowOf[spec.y], null],
        });
      }
  }
}

/**
 * Row op `op`'s kernel, `threads` invocations per row (the WGSL constant `RW`): `body` runs once per
 * workgroup with `row`, `size` (= pu(1)), `base` (where the row starts in a [rows, size] binding),
 * `vrow` (its index in a [rows] binding) and `lid` defined; it strides over the row with `LOOP`.
 */
function rowKernel(
  op: RowOp,
  threads: number,
  body: string,
  math: string[],
): { key: string; wgsl: () => string } {
  return {
    key: `${op}/${threads}`,
    wgsl: () => `${header(ROW_OPS[op].inputs, [{ name: 'y', elem: 'f32' }], ROW_WORDS)}
${mathLib(['consts', 'exp', ...math])}
const RW = ${threads}u;
${WG_REDUCE}
@compute @workgroup_size(${threads})
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

const LOOP = 'for (var j = lid; j < size; j = j + RW)';

/**
 * The first half of every softmax-family row: this invocation's max m_t over its elements, then
 * `term` (e.g. Σ e^(x − m_t)) accumulated in `s` with `v` = x[j] and `e` = e^(v − m_t) in scope (e = 0
 * when m_t = −∞: all of its elements are −∞), then the row's (M, S) merged from every invocation's
 * (m_t, s_t). `ok`: M is finite (else the row's results are NaN).
 */
function maxSumExp(term: string, extra = ''): string {
  return `
  var mt = -f32_inf();
  ${LOOP} { mt = max_nan(mt, x[base + j]); }
  // e^(v − m_t) with m_t = −∞ would be e^(−∞ + ∞); such an invocation's elements contribute 0.
  let mz = select(mt, 0.0f, mt == -f32_inf());
  var s = 0.0f;${extra}
  ${LOOP} { let v = x[base + j]; let e = exp_acc(v - mz); ${term} }
  let ms = wg_max_sumexp(mt, s, lid);
  let M = ms.x;
  let S = ms.y;
  let ok = is_finite(M);`;
}

/**
 * maxSumExp for log Σ (logSoftmax, crossEntropy): each invocation counts its elements equal to m_t in
 * `c` (v − m_t = 0: never for m_t = ±∞ or NaN) and sums e^(v − m_t) over the others in `s`; the
 * merged (M, C, R) give `LS` = log Σ e^(x − M) (logSum). `term` adds more per-element work with `v`.
 */
function maxLogSumExp(term = '', extra = ''): string {
  return `
  var mt = -f32_inf();
  ${LOOP} { mt = max_nan(mt, x[base + j]); }
  let mz = select(mt, 0.0f, mt == -f32_inf());
  var c = 0.0f;
  var s = 0.0f;${extra}
  ${LOOP} {
    let v = x[base + j];
    if (v - mt == 0.0f) { c = c + 1.0f; } else { s = s + exp_acc(v - mz); }${term}
  }
  let mcr = wg_max_count_rest(mt, c, s, lid);
  let M = mcr.x;
  let LS = ${logSum('mcr.y', 'mcr.z')};
  let ok = is_finite(M);`;
}

interface RowAttrs {
  rows: number;
  size: number;
}

function softmaxKernel(log: boolean): GPUKernel {
  return (ctx, [x], [y], { rows, size }: RowAttrs) => {
    // softmax keeps e^(x − m_t) in y and rescales it by e^(m_t − M)/S: one exp per element.
    const body = log
      ? `${maxLogSumExp()}
  ${LOOP} { y[base + j] = select(f32_nan(), (x[base + j] - M) - LS, ok); }`
      : `${maxSumExp('s = s + e; y[base + j] = e;')}
  let scale = select(exp_acc(mt - M) / S, 0.0f, mt == -f32_inf());
  ${LOOP} { y[base + j] = select(f32_nan(), y[base + j] * scale, ok); }`;
    rowDispatch(ctx, log ? 'logSoftmax' : 'softmax', body, { rows, size }, [x], y, ['log']);
  };
}

/**
 * lse(x) − (1−ε)·x[label] − (ε/size)·Σx per row, computed as (M − (1−ε)·x[label] − (ε/size)·Σx) + log Σ. A label outside [0, size) cannot throw from the
 * GPU: that row's loss is NaN.
 */
const crossEntropy: GPUKernel = (
  ctx,
  [x, labels],
  [y],
  { rows, size, labelSmoothing }: RowAttrs & { labelSmoothing: number },
) => {
  const body = `
  let eps = pf(2u);${maxLogSumExp(' t = t + v;', '\n  var t = 0.0f;')}
  let T = wg_sum(t, lid);
  if (lid == 0u) {
    let label = labels[vrow];
    if (label < 0 || u32(label) >= size || !ok) {
      y[vrow] = f32_nan();
    } else {
      // log Σ last: M − x[label] is exactly 0 for a label at the max, where the loss is log Σ ≈ e⁻ᴸ
      y[vrow] = ((M - (1.0f - eps) * x[base + u32(label)]) - (eps / f32(size)) * T) + LS;
    }
  }`;
  rowDispatch(ctx, 'crossEntropy', body, { rows, size, attr: labelSmoothing }, [x, labels], y, ['log']);
};

/**
 * WGSL for crossEntropyBackward's target, shared by the one-pass and long-row kernels: defines `gr`
 * (the row's upstream gradient), `label`, `hit` = (1−ε) + ε/size (the target at the label) and `spread`
 * = ε/size (elsewhere), and `valid` (the label is in [0, size)).
 */
function ceTarget(eps: string, label: string, g: string): string {
  return `let eps = ${eps};
  let label = ${label};
  let gr = ${g};
  let spread = eps / f32(size);
  let hit = (1.0f - eps) + spread;
  let valid = label >= 0 && u32(label) < size;`;
}

/** (p − target)·g for softmax probability `p` at column `col` (NaN for a bad label). */
function ceGrad(p: string, col: string): string {
  return `select(f32_nan(), (${p} - select(spread, hit, ${col} == u32(label))) * gr, valid)`;
}

/**
 * crossEntropy's gradient for the logits: (softmax(x) − ((1−ε)·onehot(label) + ε/size))·g_row, one
 * workgroup per row. Like softmax it keeps e^(x − m_t) in y during the (max, Σexp) pass and rescales it
 * by e^(m_t − M)/S in the write pass, so exp runs once per element. A bad label or a non-finite row max
 * makes the row NaN (the GPU cannot throw).
 */
const crossEntropyBackward: GPUKernel = (
  ctx,
  [x, labels, g],
  [y],
  { rows, size, labelSmoothing }: RowAttrs & { labelSmoothing: number },
) => {
  const body = `${maxSumExp('s = s + e; y[base + j] = e;')}
  ${ceTarget('pf(2u)', 'labels[vrow]', 'g[vrow]')}
  let scale = select(exp_acc(mt - M) / S, 0.0f, mt == -f32_inf());
  ${LOOP} { y[base + j] = select(f32_nan(), ${ceGrad('y[base + j] * scale', 'j')}, ok); }`;
  rowDispatch(ctx, 'crossEntropyBackward', body, { rows, size, attr: labelSmoothing }, [x, labels, g], y);
};

interface NormAttrs extends RowAttrs {
  eps: number;
}

/** Two passes for the variance (Σ(x − μ)² after μ), not Σx² − nμ², which cancels. */
const layerNorm: GPUKernel = (ctx, [x, gamma, beta], [y], { rows, size, eps }: NormAttrs) => {
  const body = `
  var s = 0.0f;
  ${LOOP} { s = s + x[base + j]; }
  let mu = wg_sum(s, lid) / f32(size);
  var v = 0.0f;
  ${LOOP} { let d = x[base + j] - mu; v = v + d * d; }
  let rstd = 1.0f / sqrt(wg_sum(v, lid) / f32(size) + pf(2u));
  ${LOOP} { y[base + j] = (x[base + j] - mu) * rstd * gamma[j] + beta[j]; }`;
  rowDispatch(ctx, 'layerNorm', body, { rows, size, attr: eps }, [x, gamma, beta], y);
};

const rmsNorm: GPUKernel = (ctx, [x, gamma], [y], { rows, size, eps }: NormAttrs) => {
  const body = `
  var s = 0.0f;
  ${LOOP} { let v = x[base + j]; s = s + v * v; }
  let rstd = 1.0f / sqrt(wg_sum(s, lid) / f32(size) + pf(2u));
  ${LOOP} { y[base + j] = x[base + j] * rstd * gamma[j]; }`;
  rowDispatch(ctx, 'rmsNorm', body, { rows, size, attr: eps }, [x, gamma], y);
};

/** y = (x − mean)·rsqrt(var + eps)·gamma + beta, channel = last axis. */
const batchNorm: GPUKernel = (ctx, [x, mean, variance, gamma, beta], [y], { size, eps }: NormAttrs) => {
  const names = ['x', 'mean', 'variance', 'gamma', 'beta'];
  // x and y split into aligned element ranges (start = the range's first element, for the channel);
  // the per-channel vectors are bound whole (a channel count over one binding is not split).
  const split = needsSplit(ctx.split, x, y);
  const pieces = split ? alignedPieces(x.size, ctx.split) : [{ s: 0, e: x.size }];
  for (const { s: start, e } of pieces) {
    const params = new Params()
      .u32(e - start, size)
      .f32(eps)
      .u32(start);
    const w = { offset: start, size: e - start };
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
            '  let c = (pu(3u) + i) % pu(1u);\n  y[i] = (x[i] - mean[c]) / sqrt(variance[c] + pf(2u)) * gamma[c] + beta[c];',
          ),
        ].join('\n'),
      inputs: [x, mean, variance, gamma, beta],
      outputs: [y],
      params,
      workgroups: grid1d(e - start),
      windows: split ? [w, null, null, null, null, w] : undefined,
    });
  }
};

export const nnKernels: Record<string, GPUKernel> = {
  softmax: softmaxKernel(false),
  logSoftmax: softmaxKernel(true),
  crossEntropy,
  crossEntropyBackward,
  layerNorm,
  rmsNorm,
  batchNorm,
};

/** The ops above that run over tensors larger than one storage binding (see ../split.ts). */
export const nnSplitting = [
  'softmax',
  'logSoftmax',
  'crossEntropy',
  'crossEntropyBackward',
  'layerNorm',
  'rmsNorm',
  'batchNorm',
];

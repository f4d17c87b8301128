import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { defineOp, runOp } from '../op.js';
import { randomState, uniformValues } from '../random.js';
import { normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import {
  abs,
  add,
  div,
  exp,
  greaterEqual,
  mul,
  neg,
  relu,
  rsqrt,
  softplus,
  square,
  sub,
} from './elementwise.js';
import { mean, sum } from './reduce.js';
import { expandDims, oneHot, reshape, sumToShape, transpose } from './shape-ops.js';
import { composite } from './util.js';

/** Kernel attrs of the row-wise ops: the input as [rows, size], reduced along `size` (the last axis). */
export interface RowKernelAttrs {
  rows: number;
  size: number;
}

function checkF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32')
      throw new DescentError(op, `expected f32, got a ${t.dtype} tensor of shape ${fmtShape(t.shape)}`);
  }
}

function rowAttrs(x: Tensor): RowKernelAttrs {
  const size = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  return { rows: size === 0 ? 0 : x.size / size, size };
}

// ------------------------------------------------------------------------------- softmax family

export const Softmax = defineOp<Record<string, never>>({
  name: 'softmax',
  infer([x]) {
    checkF32('softmax', x);
    return [{ shape: x.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([x]) => rowAttrs(x),
  // dx = y ⊙ (g − Σ g⊙y)
  backward: ({ outputs: [y], grads: [g] }) => [mul(y, sub(g!, sum(mul(g!, y), -1, true)))],
});

export const LogSoftmax = defineOp<Record<string, never>>({
  name: 'logSoftmax',
  infer([x]) {
    checkF32('logSoftmax', x);
    return [{ shape: x.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([x]) => rowAttrs(x),
  // dx = g − softmax(x)·Σ g, with softmax(x) = exp(y)
  backward: ({ outputs: [y], grads: [g] }) => [sub(g!, mul(exp(y), sum(g!, -1, true)))],
});

/** Kernels work on the last axis; other axes are moved there and back. */
function onAxis(x: Tensor, axis: number, op: string, f: (t: Tensor) => Tensor): Tensor {
  const a = normalizeAxis(op, axis, x.shape);
  if (a === x.rank - 1) return f(x);
  return composite([x], () => {
    const perm = x.shape.map((_, i) => i);
    perm[a] = x.rank - 1;
    perm[x.rank - 1] = a;
    return transpose(f(transpose(x, perm)), perm);
  });
}

/** Softmax along `axis` (default last), max-subtracted for stability. */
export function softmax(x: Tensor, axis = -1): Tensor {
  if (x.rank === 0) throw new DescentError('softmax', 'needs a tensor of rank >= 1');
  return onAxis(x, axis, 'softmax', (t) => runOp(Softmax, [t], {})[0]);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  if (x.rank === 0) throw new DescentError('logSoftmax', 'needs a tensor of rank >= 1');
  return onAxis(x, axis, 'logSoftmax', (t) => runOp(LogSoftmax, [t], {})[0]);
}

// ------------------------------------------------------------------------------- losses

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyAttrs {
  labelSmoothing: number;
}
export interface CrossEntropyKernelAttrs extends RowKernelAttrs {
  labelSmoothing: number;
}

/** Checks shared by crossEntropy and crossEntropyBackward: f32 logits [..., C], i32 labels [...], ε. */
function checkCrossEntropyInputs(op: string, logits: Tensor, labels: Tensor, labelSmoothing: number): void {
  checkF32(op, logits);
  if (labels.dtype !== 'i32')
    throw new DescentError(
      op,
      `labels must be i32 class indices, got ${labels.dtype} of shape ${fmtShape(labels.shape)}`,
    );
  if (
    logits.rank < 1 ||
    labels.rank !== logits.rank - 1 ||
    labels.shape.some((d, i) => d !== logits.shape[i])
  ) {
    throw new DescentError(
      op,
      `logits ${fmtShape(logits.shape)} need labels of shape ${fmtShape(logits.shape.slice(0, -1))}, got ${fmtShape(labels.shape)}`,
    );
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
    throw new DescentError(op, `labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
}

/** The smoothed target distribution (1−ε)·onehot(label) + ε/C, as f32 [..., C]. */
function smoothedTarget(labels: Tensor, classes: number, labelSmoothing: number): Tensor {
  return add(mul(oneHot(labels, classes), 1 - labelSmoothing), labelSmoothing / classes);
}

/**
 * Per-row cross-entropy from logits [..., C] and i32 labels [...]:
 * loss = logΣexp(x) − (1−ε)·x[label] − (ε/C)·Σⱼ x[j]  (target q = (1−ε)·onehot + ε/C).
 * Labels outside [0, C) are an error on backends that can check (the reference does).
 */
export const CrossEntropy = defineOp<CrossEntropyAttrs>({
  name: 'crossEntropy',
  infer([logits, labels], { labelSmoothing }) {
    checkCrossEntropyInputs('crossEntropy', logits, labels, labelSmoothing);
    return [{ shape: labels.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([logits], { labelSmoothing }): CrossEntropyKernelAttrs => ({
    ...rowAttrs(logits),
    labelSmoothing,
  }),
  differentiableInputs: [0],
  // One fused kernel: (softmax(x) − target)·g per row.
  backward: ({ inputs: [logits, labels], grads: [g], attrs }) => [
    runOp(CrossEntropyBackward, [logits, labels, g!], attrs)[0],
    null,
  ],
});

/**
 * Gradient of crossEntropy with respect to the logits, fused: from logits [..., C] f32, labels [...]
 * i32 and the upstream gradient g [...] f32 (one per row),
 * dlogits = (softmax(x) − ((1−ε)·onehot(label) + ε/C)) · g_row.
 * Kernel attrs: {rows, size, labelSmoothing}, as crossEntropy's.
 */
export const CrossEntropyBackward = defineOp<CrossEntropyAttrs>({
  name: 'crossEntropyBackward',
  infer([logits, labels, g], { labelSmoothing }) {
    checkCrossEntropyInputs('crossEntropyBackward', logits, labels, labelSmoothing);
    if (g.dtype !== 'f32' || g.rank !== labels.rank || g.shape.some((d, i) => d !== labels.shape[i]))
      throw new DescentError(
        'crossEntropyBackward',
        `the upstream gradient must be f32 of shape ${fmtShape(labels.shape)} (one per row of logits ${fmtShape(logits.shape)}), got ${g.dtype} of shape ${fmtShape(g.shape)}`,
      );
    return [{ shape: logits.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([logits], { labelSmoothing }): CrossEntropyKernelAttrs => ({
    ...rowAttrs(logits),
    labelSmoothing,
  }),
  differentiableInputs: [0, 2],
  // With s = softmax(x), q the target and gg the cotangent of dlogits:
  //   w.r.t. x: the softmax Jacobian applied to u = gg·g_row:  s ⊙ (u − Σⱼ u⊙s);
  //   w.r.t. g: Σ_C gg ⊙ (s − q).
  backward: ({ inputs: [logits, labels, g], grads: [gg], attrs: { labelSmoothing } }) => {
    const s = softmax(logits);
    const u = mul(gg!, expandDims(g, -1));
    const dx = mul(s, sub(u, sum(mul(u, s), -1, true)));
    const q = smoothedTarget(labels, logits.shape[logits.rank - 1], labelSmoothing);
    const dg = sum(mul(gg!, sub(s, q)), -1);
    return [dx, null, dg];
  },
});

function reduceLoss(op: string, perElement: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return perElement;
  if (reduction === 'sum') return sum(perElement);
  if (reduction === 'mean') return mean(perElement);
  throw new DescentError(op, `reduction must be 'mean', 'sum' or 'none', got '${reduction}'`);
}

export interface LossOptions {
  reduction?: Reduction;
}

/** Softmax cross-entropy from logits and integer labels, fused (one kernel for the forward). */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  opts: LossOptions & { labelSmoothing?: number } = {},
): Tensor {
  return composite([logits], () =>
    reduceLoss(
      'crossEntropy',
      runOp(CrossEntropy, [logits, labels], { labelSmoothing: opts.labelSmoothing ?? 0 })[0],
      opts.reduction ?? 'mean',
    ),
  );
}

/** Mean squared error (or sum / per-element). */
export function mse(pred: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  checkF32('mse', pred, target);
  return composite([pred, target], () =>
    reduceLoss('mse', square(sub(pred, target)), opts.reduction ?? 'mean'),
  );
}

/** Binary cross-entropy on logits, stable: max(x, 0) − x·y + log(1 + e^(−|x|)). */
export function bceWithLogits(logits: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  checkF32('bceWithLogits', logits, target);
  return composite([logits, target], () =>
    reduceLoss(
      'bceWithLogits',
      add(sub(relu(logits), mul(logits, target)), softplus(neg(abs(logits)))),
      opts.reduction ?? 'mean',
    ),
  );
}

// ------------------------------------------------------------------------------- normalization

export interface NormAttrs {
  eps: number;
}
export interface NormKernelAttrs extends RowKernelAttrs {
  eps: number;
}

function checkParam(op: string, x: Tensor, p: Tensor, what: string): void {
  const c = x.shape[x.rank - 1];
  if (p.rank !== 1 || p.shape[0] !== c) {
    throw new DescentError(
      op,
      `${what} must have shape [${c}] to match the last axis of ${fmtShape(x.shape)}, got ${fmtShape(p.shape)}`,
    );
  }
}

/** Normalized x over the last axis, recomputed with ops (so backward can be differentiated again). */
function normalizedLastAxis(x: Tensor, eps: number, centered: boolean): { xhat: Tensor; rstd: Tensor } {
  const xc = centered ? sub(x, mean(x, -1, true)) : x;
  const rstd = rsqrt(add(mean(square(xc), -1, true), eps));
  return { xhat: mul(xc, rstd), rstd };
}

/** Leading axes of `x` (all but the last), which parameter gradients are summed over. */
const leadingAxes = (x: Tensor) => x.shape.slice(0, -1).map((_, i) => i);

/**
 * y = (x − μ)/√(σ² + ε)·γ + β over the last axis. Backward:
 * dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)) with ĝ = g⊙γ.
 */
export const LayerNorm = defineOp<NormAttrs>({
  name: 'layerNorm',
  infer([x, gamma, beta], { eps }) {
    checkF32('layerNorm', x, gamma, beta);
    if (x.rank < 1) throw new DescentError('layerNorm', 'needs a tensor of rank >= 1');
    checkParam('layerNorm', x, gamma, 'gamma');
    checkParam('layerNorm', x, beta, 'beta');
    if (!(eps >= 0)) throw new DescentError('layerNorm', `eps must be >= 0, got ${eps}`);
    return [{ shape: x.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([x], { eps }): NormKernelAttrs => ({ ...rowAttrs(x), eps }),
  backward: ({ inputs: [x, gamma], grads: [g], attrs: { eps } }) => {
    const { xhat, rstd } = normalizedLastAxis(x, eps, true);
    const gh = mul(g!, gamma);
    const dx = mul(rstd, sub(sub(gh, mean(gh, -1, true)), mul(xhat, mean(mul(gh, xhat), -1, true))));
    return [dx, sum(mul(g!, xhat), leadingAxes(x)), sum(g!, leadingAxes(x))];
  },
});

/** y = x/√(mean(x²) + ε)·γ over the last axis. dx = rstd·(ĝ − x̂·mean(ĝ⊙x̂)). */
export const RmsNorm = defineOp<NormAttrs>({
  name: 'rmsNorm',
  infer([x, gamma], { eps }) {
    checkF32('rmsNorm', x, gamma);
    if (x.rank < 1) throw new DescentError('rmsNorm', 'needs a tensor of rank >= 1');
    checkParam('rmsNorm', x, gamma, 'gamma');
    if (!(eps >= 0)) throw new DescentError('rmsNorm', `eps must be >= 0, got ${eps}`);
    return [{ shape: x.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([x], { eps }): NormKernelAttrs => ({ ...rowAttrs(x), eps }),
  backward: ({ inputs: [x, gamma], grads: [g], attrs: { eps } }) => {
    const { xhat, rstd } = normalizedLastAxis(x, eps, false);
    const gh = mul(g!, gamma);
    const dx = mul(rstd, sub(gh, mul(xhat, mean(mul(gh, xhat), -1, true))));
    return [dx, sum(mul(g!, xhat), leadingAxes(x))];
  },
});

export function layerNorm(x: Tensor, gamma?: Tensor, beta?: Tensor, eps = 1e-5): Tensor {
  return withDefaultParams(x, [gamma, beta], [1, 0], (g, b) => runOp(LayerNorm, [x, g, b], { eps })[0]);
}

export function rmsNorm(x: Tensor, gamma?: Tensor, eps = 1e-6): Tensor {
  return withDefaultParams(x, [gamma], [1], (g) => runOp(RmsNorm, [x, g], { eps })[0]);
}

/** Fills absent affine parameters with constants (freed afterwards unless the tape needs them). */
function withDefaultParams(
  x: Tensor,
  params: (Tensor | undefined)[],
  fills: number[],
  f: (...p: Tensor[]) => Tensor,
): Tensor {
  const c = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  const made: Tensor[] = [];
  const ps = params.map((p, i) => {
    if (p) return p;
    const host = new Float32Array(c).fill(fills[i]);
    const t = engine.makeTensor(x.storage.backend, [c], 'f32', host);
    made.push(t);
    return t;
  });
  let out: Tensor | undefined;
  try {
    out = f(...ps);
    return out;
  } finally {
    if (!out?.node) for (const t of made) t.dispose();
  }
}

/**
 * Batch-norm's normalize-and-scale step, channels last (NHWC): y = (x − mean)·rsqrt(var + ε)·γ + β,
 * with per-channel mean/variance given. Differentiable in all five inputs, so training mode (stats
 * computed from the batch with ops) gets exact gradients through the statistics.
 */
export const BatchNorm = defineOp<NormAttrs>({
  name: 'batchNorm',
  infer([x, m, v, gamma, beta], { eps }) {
    checkF32('batchNorm', x, m, v, gamma, beta);
    if (x.rank < 1) throw new DescentError('batchNorm', 'needs a tensor of rank >= 1 (channels last)');
    for (const [p, what] of [
      [m, 'mean'],
      [v, 'variance'],
      [gamma, 'gamma'],
      [beta, 'beta'],
    ] as const)
      checkParam('batchNorm', x, p, what);
    if (!(eps >= 0)) throw new DescentError('batchNorm', `eps must be >= 0, got ${eps}`);
    return [{ shape: x.shape, dtype: 'f32' }];
  },
  kernelAttrs: ([x], { eps }): NormKernelAttrs => ({ ...rowAttrs(x), eps }),
  backward: ({ inputs: [x, m, v, gamma], grads: [g], attrs: { eps } }) => {
    const rstd = rsqrt(add(v, eps));
    const xc = sub(x, m);
    const gs = mul(g!, mul(gamma, rstd)); // dy/dx = γ·rstd
    const lead = leadingAxes(x);
    const dm = neg(sum(gs, lead));
    // d rstd / d var = −½·rstd³
    const dv = mul(sum(mul(g!, mul(xc, gamma)), lead), mul(mul(square(rstd), rstd), -0.5));
    const dgamma = sum(mul(g!, mul(xc, rstd)), lead);
    return [gs, dm, dv, dgamma, sumToShape(g!, [x.shape[x.rank - 1]])];
  },
});

export interface BatchNormOptions {
  gamma?: Tensor;
  beta?: Tensor;
  eps?: number;
}

/** Inference-mode batch norm with given (running) statistics. */
export function batchNorm(x: Tensor, mean: Tensor, variance: Tensor, opts: BatchNormOptions = {}): Tensor {
  const eps = opts.eps ?? 1e-5;
  return withDefaultParams(
    x,
    [opts.gamma, opts.beta],
    [1, 0],
    (g, b) => runOp(BatchNorm, [x, mean, variance, g, b], { eps })[0],
  );
}

/**
 * Training-mode batch norm: statistics over every axis but the last (channels), gradients flowing
 * through them. Returns the output and the batch mean and biased variance, from which a layer
 * updates its running statistics (with the unbiased variance n/(n−1)·var, as PyTorch does).
 */
export function batchNormTraining(
  x: Tensor,
  opts: BatchNormOptions = {},
): { y: Tensor; mean: Tensor; variance: Tensor } {
  const lead = leadingAxes(x);
  return composite([x, ...(opts.gamma ? [opts.gamma] : []), ...(opts.beta ? [opts.beta] : [])], () => {
    const m = mean(x, lead);
    const v = mean(square(sub(x, m)), lead);
    return { y: batchNorm(x, m, v, opts), mean: m, variance: v };
  });
}

// ------------------------------------------------------------------------------- dropout

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p). The mask
 * comes from the seeded counter-based generator, so it is the same on every backend.
 */
export function dropout(x: Tensor, p: number, opts: { training?: boolean; seed?: number } = {}): Tensor {
  if (!(p >= 0 && p < 1)) throw new DescentError('dropout', `p must be in [0, 1), got ${p}`);
  if (opts.training === false || p === 0) return reshape(x, x.shape);
  const [seed, stream] = randomState.next(opts.seed);
  const u = engine.makeTensor(
    x.storage.backend,
    x.shape,
    'f32',
    uniformValues(sizeOf(x.shape), 0, 1, seed, stream),
  );
  const out = composite([x], () => mul(x, div(greaterEqual(u, p), 1 - p)));
  u.dispose(); // the tape keeps the mask (an input of mul), not the uniforms
  return out;
}

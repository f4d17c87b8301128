import { DescentError, fmtShape } from '../errors.js';
import { defineOp, type OpDef, runOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { mean } from './reduce.js';

export type Padding =
  | 'same'
  | 'valid'
  | number
  | readonly [readonly [number, number], readonly [number, number]];

/**
 * The geometry every conv/pool kernel receives (NHWC). Padding is explicit (top/left; bottom/right
 * follow from the output size), so kernels never re-derive 'same'/'valid'.
 */
export interface Conv2dGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

export interface Conv2dOptions {
  strides?: number | [number, number];
  padding?: Padding;
  dilations?: number | [number, number];
  groups?: number;
}

const pair = (
  op: string,
  name: string,
  v: number | readonly number[] | undefined,
  dflt: number,
): [number, number] => {
  const p = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= 1))
    throw new DescentError(op, `${name} must be positive integers, got ${JSON.stringify(v)}`);
  return p as [number, number];
};

/** Output size and leading pad along one axis ('same' splits odd padding with the extra at the end, like TensorFlow). */
function axisGeometry(
  op: string,
  inSize: number,
  k: number,
  stride: number,
  dilation: number,
  padding: Padding,
  axis: 0 | 1,
): { out: number; pad: number } {
  const span = dilation * (k - 1) + 1;
  let before: number;
  let after: number;
  if (padding === 'valid') {
    before = after = 0;
  } else if (padding === 'same') {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + span - inSize, 0);
    before = Math.floor(total / 2);
    after = total - before;
  } else if (typeof padding === 'number') {
    before = after = padding;
  } else {
    [before, after] = padding[axis];
  }
  if (!Number.isInteger(before) || !Number.isInteger(after) || before < 0 || after < 0) {
    throw new DescentError(
      op,
      `padding must be 'same', 'valid', a non-negative integer or [[top, bottom], [left, right]], got ${JSON.stringify(padding)}`,
    );
  }
  const padded = inSize + before + after;
  if (padded < span) {
    throw new DescentError(
      op,
      `window of extent ${span} (kernel ${k}, dilation ${dilation}) does not fit in input size ${inSize} with padding ${before}+${after}`,
    );
  }
  return { out: Math.floor((padded - span) / stride) + 1, pad: before };
}

function geometry(
  op: string,
  x: readonly number[],
  kH: number,
  kW: number,
  outC: number,
  opts: Conv2dOptions,
): Conv2dGeometry {
  if (x.length !== 4) throw new DescentError(op, `input must be NHWC (rank 4), got ${fmtShape(x)}`);
  const [strideH, strideW] = pair(op, 'strides', opts.strides, 1);
  const [dilationH, dilationW] = pair(op, 'dilations', opts.dilations, 1);
  const padding = opts.padding ?? 'valid';
  const h = axisGeometry(op, x[1], kH, strideH, dilationH, padding, 0);
  const w = axisGeometry(op, x[2], kW, strideW, dilationW, padding, 1);
  return {
    batch: x[0],
    inH: x[1],
    inW: x[2],
    inC: x[3],
    outH: h.out,
    outW: w.out,
    outC,
    kH,
    kW,
    strideH,
    strideW,
    padTop: h.pad,
    padLeft: w.pad,
    dilationH,
    dilationW,
    groups: opts.groups ?? 1,
  };
}

const checkF32 = (op: string, ...ts: Tensor[]) => {
  for (const t of ts)
    if (t.dtype !== 'f32')
      throw new DescentError(op, `expected f32, got ${t.dtype} of shape ${fmtShape(t.shape)}`);
};
const filterShape = (g: Conv2dGeometry) => [g.kH, g.kW, g.inC / g.groups, g.outC];
const inputShape = (g: Conv2dGeometry) => [g.batch, g.inH, g.inW, g.inC];
const outputShape = (g: Conv2dGeometry) => [g.batch, g.outH, g.outW, g.outC];

function expectShape(op: string, what: string, t: Tensor, shape: number[]): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new DescentError(op, `${what} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
  }
}

/**
 * conv2d: x [N, H, W, Cin] ⊛ w [KH, KW, Cin/groups, Cout] → [N, OH, OW, Cout] (cross-correlation, as
 * in every DL library). Its two gradients are ops of their own, and the three close under
 * differentiation: each one's backward is written with the other two.
 */
export const Conv2d: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'conv2d',
  infer([x, w], g) {
    checkF32('conv2d', x, w);
    expectShape('conv2d', 'input', x, inputShape(g));
    expectShape('conv2d', 'filter', w, filterShape(g));
    return [{ shape: outputShape(g), dtype: 'f32' }];
  },
  backward: ({ inputs: [x, w], grads: [dy], attrs, needsGrad }) => [
    // The image fed to a first convolution needs no gradient: skip that (full-size) pass.
    needsGrad[0] ? conv2dBackpropInput(dy!, w, attrs) : null,
    needsGrad[1] ? conv2dBackpropFilter(x, dy!, attrs) : null,
  ],
});

/** dx = conv2dᵀ(dy, w): the gradient of conv2d with respect to its input. */
export const Conv2dBackpropInput: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'conv2dBackpropInput',
  infer([dy, w], g) {
    checkF32('conv2dBackpropInput', dy, w);
    expectShape('conv2dBackpropInput', 'output gradient', dy, outputShape(g));
    expectShape('conv2dBackpropInput', 'filter', w, filterShape(g));
    return [{ shape: inputShape(g), dtype: 'f32' }];
  },
  backward: ({ inputs: [dy, w], grads: [gg], attrs, needsGrad }) => [
    needsGrad[0] ? conv2d(gg!, w, attrs) : null,
    needsGrad[1] ? conv2dBackpropFilter(gg!, dy, attrs) : null,
  ],
});

/** dw: the gradient of conv2d with respect to its filter. */
export const Conv2dBackpropFilter: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'conv2dBackpropFilter',
  infer([x, dy], g) {
    checkF32('conv2dBackpropFilter', x, dy);
    expectShape('conv2dBackpropFilter', 'input', x, inputShape(g));
    expectShape('conv2dBackpropFilter', 'output gradient', dy, outputShape(g));
    return [{ shape: filterShape(g), dtype: 'f32' }];
  },
  backward: ({ inputs: [x, dy], grads: [gg], attrs, needsGrad }) => [
    needsGrad[0] ? conv2dBackpropInput(dy, gg!, attrs) : null,
    needsGrad[1] ? conv2d(x, gg!, attrs) : null,
  ],
});

/** The kernel geometry of conv2d(x, w, opts) for these shapes, validated (groups, channels, padding). */
export function conv2dGeometry(
  x: readonly number[],
  w: readonly number[],
  opts: Conv2dOptions = {},
): Conv2dGeometry {
  if (w.length !== 4)
    throw new DescentError('conv2d', `filter must be [KH, KW, Cin/groups, Cout], got ${fmtShape(w)}`);
  const g = geometry('conv2d', x, w[0], w[1], w[3], opts);
  if (!Number.isInteger(g.groups) || g.groups < 1 || g.inC % g.groups !== 0 || g.outC % g.groups !== 0) {
    throw new DescentError(
      'conv2d',
      `groups=${g.groups} must divide input channels ${g.inC} and output channels ${g.outC}`,
    );
  }
  if (w[2] !== g.inC / g.groups) {
    throw new DescentError(
      'conv2d',
      `filter ${fmtShape(w)} has ${w[2]} input channels, expected Cin/groups = ${g.inC}/${g.groups} = ${g.inC / g.groups} for input ${fmtShape(x)}`,
    );
  }
  return g;
}

/** The kernel geometry of a 2-D pool over x (output channels = input channels). */
export function pool2dGeometry(
  op: string,
  x: readonly number[],
  kernelSize: number | [number, number],
  opts: Pool2dOptions = {},
): Conv2dGeometry {
  const [kH, kW] = pair(op, 'kernel size', kernelSize, 1);
  return geometry(op, x, kH, kW, x[3] ?? 0, {
    strides: opts.strides ?? [kH, kW],
    padding: opts.padding ?? 'valid',
  });
}

/** 2-D convolution, NHWC input, [KH, KW, Cin/groups, Cout] filter. */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions | Conv2dGeometry = {}): Tensor {
  return runOp(Conv2d, [x, w], 'outH' in opts ? opts : conv2dGeometry(x.shape, w.shape, opts))[0];
}
export const conv2dBackpropInput = (dy: Tensor, w: Tensor, g: Conv2dGeometry): Tensor =>
  runOp(Conv2dBackpropInput, [dy, w], g)[0];
export const conv2dBackpropFilter = (x: Tensor, dy: Tensor, g: Conv2dGeometry): Tensor =>
  runOp(Conv2dBackpropFilter, [x, dy], g)[0];

// ------------------------------------------------------------------------------- pooling

export interface Pool2dOptions {
  strides?: number | [number, number];
  padding?: Padding;
}

function poolGeometry(
  op: string,
  x: Tensor,
  kernelSize: number | [number, number],
  opts: Pool2dOptions,
): Conv2dGeometry {
  checkF32(op, x);
  return pool2dGeometry(op, x.shape, kernelSize, opts);
}

/** Max over each window; padding never wins (it counts as −∞). Backward routes to the first maximum. */
export const MaxPool2d: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'maxPool2d',
  infer: ([x], g) => {
    expectShape('maxPool2d', 'input', x, inputShape(g));
    return [{ shape: outputShape(g), dtype: 'f32' }];
  },
  backward: ({ inputs: [x], grads: [dy], attrs }) => [runOp(MaxPool2dBackward, [x, dy!], attrs)[0]],
});

/**
 * dx of maxPool2d: each dy is added at the position of its window's first maximum in x.
 * Not differentiable again (a third-order use of max pooling has no practical use; asking throws).
 */
export const MaxPool2dBackward: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'maxPool2dBackward',
  infer: ([x, dy], g) => {
    expectShape('maxPool2dBackward', 'input', x, inputShape(g));
    expectShape('maxPool2dBackward', 'output gradient', dy, outputShape(g));
    return [{ shape: inputShape(g), dtype: 'f32' }];
  },
  differentiableInputs: [1],
  backward: () => {
    throw new DescentError('maxPool2dBackward', 'second-order gradients through maxPool2d are not supported');
  },
});

/** Mean over each window, dividing by the number of in-bounds elements (padding excluded, as TensorFlow). */
export const AvgPool2d: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'avgPool2d',
  infer: ([x], g) => {
    expectShape('avgPool2d', 'input', x, inputShape(g));
    return [{ shape: outputShape(g), dtype: 'f32' }];
  },
  backward: ({ grads: [dy], attrs }) => [runOp(AvgPool2dBackward, [dy!], attrs)[0]],
});

/** dx of avgPool2d; linear in dy, so its own backward is avgPool2d. */
export const AvgPool2dBackward: OpDef<Conv2dGeometry> = defineOp<Conv2dGeometry>({
  name: 'avgPool2dBackward',
  infer: ([dy], g) => {
    expectShape('avgPool2dBackward', 'output gradient', dy, outputShape(g));
    return [{ shape: inputShape(g), dtype: 'f32' }];
  },
  backward: ({ grads: [gg], attrs }) => [runOp(AvgPool2d, [gg!], attrs)[0]],
});

export function maxPool2d(
  x: Tensor,
  kernelSize: number | [number, number],
  opts: Pool2dOptions = {},
): Tensor {
  return runOp(MaxPool2d, [x], poolGeometry('maxPool2d', x, kernelSize, opts))[0];
}
export function avgPool2d(
  x: Tensor,
  kernelSize: number | [number, number],
  opts: Pool2dOptions = {},
): Tensor {
  return runOp(AvgPool2d, [x], poolGeometry('avgPool2d', x, kernelSize, opts))[0];
}
/** Mean over H and W: [N, H, W, C] → [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4)
    throw new DescentError('globalAvgPool', `input must be NHWC (rank 4), got ${fmtShape(x.shape)}`);
  return mean(x, [1, 2]);
}

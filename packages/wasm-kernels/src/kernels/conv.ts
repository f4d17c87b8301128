/**
 * conv2d (NHWC, im2col + the packed gemm) with both gradients, and max/avg pooling with their
 * gradients. Core's geometry names the output size and the leading pads; the module's geometry wants
 * all four pads, so the trailing ones are derived to reproduce exactly core's output size.
 */
import type { Conv2dGeometry as CoreGeometry } from '@descent/core';
import type { Conv2dGeometry } from '../module.js';
import type { WasmKernel } from './types.js';

/**
 * The module's geometry for core's. padBottom/padRight = what makes floor((in + pads − extent)/stride) + 1
 * equal core's outH/outW (it can be negative when the last input rows are never read; the kernels only
 * use it for the output size).
 */
export function moduleGeometry(g: CoreGeometry): Conv2dGeometry {
  const extentH = (g.kH - 1) * g.dilationH + 1;
  const extentW = (g.kW - 1) * g.dilationW + 1;
  return {
    N: g.batch,
    H: g.inH,
    W: g.inW,
    C: g.inC,
    KH: g.kH,
    KW: g.kW,
    Cout: g.outC,
    strideH: g.strideH,
    strideW: g.strideW,
    padTop: g.padTop,
    padBottom: (g.outH - 1) * g.strideH + extentH - g.inH - g.padTop,
    padLeft: g.padLeft,
    padRight: (g.outW - 1) * g.strideW + extentW - g.inW - g.padLeft,
    dilationH: g.dilationH,
    dilationW: g.dilationW,
    groups: g.groups,
  };
}

const conv2d: WasmKernel = (ctx, [x, w], [y], g: CoreGeometry) => {
  ctx.km.conv2d(ctx.ptr(x), ctx.ptr(w), ctx.ptr(y), moduleGeometry(g));
};

const conv2dBackpropInput: WasmKernel = (ctx, [dy, w], [dx], g: CoreGeometry) => {
  ctx.km.conv2dBackwardInput(ctx.ptr(dy), ctx.ptr(w), ctx.ptr(dx), moduleGeometry(g));
};

const conv2dBackpropFilter: WasmKernel = (ctx, [x, dy], [dw], g: CoreGeometry) => {
  ctx.km.conv2dBackwardFilter(ctx.ptr(x), ctx.ptr(dy), ctx.ptr(dw), moduleGeometry(g));
};

/** Padding never wins a max (a window wholly in padding gives −inf). */
const maxPool2d: WasmKernel = (ctx, [x], [y], g: CoreGeometry) => {
  ctx.km.maxPool2d(ctx.ptr(x), ctx.ptr(y), moduleGeometry(g));
};

const maxPool2dBackward: WasmKernel = (ctx, [x, dy], [dx], g: CoreGeometry) => {
  ctx.km.maxPool2dBackward(ctx.ptr(x), ctx.ptr(dy), ctx.ptr(dx), moduleGeometry(g));
};

/** Divides by the number of in-bounds taps (padding excluded). */
const avgPool2d: WasmKernel = (ctx, [x], [y], g: CoreGeometry) => {
  ctx.km.avgPool2d(ctx.ptr(x), ctx.ptr(y), moduleGeometry(g), false);
};

const avgPool2dBackward: WasmKernel = (ctx, [dy], [dx], g: CoreGeometry) => {
  ctx.km.avgPool2dBackward(ctx.ptr(dy), ctx.ptr(dx), moduleGeometry(g), false);
};

export const convKernels: Record<string, WasmKernel> = {
  conv2d,
  conv2dBackpropInput,
  conv2dBackpropFilter,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};

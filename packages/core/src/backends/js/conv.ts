import type { Conv2dGeometry } from '../../ops/conv.js';
import type { JsKernel } from './types.js';

/**
 * Visits every (output position, filter tap) pair whose input position is in bounds:
 * visit(b, oh, ow, ih, iw, kh, kw). Shared by conv2d, both its gradients and the pools.
 */
function forEachTap(
  g: Conv2dGeometry,
  visit: (b: number, oh: number, ow: number, ih: number, iw: number, kh: number, kw: number) => void,
): void {
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outH; oh++) {
      for (let ow = 0; ow < g.outW; ow++) {
        for (let kh = 0; kh < g.kH; kh++) {
          const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
          if (ih < 0 || ih >= g.inH) continue;
          for (let kw = 0; kw < g.kW; kw++) {
            const iw = ow * g.strideW - g.padLeft + kw * g.dilationW;
            if (iw < 0 || iw >= g.inW) continue;
            visit(b, oh, ow, ih, iw, kh, kw);
          }
        }
      }
    }
  }
}

/** Calls f(inChannel, outChannel, filterIndex) for every connected channel pair under grouping. */
function forEachChannelPair(
  g: Conv2dGeometry,
  kh: number,
  kw: number,
  f: (ic: number, oc: number, wi: number) => void,
): void {
  const cinG = g.inC / g.groups;
  const coutG = g.outC / g.groups;
  for (let oc = 0; oc < g.outC; oc++) {
    const group = Math.floor(oc / coutG);
    for (let c = 0; c < cinG; c++) f(group * cinG + c, oc, ((kh * g.kW + kw) * cinG + c) * g.outC + oc);
  }
}

const xIndex = (g: Conv2dGeometry, b: number, h: number, w: number, c: number) =>
  ((b * g.inH + h) * g.inW + w) * g.inC + c;
const yIndex = (g: Conv2dGeometry, b: number, h: number, w: number, c: number) =>
  ((b * g.outH + h) * g.outW + w) * g.outC + c;

const conv2d: JsKernel = ([x, w], [y], g: Conv2dGeometry) => {
  const acc = new Float64Array(y.array.length);
  forEachTap(g, (b, oh, ow, ih, iw, kh, kw) =>
    forEachChannelPair(g, kh, kw, (ic, oc, wi) => {
      acc[yIndex(g, b, oh, ow, oc)] += x.array[xIndex(g, b, ih, iw, ic)] * w.array[wi];
    }),
  );
  y.array.set(acc);
};

const conv2dBackpropInput: JsKernel = ([dy, w], [dx], g: Conv2dGeometry) => {
  const acc = new Float64Array(dx.array.length);
  forEachTap(g, (b, oh, ow, ih, iw, kh, kw) =>
    forEachChannelPair(g, kh, kw, (ic, oc, wi) => {
      acc[xIndex(g, b, ih, iw, ic)] += dy.array[yIndex(g, b, oh, ow, oc)] * w.array[wi];
    }),
  );
  dx.array.set(acc);
};

const conv2dBackpropFilter: JsKernel = ([x, dy], [dw], g: Conv2dGeometry) => {
  const acc = new Float64Array(dw.array.length);
  forEachTap(g, (b, oh, ow, ih, iw, kh, kw) =>
    forEachChannelPair(g, kh, kw, (ic, oc, wi) => {
      acc[wi] += x.array[xIndex(g, b, ih, iw, ic)] * dy.array[yIndex(g, b, oh, ow, oc)];
    }),
  );
  dw.array.set(acc);
};

/** For each output element, the input offset of its window's first maximum (−1 if the window is all padding). */
function maxPoolArgmax(x: ArrayLike<number>, g: Conv2dGeometry): Int32Array {
  const at = new Int32Array(g.batch * g.outH * g.outW * g.outC).fill(-1);
  const best = new Float64Array(at.length).fill(Number.NEGATIVE_INFINITY);
  forEachTap(g, (b, oh, ow, ih, iw) => {
    for (let c = 0; c < g.inC; c++) {
      const o = yIndex(g, b, oh, ow, c);
      const i = xIndex(g, b, ih, iw, c);
      if (at[o] < 0 || x[i] > best[o]) {
        best[o] = x[i];
        at[o] = i;
      }
    }
  });
  return at;
}

const maxPool2d: JsKernel = ([x], [y], g: Conv2dGeometry) => {
  const at = maxPoolArgmax(x.array, g);
  for (let o = 0; o < at.length; o++) y.array[o] = at[o] < 0 ? Number.NEGATIVE_INFINITY : x.array[at[o]];
};

const maxPool2dBackward: JsKernel = ([x, dy], [dx], g: Conv2dGeometry) => {
  const at = maxPoolArgmax(x.array, g);
  const acc = new Float64Array(dx.array.length);
  for (let o = 0; o < at.length; o++) if (at[o] >= 0) acc[at[o]] += dy.array[o];
  dx.array.set(acc);
};

/** Number of in-bounds taps of each output window (the avg-pool divisor). */
function windowCounts(g: Conv2dGeometry): Int32Array {
  const counts = new Int32Array(g.batch * g.outH * g.outW);
  forEachTap(g, (b, oh, ow) => {
    counts[(b * g.outH + oh) * g.outW + ow]++;
  });
  return counts;
}

const avgPool2d: JsKernel = ([x], [y], g: Conv2dGeometry) => {
  const counts = windowCounts(g);
  const acc = new Float64Array(y.array.length);
  forEachTap(g, (b, oh, ow, ih, iw) => {
    for (let c = 0; c < g.inC; c++) acc[yIndex(g, b, oh, ow, c)] += x.array[xIndex(g, b, ih, iw, c)];
  });
  for (let o = 0; o < acc.length; o++) {
    const n = counts[Math.floor(o / g.outC)];
    y.array[o] = n > 0 ? acc[o] / n : 0;
  }
};

const avgPool2dBackward: JsKernel = ([dy], [dx], g: Conv2dGeometry) => {
  const counts = windowCounts(g);
  const acc = new Float64Array(dx.array.length);
  forEachTap(g, (b, oh, ow, ih, iw) => {
    const n = counts[(b * g.outH + oh) * g.outW + ow];
    for (let c = 0; c < g.inC; c++) acc[xIndex(g, b, ih, iw, c)] += dy.array[yIndex(g, b, oh, ow, c)] / n;
  });
  dx.array.set(acc);
};

export const convKernels: Record<string, JsKernel> = {
  conv2d,
  conv2dBackpropInput,
  conv2dBackpropFilter,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
};

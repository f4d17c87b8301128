import type {
  BroadcastKernelAttrs,
  CastAttrs,
  ClampAttrs,
  GeluAttrs,
  JumpReluAttrs,
  LeakyReluAttrs,
  SiluAttrs,
} from '../../ops/elementwise.js';
import { erf, erfc, gelu, sigmoid, softplus } from './math64.js';
import type { JsKernel, Store } from './types.js';

type Unary = (x: number, attrs: any) => number;

/** Reference scalar functions: plain float64 Math; integer variants where i32 needs wrap-around. */
const UNARY: Record<string, { f: Unary; i32?: Unary }> = {
  neg: { f: (x) => -x },
  abs: { f: Math.abs },
  sign: { f: Math.sign },
  exp: { f: Math.exp },
  log: { f: Math.log },
  sqrt: { f: Math.sqrt },
  rsqrt: { f: (x) => 1 / Math.sqrt(x) },
  square: { f: (x) => x * x, i32: (x) => Math.imul(x, x) },
  reciprocal: { f: (x) => 1 / x },
  relu: { f: (x) => Math.max(x, 0) }, // NaN stays NaN, as in PyTorch
  sigmoid: { f: sigmoid },
  tanh: { f: Math.tanh },
  erf: { f: erf },
  erfc: { f: erfc },
  softplus: { f: softplus },
  silu: { f: (x, { beta }: SiluAttrs) => x * sigmoid(beta * x) },
  gelu: { f: (x, { approximate }: GeluAttrs) => gelu(x, approximate) },
  leakyRelu: { f: (x, { alpha }: LeakyReluAttrs) => (x > 0 ? x : alpha * x) },
  clamp: { f: (x, { min, max }: ClampAttrs) => (Number.isNaN(x) ? x : Math.min(Math.max(x, min), max)) },
  cast: { f: (x, { dtype }: CastAttrs) => (dtype === 'i32' ? Math.trunc(x) : x) },
};

type Binary = (a: number, b: number, attrs: any) => number;
const BINARY: Record<string, { f: Binary; i32?: Binary }> = {
  add: { f: (a, b) => a + b },
  sub: { f: (a, b) => a - b },
  mul: { f: (a, b) => a * b, i32: (a, b) => Math.imul(a, b) },
  div: { f: (a, b) => a / b },
  pow: { f: Math.pow },
  maximum: { f: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b)) },
  minimum: { f: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b)) },
  equal: { f: (a, b) => (a === b ? 1 : 0) },
  notEqual: { f: (a, b) => (a !== b ? 1 : 0) },
  less: { f: (a, b) => (a < b ? 1 : 0) },
  lessEqual: { f: (a, b) => (a <= b ? 1 : 0) },
  greater: { f: (a, b) => (a > b ? 1 : 0) },
  greaterEqual: { f: (a, b) => (a >= b ? 1 : 0) },
  jumpRelu: { f: (z, kappa, _attrs: JumpReluAttrs) => (z > kappa ? z : 0) },
};

/**
 * Walks the output of a broadcast plan in row-major order, calling `visit(outIndex, offsets)` with
 * each input's element offset. An odometer over the plan's (merged) axes.
 */
export function forEachBroadcast(
  plan: BroadcastKernelAttrs,
  visit: (i: number, offsets: number[]) => void,
): void {
  const { outShape, strides } = plan;
  const rank = outShape.length;
  const total = outShape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(rank).fill(0);
  const offsets = strides.map(() => 0);
  for (let i = 0; i < total; i++) {
    visit(i, offsets);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < offsets.length; k++) offsets[k] += strides[k][d];
      if (idx[d] < outShape[d]) break;
      for (let k = 0; k < offsets.length; k++) offsets[k] -= strides[k][d] * outShape[d];
      idx[d] = 0;
    }
  }
}

function unaryKernel(name: string): JsKernel {
  const { f, i32 } = UNARY[name];
  return ([x], [y], attrs) => {
    const fn = x.dtype === 'i32' && i32 ? i32 : f;
    const xs = x.array;
    const ys = y.array;
    for (let i = 0; i < xs.length; i++) ys[i] = fn(xs[i], attrs);
  };
}

function binaryKernel(name: string): JsKernel {
  const { f, i32 } = BINARY[name];
  return ([a, b], [y], attrs) => {
    const fn = a.dtype === 'i32' && i32 ? i32 : f;
    const as = a.array;
    const bs = b.array;
    const ys = y.array;
    forEachBroadcast(attrs as BroadcastKernelAttrs, (i, [ia, ib]) => {
      ys[i] = fn(as[ia], bs[ib], attrs);
    });
  };
}

const where: JsKernel = ([c, a, b], [y], attrs) => {
  const cs = c.array;
  const as = a.array;
  const bs = b.array;
  const ys = y.array;
  forEachBroadcast(attrs as BroadcastKernelAttrs, (i, [ic, ia, ib]) => {
    ys[i] = cs[ic] !== 0 ? as[ia] : bs[ib];
  });
};

const broadcastTo: JsKernel = ([x], [y], attrs) => {
  const xs = x.array;
  const ys = y.array;
  forEachBroadcast(attrs as BroadcastKernelAttrs, (i, [ix]) => {
    ys[i] = xs[ix];
  });
};

export const elementwiseKernels: Record<string, JsKernel> = {
  ...Object.fromEntries(Object.keys(UNARY).map((n) => [n, unaryKernel(n)])),
  ...Object.fromEntries(Object.keys(BINARY).map((n) => [n, binaryKernel(n)])),
  where,
  broadcastTo,
};

export type { Store };

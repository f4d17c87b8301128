/**
 * Elementwise kernels: unary maps (f32 and i32), cast, broadcast binary maps, where, broadcastTo.
 * Each op name maps to a code of the module's generic unary/binary entry points (src/ops.ts).
 */
import type {
  BroadcastKernelAttrs,
  CastAttrs,
  ClampAttrs,
  GeluAttrs,
  LeakyReluAttrs,
  SiluAttrs,
} from '@descent/core';
import { type BinaryOpName, UnaryOp, type UnaryOpName } from '../ops.js';
import { contiguousStrides, copyStrided, forEachBlock, simplifyStrided, type WasmKernel } from './types.js';

/** An f32 unary op: the module's op code and its two scalar parameters from the attrs. */
type F32Unary = (attrs: any) => [UnaryOpName, number, number];

const F32_UNARY: Record<string, F32Unary> = {
  neg: () => ['neg', 0, 0],
  abs: () => ['abs', 0, 0],
  sign: () => ['sign', 0, 0],
  exp: () => ['exp', 0, 0],
  log: () => ['log', 0, 0],
  sqrt: () => ['sqrt', 0, 0],
  rsqrt: () => ['rsqrt', 0, 0],
  square: () => ['square', 0, 0],
  reciprocal: () => ['reciprocal', 0, 0],
  relu: () => ['relu', 0, 0],
  sigmoid: () => ['sigmoid', 0, 0],
  tanh: () => ['tanh', 0, 0],
  erf: () => ['erf', 0, 0],
  erfc: () => ['erfc', 0, 0],
  softplus: () => ['softplus', 0, 0],
  silu: ({ beta }: SiluAttrs) => ['silu', beta, 0],
  gelu: ({ approximate }: GeluAttrs) => [approximate === 'tanh' ? 'geluTanh' : 'geluErf', 0, 0],
  leakyRelu: ({ alpha }: LeakyReluAttrs) => ['leakyRelu', alpha, 0],
  clamp: ({ min, max }: ClampAttrs) => ['clamp', min, max],
};

/** A bound as the i32 kernel sees it: an f32 bound b acts on integers like trunc(b), saturated. */
const intBound = (b: number) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(b)));

/** The i32 unary ops (wrap-around arithmetic, like the reference's Int32Array stores). */
const I32_UNARY: Record<string, F32Unary> = {
  neg: () => ['neg', 0, 0],
  abs: () => ['abs', 0, 0],
  sign: () => ['sign', 0, 0],
  square: () => ['square', 0, 0],
  relu: () => ['relu', 0, 0],
  clamp: ({ min, max }: ClampAttrs) => ['clamp', intBound(min), intBound(max)],
};

function unaryKernel(name: string): WasmKernel {
  const f32 = F32_UNARY[name];
  const i32 = I32_UNARY[name];
  return (ctx, [x], [y], attrs) => {
    if (x.dtype === 'i32') {
      if (!i32) throw new Error(`'${name}' has no i32 kernel`);
      const [op, p0, p1] = i32(attrs);
      ctx.exports.unary_i32(UnaryOp[op], ctx.ptr(x), ctx.ptr(y), x.size, p0, p1);
    } else {
      const [op, p0, p1] = f32(attrs);
      ctx.km.unary(op, ctx.ptr(x), ctx.ptr(y), x.size, p0, p1);
    }
  };
}

/** f32 → i32 truncates toward zero and saturates (NaN → 0); i32 → f32 rounds to nearest. */
const cast: WasmKernel = (ctx, [x], [y], { dtype }: CastAttrs) => {
  const xp = ctx.ptr(x);
  const yp = ctx.ptr(y);
  if (x.dtype === dtype) copyStrided(ctx, xp, yp, [x.size], [1], [1]);
  else if (dtype === 'i32') ctx.km.unary('toI32', xp, yp, x.size);
  else ctx.exports.unary_i32(UnaryOp.toF32, xp, yp, x.size, 0, 0);
};

/** Core op name → the module's binary op code. */
const BINARY: Record<string, BinaryOpName> = {
  add: 'add',
  sub: 'sub',
  mul: 'mul',
  div: 'div',
  pow: 'pow',
  maximum: 'max',
  minimum: 'min',
  equal: 'eq',
  notEqual: 'ne',
  less: 'lt',
  lessEqual: 'le',
  greater: 'gt',
  greaterEqual: 'ge',
  jumpRelu: 'jumpRelu',
};

function binaryKernel(name: string): WasmKernel {
  const op = BINARY[name];
  return (ctx, [a, b], [y], { outShape, strides }: BroadcastKernelAttrs) => {
    const out = contiguousStrides(outShape);
    const plan = simplifyStrided(outShape, [strides[0], strides[1], out]);
    const [ap, bp, yp] = [ctx.ptr(a), ctx.ptr(b), ctx.ptr(y)];
    forEachBlock(plan, ([oa, ob, oy], shape, [sa, sb]) => {
      const size = shape.reduce((p, d) => p * d, 1);
      // This backend stores f32 and i32 only (no `dtypes`: core refuses f16 tensors on it).
      const dtype = a.dtype as 'f32' | 'i32';
      ctx.km.binary(op, ap + 4 * oa, bp + 4 * ob, yp + 4 * oy, { shape, strides: [sa, sb], size }, dtype);
    });
  };
}

/**
 * y = cond ≠ 0 ? a : b. The module's kernel reads cond as f32; an i32 cond is converted first (exact
 * for the ≠ 0 test). Branches of either dtype are moved as bits.
 */
const where: WasmKernel = (ctx, [c, a, b], [y], { outShape, strides }: BroadcastKernelAttrs) => {
  let cp = ctx.ptr(c);
  if (c.dtype === 'i32') {
    const f = ctx.scratch(c.size * 4);
    ctx.exports.unary_i32(UnaryOp.toF32, cp, f, c.size, 0, 0);
    cp = f;
  }
  const out = contiguousStrides(outShape);
  const plan = simplifyStrided(outShape, [strides[0], strides[1], strides[2], out]);
  const [ap, bp, yp] = [ctx.ptr(a), ctx.ptr(b), ctx.ptr(y)];
  forEachBlock(plan, ([oc, oa, ob, oy], shape, [sc, sa, sb]) => {
    const size = shape.reduce((p, d) => p * d, 1);
    ctx.km.where(cp + 4 * oc, ap + 4 * oa, bp + 4 * ob, yp + 4 * oy, { shape, strides: [sc, sa, sb], size });
  });
};

const broadcastTo: WasmKernel = (ctx, [x], [y], { outShape, strides }: BroadcastKernelAttrs) => {
  copyStrided(ctx, ctx.ptr(x), ctx.ptr(y), outShape, strides[0], contiguousStrides(outShape));
};

export const elementwiseKernels: Record<string, WasmKernel> = {
  ...Object.fromEntries(Object.keys(F32_UNARY).map((n) => [n, unaryKernel(n)])),
  cast,
  ...Object.fromEntries(Object.keys(BINARY).map((n) => [n, binaryKernel(n)])),
  where,
  broadcastTo,
};

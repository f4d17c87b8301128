/**
 * Elementwise kernels, each family from one generator:
 * - unary maps (f32 and i32; attrs as uniforms, so e.g. every leakyRelu alpha shares a pipeline),
 * - binary maps over a core `BroadcastPlan` (shape and per-input strides in the uniforms; the rank is
 *   a runtime loop bound, so one pipeline per op and dtype serves every shape),
 * - `where` (values copied as bits, so one pipeline per condition dtype), `cast`.
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import { grid1d, header, linearMain, Params, type WgslElem } from '../wgsl.js';
import { mathLib } from '../wgsl-math.js';

interface UnarySpec {
  /** WGSL expression of `x` (and `a0`, `a1`: the attrs) for f32 / i32 inputs. */
  f32?: string;
  i32?: string;
  math?: string[];
  /** Attr values (a0, a1) passed as uniforms. */
  attrs?: (a: any) => number[];
  /** Variant of the expression chosen by attrs (part of the pipeline key). */
  variant?: (a: any) => { key: string; f32: string; math?: string[] };
}

const UNARY: Record<string, UnarySpec> = {
  neg: { f32: '-x', i32: '-x' },
  abs: { f32: 'abs(x)', i32: 'abs(x)' },
  sign: { f32: 'sign(x)', i32: 'sign(x)' },
  exp: { f32: 'exp_acc(x)', math: ['exp'] },
  log: { f32: 'log_acc(x)', math: ['log'] },
  sqrt: { f32: 'select(sqrt(x), f32_nan(), x < 0.0f)' },
  rsqrt: { f32: 'select(1.0f / sqrt(x), f32_nan(), x < 0.0f)' },
  square: { f32: 'x * x', i32: 'x * x' },
  reciprocal: { f32: '1.0f / x' },
  relu: { f32: 'max(x, 0.0f)', i32: 'max(x, 0)' },
  sigmoid: { f32: 'sigmoid_acc(x)', math: ['sigmoid'] },
  tanh: { f32: 'tanh_acc(x)', math: ['tanh'] },
  erf: { f32: 'erf_acc(x)', math: ['erf'] },
  erfc: { f32: 'erfc_acc(x)', math: ['erf'] },
  softplus: { f32: 'max(x, 0.0f) + log1p_acc(exp_acc(-abs(x)))', math: ['exp', 'log'] },
  silu: { f32: 'x * sigmoid_acc(a0 * x)', math: ['sigmoid'], attrs: (a) => [a.beta] },
  gelu: {
    variant: (a) =>
      a.approximate === 'tanh'
        ? // x·σ(2u), u = √(2/π)(x + 0.044715x³): the tanh form without tanh's cancellation
          {
            key: 'tanh',
            f32: 'x * sigmoid_acc(1.59576912f * (x + 0.044715f * x * x * x))',
            math: ['sigmoid'],
          }
        : // x·Φ(x) = ½x·erfc(−x/√2): accurate in the negative tail
          { key: 'erf', f32: 'gelu_erf(x)', math: ['erf'] },
  },
  leakyRelu: { f32: 'select(a0 * x, x, x > 0.0f)', attrs: (a) => [a.alpha] },
  clamp: { f32: 'min(max(x, a0), a1)', i32: 'min(max(x, a0), a1)', attrs: (a) => [a.min, a.max] },
};

function elemOf(t: TensorInfo): 'f32' | 'i32' {
  return t.dtype === 'i32' ? 'i32' : 'f32';
}

function unaryKernel(op: string): GPUKernel {
  const spec = UNARY[op];
  return (ctx, [x], [y], attrs) => {
    const elem = elemOf(x);
    let expr = elem === 'i32' ? spec.i32 : spec.f32;
    let math = spec.math ?? [];
    let key = `unary/${op}/${elem}`;
    if (spec.variant && elem === 'f32') {
      const v = spec.variant(attrs);
      expr = v.f32;
      math = v.math ?? [];
      key += `/${v.key}`;
    }
    if (!expr) throw new Error(`webgpu ${op}: no ${x.dtype} kernel`);
    const av = spec.attrs?.(attrs) ?? [];
    const params = new Params().u32(x.size);
    for (const v of av) params.as(elem, v);
    const body = [
      `  let x = x_in[i];`,
      ...av.map((_, k) => `  let a${k} = ${elem === 'i32' ? 'pi' : 'pf'}(${1 + k}u);`),
      // Every f32 map sends NaN to NaN (the reference's Math functions do).
      elem === 'f32' ? `  y[i] = select(${expr}, x, is_nan(x));` : `  y[i] = ${expr};`,
    ].join('\n');
    ctx.dispatch({
      key,
      wgsl: () =>
        [
          header([{ name: 'x_in', elem }], [{ name: 'y', elem }], params.length),
          mathLib(['consts', ...math]),
          linearMain('pu(0u)', body),
        ].join('\n'),
      inputs: [x],
      outputs: [y],
      params,
      workgroups: grid1d(x.size),
    });
  };
}

const cast: GPUKernel = (ctx, [x], [y]) => {
  const from = elemOf(x);
  const to = elemOf(y);
  const expr =
    from === to
      ? 'x'
      : to === 'i32'
        ? 'select(i32(clamp(x, -2147483648.0f, 2147483520.0f)), 0, is_nan(x))' // trunc toward 0
        : 'f32(x)';
  const params = new Params().u32(x.size);
  ctx.dispatch({
    key: `cast/${from}/${to}`,
    wgsl: () =>
      [
        header([{ name: 'x_in', elem: from }], [{ name: 'y', elem: to }], params.length),
        mathLib(['consts']),
        linearMain('pu(0u)', `  let x = x_in[i];\n  y[i] = ${expr};`),
      ].join('\n'),
    inputs: [x],
    outputs: [y],
    params,
    workgroups: grid1d(x.size),
  });
};

// ------------------------------------------------------------------------------------ broadcast

interface BroadcastPlanAttrs {
  outShape: number[];
  strides: number[][];
}

/**
 * Parameters of a broadcast walk: [n, rank, outShape…, strides of input 0…, strides of input 1…].
 * The shader peels the output index from the last axis, accumulating each input's offset.
 */
function broadcastParams(plan: BroadcastPlanAttrs, size: number): Params {
  const p = new Params().u32(size, plan.outShape.length, ...plan.outShape);
  for (const s of plan.strides) p.u32(...s);
  return p;
}

/** WGSL computing `off0…off{k−1}` (u32 element offsets of each input) for output index `i`. */
function broadcastOffsets(inputs: number): string {
  const decl = Array.from({ length: inputs }, (_, k) => `  var off${k} = 0u;`).join('\n');
  const acc = Array.from(
    { length: inputs },
    (_, k) => `    off${k} = off${k} + c * pu(2u + rank * ${k + 1}u + d);`,
  ).join('\n');
  return `${decl}
  let rank = pu(1u);
  var rem = i;
  for (var e = rank; e > 0u; e = e - 1u) {
    let d = e - 1u;
    let dim = pu(2u + d);
    let c = rem % dim;
    rem = rem / dim;
${acc}
  }`;
}

interface BinarySpec {
  f32: string;
  i32?: string;
  /** Output is an f32 0/1 mask whatever the inputs. */
  mask?: boolean;
  math?: string[];
}

const nanOr = (e: string) => `select(${e}, f32_nan(), is_nan(a) || is_nan(b))`;
const mask = (cond: string) => `select(0.0f, 1.0f, ${cond})`;

const BINARY: Record<string, BinarySpec> = {
  add: { f32: 'a + b', i32: 'a + b' },
  sub: { f32: 'a - b', i32: 'a - b' },
  mul: { f32: 'a * b', i32: 'a * b' },
  div: { f32: 'a / b' },
  pow: { f32: 'pow_acc(a, b)', math: ['pow'] },
  maximum: { f32: nanOr('max(a, b)'), i32: 'max(a, b)' },
  minimum: { f32: nanOr('min(a, b)'), i32: 'min(a, b)' },
  equal: { f32: mask('a == b'), i32: mask('a == b'), mask: true },
  notEqual: { f32: mask('a != b'), i32: mask('a != b'), mask: true },
  less: { f32: mask('a < b'), i32: mask('a < b'), mask: true },
  lessEqual: { f32: mask('a <= b'), i32: mask('a <= b'), mask: true },
  greater: { f32: mask('a > b'), i32: mask('a > b'), mask: true },
  greaterEqual: { f32: mask('a >= b'), i32: mask('a >= b'), mask: true },
  jumpRelu: { f32: 'select(0.0f, a, a > b)' },
};

function binaryKernel(op: string): GPUKernel {
  const spec = BINARY[op];
  return (ctx, [a, b], [y], plan: BroadcastPlanAttrs) => {
    const elem = elemOf(a);
    const expr = elem === 'i32' ? spec.i32 : spec.f32;
    if (!expr) throw new Error(`webgpu ${op}: no ${a.dtype} kernel`);
    const out: WgslElem = spec.mask ? 'f32' : elem;
    const params = broadcastParams(plan, y.size);
    ctx.dispatch({
      key: `binary/${op}/${elem}`,
      wgsl: () =>
        [
          header(
            [
              { name: 'a_in', elem },
              { name: 'b_in', elem },
            ],
            [{ name: 'y', elem: out }],
            params.length,
          ),
          mathLib(['consts', ...(spec.math ?? [])]),
          linearMain(
            'pu(0u)',
            `${broadcastOffsets(2)}\n  let a = a_in[off0];\n  let b = b_in[off1];\n  y[i] = ${expr};`,
          ),
        ].join('\n'),
      inputs: [a, b],
      outputs: [y],
      params,
      workgroups: grid1d(y.size),
    });
  };
}

const where: GPUKernel = (ctx, [c, a, b], [y], plan: BroadcastPlanAttrs) => {
  const celem = elemOf(c);
  const params = broadcastParams(plan, y.size);
  const zero = celem === 'i32' ? '0' : '0.0f';
  ctx.dispatch({
    key: `where/${celem}`,
    wgsl: () =>
      [
        header(
          [
            { name: 'c_in', elem: celem },
            { name: 'a_in', elem: 'u32' },
            { name: 'b_in', elem: 'u32' },
          ],
          [{ name: 'y', elem: 'u32' }],
          params.length,
        ),
        linearMain(
          'pu(0u)',
          `${broadcastOffsets(3)}\n  if (c_in[off0] != ${zero}) { y[i] = a_in[off1]; } else { y[i] = b_in[off2]; }`,
        ),
      ].join('\n'),
    inputs: [c, a, b],
    outputs: [y],
    params,
    workgroups: grid1d(y.size),
  });
};

/** broadcastTo: a bit copy along the plan (one pipeline for every dtype). */
const broadcastTo: GPUKernel = (ctx: KernelContext, [x], [y], plan: BroadcastPlanAttrs) => {
  const params = broadcastParams(plan, y.size);
  ctx.dispatch({
    key: 'broadcastTo',
    wgsl: () =>
      [
        header([{ name: 'x_in', elem: 'u32' }], [{ name: 'y', elem: 'u32' }], params.length),
        linearMain('pu(0u)', `${broadcastOffsets(1)}\n  y[i] = x_in[off0];`),
      ].join('\n'),
    inputs: [x],
    outputs: [y],
    params,
    workgroups: grid1d(y.size),
  });
};

export const elementwiseKernels: Record<string, GPUKernel> = {
  ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unaryKernel(op)])),
  ...Object.fromEntries(Object.keys(BINARY).map((op) => [op, binaryKernel(op)])),
  cast,
  where,
  broadcastTo,
};

/**
 * Elementwise kernels, each family from one generator:
 * - unary maps (f32 and i32; attrs as uniforms, so e.g. every leakyRelu alpha shares a pipeline),
 * - binary maps over a core `BroadcastPlan` (shape and per-input strides in the uniforms; the rank is
 *   a runtime loop bound, so one pipeline per op and dtype serves every shape),
 * - `where` (values copied as bits, so one pipeline per condition dtype), `cast`.
 * f16 tensors (device feature `shader-f16`) use the f32 expressions: each element is read as f32,
 * computed in f32 and stored through `to_f16` (ties-to-even rounding, see ../wgsl.ts).
 */
import type { TensorInfo } from '@descent/core';
import type { GPUKernel, KernelContext } from '../kernel.js';
import {
  alignedPieces,
  type BindingWindow,
  needsSplit,
  offsetRange,
  splitRange,
  strided,
  windowOver,
} from '../split.js';
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

function elemOf(t: TensorInfo): 'f32' | 'i32' | 'f16' {
  return t.dtype;
}

/** The type a kernel computes in: f16 elements are computed in f32. */
const computeOf = (elem: 'f32' | 'i32' | 'f16'): 'f32' | 'i32' => (elem === 'i32' ? 'i32' : 'f32');
/** WGSL reading element `at` of buffer `name` as its compute type. */
const load = (name: string, at: string, elem: WgslElem) =>
  elem === 'f16' ? `f32(${name}[${at}])` : `${name}[${at}]`;
/** WGSL converting compute-type value `v` for storage as `elem`. */
const store = (v: string, elem: WgslElem) => (elem === 'f16' ? `to_f16(${v})` : v);

function unaryKernel(op: string): GPUKernel {
  const spec = UNARY[op];
  return (ctx, [x], [y], attrs) => {
    const elem = elemOf(x);
    const comp = computeOf(elem);
    let expr = comp === 'i32' ? spec.i32 : spec.f32;
    let math = spec.math ?? [];
    let key = `unary/${op}/${elem}`;
    if (spec.variant && comp === 'f32') {
      const v = spec.variant(attrs);
      expr = v.f32;
      math = v.math ?? [];
      key += `/${v.key}`;
    }
    if (!expr) throw new Error(`webgpu ${op}: no ${x.dtype} kernel`);
    const av = spec.attrs?.(attrs) ?? [];
    const body = [
      `  let x = ${load('x_in', 'i', elem)};`,
      ...av.map((_, k) => `  let a${k} = ${comp === 'i32' ? 'pi' : 'pf'}(${1 + k}u);`),
      // Every f32 map sends NaN to NaN (the reference's Math functions do).
      comp === 'f32' ? `  y[i] = ${store(`select(${expr}, x, is_nan(x))`, elem)};` : `  y[i] = ${expr};`,
    ].join('\n');
    const wgsl = () =>
      [
        header([{ name: 'x_in', elem }], [{ name: 'y', elem }], 1 + av.length),
        mathLib(['consts', ...math]),
        linearMain('pu(0u)', body),
      ].join('\n');
    mapPieces(ctx, x, y, (count) => {
      const params = new Params().u32(count);
      for (const v of av) params.as(comp, v);
      return { key, wgsl, params };
    });
  };
}

/**
 * Dispatches a same-index map (y[i] = f(x[i])) once, or — when the tensors are larger than one
 * binding — once per aligned piece, binding the same element window of x and y.
 */
function mapPieces(
  ctx: KernelContext,
  x: TensorInfo,
  y: TensorInfo,
  make: (count: number) => { key: string; wgsl: () => string; params: Params },
): void {
  const split = needsSplit(ctx.split, x, y);
  const pieces = split ? alignedPieces(x.size, ctx.split) : [{ s: 0, e: x.size }];
  for (const { s, e } of pieces) {
    const window = { offset: s, size: e - s };
    ctx.dispatch({
      ...make(e - s),
      inputs: [x],
      outputs: [y],
      workgroups: grid1d(e - s),
      windows: split ? [window, window] : undefined,
    });
  }
}

export const cast: GPUKernel = (ctx, [x], [y]) => {
  const from = elemOf(x);
  const to = elemOf(y);
  // Between compute types (an f16 is read as f32), then stored as `to`. Into f16 this rounds once:
  // an i32 beyond ±2²⁴ (where f32(x) rounds) is far past f16's range, so it is ±∞ either way.
  const [cf, ct] = [computeOf(from), computeOf(to)];
  const conv =
    cf === ct
      ? 'x'
      : ct === 'i32'
        ? 'select(i32(clamp(x, -2147483648.0f, 2147483520.0f)), 0, is_nan(x))' // trunc toward 0
        : 'f32(x)';
  const expr = store(conv, to);
  mapPieces(ctx, x, y, (count) => ({
    key: `cast/${from}/${to}`,
    wgsl: () =>
      [
        header([{ name: 'x_in', elem: from }], [{ name: 'y', elem: to }], 1),
        mathLib(['consts']),
        linearMain('pu(0u)', `  let x = ${load('x_in', 'i', from)};\n  y[i] = ${expr};`),
      ].join('\n'),
    params: new Params().u32(count),
  }));
};

// ------------------------------------------------------------------------------------ broadcast

interface BroadcastPlanAttrs {
  outShape: number[];
  strides: number[][];
}

/**
 * Parameters of a broadcast walk over output indices start … start+count−1:
 * [count, rank, outShape…, strides of input 0…, strides of input 1…, start, bias of each input,
 * bias of the output]. The shader peels the global output index g = start + i from the last axis,
 * accumulating each input's offset; element e of a binding is read at e − bias (its window's
 * offset; 0 when the whole tensor is bound). u32 arithmetic wraps, so a bias may be "negative".
 */
function broadcastParams(
  plan: BroadcastPlanAttrs,
  count: number,
  start = 0,
  biases: readonly number[] = plan.strides.map(() => 0),
  yBias = 0,
): Params {
  const p = new Params().u32(count, plan.outShape.length, ...plan.outShape);
  for (const st of plan.strides) p.u32(...st);
  return p.u32(start, ...biases, yBias);
}

/**
 * WGSL computing `off0…off{k−1}` (each input's element index in its binding) and `yi` (the output's)
 * for thread `i`.
 */
function broadcastOffsets(inputs: number): string {
  const decl = Array.from({ length: inputs }, (_, k) => `  var off${k} = 0u;`).join('\n');
  const acc = Array.from(
    { length: inputs },
    (_, k) => `    off${k} = off${k} + c * pu(2u + rank * ${k + 1}u + d);`,
  ).join('\n');
  const bias = Array.from({ length: inputs }, (_, k) => `  off${k} = off${k} - pu(extra + ${k + 1}u);`).join(
    '\n',
  );
  return `${decl}
  let rank = pu(1u);
  let extra = 2u + rank * ${inputs + 1}u;
  let g = pu(extra) + i;
  var rem = g;
  for (var e = rank; e > 0u; e = e - 1u) {
    let d = e - 1u;
    let dim = pu(2u + d);
    let c = rem % dim;
    rem = rem / dim;
${acc}
  }
${bias}
  let yi = g - pu(extra + ${inputs + 1}u);`;
}

/**
 * Dispatches a broadcast walk over `y` once, or — when a tensor is larger than one binding — once per
 * piece of the output range, binding for each large input the window of elements that piece reads.
 */
function broadcastDispatch(
  ctx: KernelContext,
  plan: BroadcastPlanAttrs,
  inputs: readonly TensorInfo[],
  y: TensorInfo,
  spec: { key: string; wgsl: (paramWords: number) => string },
): void {
  const { alignElements } = ctx.split;
  const whole = (t: TensorInfo): BindingWindow => ({ offset: 0, size: t.size });
  const split = needsSplit(ctx.split, y, ...inputs);
  const pieces = split
    ? splitRange(y.size, ctx.split, (s, e) => [
        ...inputs.map((t, k) =>
          t.size > ctx.split.maxElements
            ? windowOver(...offsetRange(strided(plan.outShape, plan.strides[k]), s, e), alignElements)
            : whole(t),
        ),
        windowOver(s, e - 1, alignElements),
      ])
    : [{ s: 0, e: y.size, windows: [...inputs.map(whole), whole(y)] }];
  for (const { s, e, windows } of pieces) {
    const params = broadcastParams(
      plan,
      e - s,
      s,
      windows.slice(0, inputs.length).map((w) => w.offset),
      windows[inputs.length].offset,
    );
    ctx.dispatch({
      key: spec.key,
      wgsl: () => spec.wgsl(params.length),
      inputs,
      outputs: [y],
      params,
      workgroups: grid1d(e - s),
      windows: split ? windows : undefined,
    });
  }
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
    const expr = computeOf(elem) === 'i32' ? spec.i32 : spec.f32;
    if (!expr) throw new Error(`webgpu ${op}: no ${a.dtype} kernel`);
    const out: WgslElem = spec.mask ? 'f32' : elem;
    broadcastDispatch(ctx, plan, [a, b], y, {
      key: `binary/${op}/${elem}`,
      wgsl: (words) =>
        [
          header(
            [
              { name: 'a_in', elem },
              { name: 'b_in', elem },
            ],
            [{ name: 'y', elem: out }],
            words,
          ),
          mathLib(['consts', ...(spec.math ?? [])]),
          linearMain(
            'pu(0u)',
            `${broadcastOffsets(2)}\n  let a = ${load('a_in', 'off0', elem)};\n  let b = ${load('b_in', 'off1', elem)};\n  y[yi] = ${store(expr, out)};`,
          ),
        ].join('\n'),
    });
  };
}

const where: GPUKernel = (ctx, [c, a, b], [y], plan: BroadcastPlanAttrs) => {
  const celem = elemOf(c);
  const zero = celem === 'i32' ? '0' : '0.0f';
  broadcastDispatch(ctx, plan, [c, a, b], y, {
    key: `where/${celem}`,
    wgsl: (words) =>
      [
        header(
          [
            { name: 'c_in', elem: celem },
            { name: 'a_in', elem: 'u32' },
            { name: 'b_in', elem: 'u32' },
          ],
          [{ name: 'y', elem: 'u32' }],
          words,
        ),
        linearMain(
          'pu(0u)',
          `${broadcastOffsets(3)}\n  if (c_in[off0] != ${zero}) { y[yi] = a_in[off1]; } else { y[yi] = b_in[off2]; }`,
        ),
      ].join('\n'),
  });
};

/** broadcastTo: a bit copy along the plan (one pipeline for every dtype). */
const broadcastTo: GPUKernel = (ctx: KernelContext, [x], [y], plan: BroadcastPlanAttrs) => {
  broadcastDispatch(ctx, plan, [x], y, {
    key: 'broadcastTo',
    wgsl: (words) =>
      [
        header([{ name: 'x_in', elem: 'u32' }], [{ name: 'y', elem: 'u32' }], words),
        linearMain('pu(0u)', `${broadcastOffsets(1)}\n  y[yi] = x_in[off0];`),
      ].join('\n'),
  });
};

export const elementwiseKernels: Record<string, GPUKernel> = {
  ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unaryKernel(op)])),
  ...Object.fromEntries(Object.keys(BINARY).map((op) => [op, binaryKernel(op)])),
  cast,
  where,
  broadcastTo,
};

/** The ops above that run over tensors larger than one storage binding (see ../split.ts). */
export const elementwiseSplitting = Object.keys(elementwiseKernels);

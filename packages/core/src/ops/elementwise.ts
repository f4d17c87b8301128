import { DTYPES, type DType, isDType } from '../dtype.js';
import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { defineOp, type GradContext, type OpDef, runOp } from '../op.js';
import { broadcastPlan, broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
// Backward rules use ops from the other op modules; ESM resolves the cycle because those are only
// called at run time, after every module has loaded.
import { reshape, sumToShape } from './shape-ops.js';
import { asTensor, pickLike, type TensorOrNumber } from './util.js';

function checkDType(op: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new DescentError(
      op,
      `got a ${t.dtype} tensor of shape ${fmtShape(t.shape)} (expected ${allowed.join(' or ')})`,
    );
  }
}

// ------------------------------------------------------------------------------- unary

type UnaryBackward<A> = (x: Tensor, y: Tensor, g: Tensor, attrs: A) => Tensor | null;

/**
 * Declares a unary elementwise op. Every unary op shares this one definition path; the table below
 * gives each its dtypes and backward rule. Kernels receive the op's attrs unchanged.
 */
function unaryOp<A = Record<string, never>>(
  name: string,
  dtypes: readonly DType[],
  backward: UnaryBackward<A> | null,
  validate?: (attrs: A) => void,
): OpDef<A> {
  return defineOp<A>({
    name,
    f16: dtypes.includes('f16'),
    infer([x], attrs) {
      checkDType(name, x, dtypes);
      validate?.(attrs);
      return [{ shape: x.shape, dtype: x.dtype }];
    },
    backward: backward
      ? ({ inputs: [x], outputs: [y], grads: [g], attrs }) => [backward(x, y, g!, attrs)]
      : undefined,
  });
}

/** Float maps take f32 and f16 (computed in f32, stored as f16); NUM adds i32. */
const F32 = ['f32', 'f16'] as const;
const NUM = ['f32', 'i32', 'f16'] as const;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

export const Neg: OpDef<any> = unaryOp('neg', NUM, (_x, _y, g) => neg(g));
export const Abs: OpDef<any> = unaryOp('abs', NUM, (x, _y, g) => mul(g, sign(x)));
export const Sign: OpDef<any> = unaryOp('sign', NUM, null);
export const Exp: OpDef<any> = unaryOp('exp', F32, (_x, y, g) => mul(g, y));
export const Log: OpDef<any> = unaryOp('log', F32, (x, _y, g) => div(g, x));
export const Sqrt: OpDef<any> = unaryOp('sqrt', F32, (_x, y, g) => div(g, mul(y, 2)));
export const Rsqrt: OpDef<any> = unaryOp('rsqrt', F32, (_x, y, g) => mul(g, mul(mul(square(y), y), -0.5)));
export const Square: OpDef<any> = unaryOp('square', NUM, (x, _y, g) => mul(g, mul(x, 2)));
export const Reciprocal: OpDef<any> = unaryOp('reciprocal', F32, (_x, y, g) => neg(mul(g, square(y))));
export const Relu: OpDef<any> = unaryOp('relu', NUM, (x, _y, g) => mul(g, greater(x, 0)));
/**
 * Backward rules avoid 1 − y where y → 1: σ'(x) = σ(x)·σ(−x) and tanh'(x) = 1 − tanh² = 4σ(2x)σ(−2x)
 * keep full relative accuracy in the tails, where y·(1 − y) and 1 − y² would cancel.
 */
export const Sigmoid: OpDef<any> = unaryOp('sigmoid', F32, (x, y, g) => mul(g, mul(y, sigmoid(neg(x)))));
export const Tanh: OpDef<any> = unaryOp('tanh', F32, (x, _y, g) => {
  const x2 = mul(x, 2);
  return mul(g, mul(mul(sigmoid(x2), sigmoid(neg(x2))), 4));
});
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
export const Erf: OpDef<any> = unaryOp('erf', F32, (x, _y, g) =>
  mul(g, mul(exp(neg(square(x))), TWO_OVER_SQRT_PI)),
);
/** erfc(x) = 1 − erf(x), without cancellation for large x (the Gaussian tail needs it). */
export const Erfc: OpDef<any> = unaryOp('erfc', F32, (x, _y, g) =>
  mul(g, mul(exp(neg(square(x))), -TWO_OVER_SQRT_PI)),
);
export const Softplus: OpDef<any> = unaryOp('softplus', F32, (x, _y, g) => mul(g, sigmoid(x)));

export interface SiluAttrs {
  beta: number;
}
/** d/dx x·σ(βx) = σ(βx) + βx·σ(βx)·σ(−βx) (σ(−βx) rather than 1 − σ(βx), which cancels). */
export const Silu: OpDef<SiluAttrs> = unaryOp<SiluAttrs>(
  'silu',
  F32,
  (x, _y, g, { beta }) => {
    const bx = mul(x, beta);
    const s = sigmoid(bx);
    return mul(g, add(s, mul(bx, mul(s, sigmoid(neg(bx))))));
  },
  ({ beta }) => {
    if (!Number.isFinite(beta)) throw new DescentError('silu', `beta must be finite, got ${beta}`);
  },
);

export interface GeluAttrs {
  approximate: 'none' | 'tanh';
}
export const Gelu: OpDef<GeluAttrs> = unaryOp<GeluAttrs>(
  'gelu',
  F32,
  (x, _y, g, { approximate }) => {
    if (approximate === 'tanh') {
      // y = ½x(1 + tanh u) = x·σ(2u), u = √(2/π)(x + c·x³): dy/dx = σ(2u) + x·σ(2u)σ(−2u)·2u'
      const x2 = square(x);
      const u2 = mul(add(x, mul(mul(x2, x), GELU_C)), 2 * SQRT_2_OVER_PI);
      const s = sigmoid(u2);
      const du2 = mul(add(mul(x2, 3 * GELU_C), 1), 2 * SQRT_2_OVER_PI);
      return mul(g, add(s, mul(mul(x, mul(s, sigmoid(neg(u2)))), du2)));
    }
    // y = x·Φ(x): dy/dx = Φ(x) + x·φ(x), with Φ(x) = ½·erfc(−x/√2) (no cancellation for x ≪ 0)
    const cdf = mul(erfc(mul(x, -Math.SQRT1_2)), 0.5);
    const pdf = mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mul(g, add(cdf, mul(x, pdf)));
  },
  ({ approximate }) => {
    if (approximate !== 'none' && approximate !== 'tanh') {
      throw new DescentError('gelu', `approximate must be 'none' or 'tanh', got '${approximate}'`);
    }
  },
);

export interface LeakyReluAttrs {
  alpha: number;
}
export const LeakyRelu: OpDef<LeakyReluAttrs> = unaryOp<LeakyReluAttrs>(
  'leakyRelu',
  F32,
  (x, _y, g, { alpha }) => mul(g, add(mul(greater(x, 0), 1 - alpha), alpha)),
);

export interface ClampAttrs {
  min: number;
  max: number;
}
/** Gradient passes where min <= x <= max (boundaries included, as in PyTorch). */
export const Clamp: OpDef<ClampAttrs> = unaryOp<ClampAttrs>(
  'clamp',
  NUM,
  (x, _y, g, { min, max }) => mul(g, mul(greaterEqual(x, min), lessEqual(x, max))),
  ({ min, max }) => {
    if (!(min <= max)) throw new DescentError('clamp', `expected min <= max, got min=${min}, max=${max}`);
  },
);

export interface CastAttrs {
  dtype: DType;
}
/**
 * f32 → i32 truncates toward zero (like C and WGSL casts); i32 → f32 and anything → f16 round to
 * nearest even (f16 overflows to ±∞ from 65520 on). Not differentiable: an i32 side has no gradient,
 * f16 is outside autograd (casting f32 to f32 is a no-op view).
 */
export const Cast = defineOp<CastAttrs>({
  name: 'cast',
  f16: true,
  infer([x], { dtype }) {
    if (!isDType(dtype))
      throw new DescentError('cast', `unknown dtype '${dtype}' (expected ${DTYPES.join(', ')})`);
    return [{ shape: x.shape, dtype }];
  },
});

const unary =
  <A>(def: OpDef<A>) =>
  (x: Tensor, attrs: A): Tensor =>
    runOp(def, [x], attrs)[0];
const NO_ATTRS = {} as Record<string, never>;

export const neg = (x: Tensor): Tensor => unary(Neg)(x, NO_ATTRS);
export const abs = (x: Tensor): Tensor => unary(Abs)(x, NO_ATTRS);
export const sign = (x: Tensor): Tensor => unary(Sign)(x, NO_ATTRS);
export const exp = (x: Tensor): Tensor => unary(Exp)(x, NO_ATTRS);
export const log = (x: Tensor): Tensor => unary(Log)(x, NO_ATTRS);
export const sqrt = (x: Tensor): Tensor => unary(Sqrt)(x, NO_ATTRS);
export const rsqrt = (x: Tensor): Tensor => unary(Rsqrt)(x, NO_ATTRS);
export const square = (x: Tensor): Tensor => unary(Square)(x, NO_ATTRS);
export const reciprocal = (x: Tensor): Tensor => unary(Reciprocal)(x, NO_ATTRS);
export const relu = (x: Tensor): Tensor => unary(Relu)(x, NO_ATTRS);
export const sigmoid = (x: Tensor): Tensor => unary(Sigmoid)(x, NO_ATTRS);
export const tanh = (x: Tensor): Tensor => unary(Tanh)(x, NO_ATTRS);
export const erf = (x: Tensor): Tensor => unary(Erf)(x, NO_ATTRS);
export const erfc = (x: Tensor): Tensor => unary(Erfc)(x, NO_ATTRS);
/** log(1 + eˣ), computed stably. */
export const softplus = (x: Tensor): Tensor => unary(Softplus)(x, NO_ATTRS);
/** Swish: x·σ(βx); β = 1 is SiLU. */
export const silu = (x: Tensor, beta = 1): Tensor => unary(Silu)(x, { beta });
export const swish = silu;
/** GELU, exact (erf) form by default, or the tanh approximation. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor =>
  unary(Gelu)(x, { approximate });
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => unary(LeakyRelu)(x, { alpha });
export const clamp = (x: Tensor, min: number, max: number): Tensor => unary(Clamp)(x, { min, max });
export const cast = (x: Tensor, dtype: DType): Tensor =>
  x.dtype === dtype ? reshape(x, x.shape) : unary(Cast)(x, { dtype });

// ------------------------------------------------------------------------------- binary

/** Kernel attrs of every broadcasting elementwise op: a merged broadcast plan (see `broadcastPlan`). */
export interface BroadcastKernelAttrs {
  outShape: number[];
  strides: number[][];
}

type BinaryBackward<A> = (
  a: Tensor,
  b: Tensor,
  y: Tensor,
  g: Tensor,
  attrs: A,
) => [Tensor | null, Tensor | null];

interface BinarySpec<A> {
  dtypes: readonly DType[];
  /** Output dtype; comparisons produce f32 0/1 masks. */
  outDType?: DType;
  backward: BinaryBackward<A> | null;
}

function binaryOp<A = Record<string, never>>(name: string, spec: BinarySpec<A>): OpDef<A> {
  return defineOp<A>({
    name,
    f16: spec.dtypes.includes('f16'),
    infer([a, b]) {
      checkDType(name, a, spec.dtypes);
      if (a.dtype !== b.dtype) {
        throw new DescentError(
          name,
          `dtype mismatch: ${fmtShape(a.shape)} ${a.dtype} and ${fmtShape(b.shape)} ${b.dtype} (expected equal dtypes; use cast())`,
        );
      }
      return [{ shape: broadcastShapes(name, a.shape, b.shape), dtype: spec.outDType ?? a.dtype }];
    },
    kernelAttrs: ([a, b], attrs, [out]) => ({ ...attrs, ...broadcastPlan(out.shape, [a.shape, b.shape]) }),
    backward: spec.backward
      ? ({ inputs: [a, b], outputs: [y], grads: [g], attrs }: GradContext<A>) => {
          const [ga, gb] = spec.backward!(a, b, y, g!, attrs);
          return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
        }
      : undefined,
  });
}

export const Add: OpDef<any> = binaryOp('add', { dtypes: NUM, backward: (_a, _b, _y, g) => [g, g] });
export const Sub: OpDef<any> = binaryOp('sub', { dtypes: NUM, backward: (_a, _b, _y, g) => [g, neg(g)] });
export const Mul: OpDef<any> = binaryOp('mul', {
  dtypes: NUM,
  backward: (a, b, _y, g) => [mul(g, b), mul(g, a)],
});
export const Div: OpDef<any> = binaryOp('div', {
  dtypes: F32,
  backward: (_a, b, y, g) => [div(g, b), neg(div(mul(g, y), b))],
});
/**
 * aᵇ. d/da = b·a^(b−1); d/db = aᵇ·ln a where a > 0 and 0 elsewhere (ln a is undefined there;
 * PyTorch gives NaN for a < 0 — we document and choose 0).
 */
export const Pow: OpDef<any> = binaryOp('pow', {
  dtypes: F32,
  backward: (a, b, y, g) => {
    const da = mul(g, mul(b, pow(a, sub(b, 1))));
    const pos = greater(a, 0);
    const safeLog = log(add(mul(a, pos), sub(1, pos))); // ln a where a > 0, ln 1 = 0 elsewhere
    return [da, mul(g, mul(mul(y, safeLog), pos))];
  },
});
/** Ties split the gradient evenly between the operands (as PyTorch does). */
export const Maximum: OpDef<any> = binaryOp('maximum', {
  dtypes: NUM,
  backward: (a, b, _y, g) => {
    const half = mul(equal(a, b), 0.5);
    return [mul(g, add(greater(a, b), half)), mul(g, add(less(a, b), half))];
  },
});
export const Minimum: OpDef<any> = binaryOp('minimum', {
  dtypes: NUM,
  backward: (a, b, _y, g) => {
    const half = mul(equal(a, b), 0.5);
    return [mul(g, add(less(a, b), half)), mul(g, add(greater(a, b), half))];
  },
});

const compare = (name: string) => binaryOp(name, { dtypes: NUM, outDType: 'f32', backward: null });
export const Equal: OpDef<any> = compare('equal');
export const NotEqual: OpDef<any> = compare('notEqual');
export const Less: OpDef<any> = compare('less');
export const LessEqual: OpDef<any> = compare('lessEqual');
export const Greater: OpDef<any> = compare('greater');
export const GreaterEqual: OpDef<any> = compare('greaterEqual');

export interface JumpReluAttrs {
  /** Width ε of the rectangle kernel in the straight-through estimate of d/dκ. */
  bandwidth: number;
}
/**
 * JumpReLU(z; κ) = z·H(z − κ) (Rajamanoharan et al. 2024). d/dz = H(z − κ) exactly (almost everywhere).
 * H has no useful derivative, so d/dκ uses their straight-through estimate with a rectangle kernel
 * of width ε: d/dκ ≈ −(κ/ε)·1{|z − κ| < ε/2}.
 */
export const JumpRelu: OpDef<JumpReluAttrs> = binaryOp<JumpReluAttrs>('jumpRelu', {
  dtypes: F32,
  backward: (z, kappa, _y, g, { bandwidth }) => {
    const dz = mul(g, greater(z, kappa));
    const inWindow = less(abs(sub(z, kappa)), bandwidth / 2);
    const dk = mul(mul(g, inWindow), mul(kappa, -1 / bandwidth));
    return [dz, dk];
  },
});

function binary<A>(def: OpDef<A>, a: TensorOrNumber, b: TensorOrNumber, attrs: A): Tensor {
  const like = pickLike(def.name, a, b);
  const ta = asTensor(def.name, a, like);
  const tb = asTensor(def.name, b, like);
  return withScalars([ta, tb], [a, b], () => runOp(def, [ta, tb], attrs)[0]);
}

/**
 * Runs `fn` and frees the scalar tensors made from number operands, unless the result was recorded
 * for autograd (then the tape needs them; the enclosing tidy scope frees them).
 */
function withScalars(made: Tensor[], given: TensorOrNumber[], fn: () => Tensor): Tensor {
  let out: Tensor | undefined;
  try {
    out = fn();
    return out;
  } finally {
    if (!out?.node) {
      for (let i = 0; i < made.length; i++) if (made[i] !== given[i]) made[i].dispose();
    }
  }
}

export const add = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Add, a, b, NO_ATTRS);
export const sub = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Sub, a, b, NO_ATTRS);
export const mul = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Mul, a, b, NO_ATTRS);
export const div = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Div, a, b, NO_ATTRS);
export const pow = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Pow, a, b, NO_ATTRS);
export const maximum = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Maximum, a, b, NO_ATTRS);
export const minimum = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Minimum, a, b, NO_ATTRS);
export const equal = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Equal, a, b, NO_ATTRS);
export const notEqual = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(NotEqual, a, b, NO_ATTRS);
export const less = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Less, a, b, NO_ATTRS);
export const lessEqual = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(LessEqual, a, b, NO_ATTRS);
export const greater = (a: TensorOrNumber, b: TensorOrNumber): Tensor => binary(Greater, a, b, NO_ATTRS);
export const greaterEqual = (a: TensorOrNumber, b: TensorOrNumber): Tensor =>
  binary(GreaterEqual, a, b, NO_ATTRS);
/** JumpReLU with threshold κ (a number or a broadcastable tensor, e.g. one learnable κ per feature). */
export const jumpRelu = (z: Tensor, kappa: TensorOrNumber, opts: { bandwidth?: number } = {}): Tensor => {
  const bandwidth = opts.bandwidth ?? 0.001;
  if (!(bandwidth > 0)) throw new DescentError('jumpRelu', `bandwidth must be positive, got ${bandwidth}`);
  return binary(JumpRelu, z, kappa, { bandwidth });
};

// ------------------------------------------------------------------------------- where

/** where(cond, a, b): a where cond ≠ 0, else b, with broadcasting of all three. */
export const Where = defineOp<Record<string, never>>({
  name: 'where',
  infer([c, a, b]) {
    if (a.dtype !== b.dtype) {
      throw new DescentError('where', `dtype mismatch between branches: ${a.dtype} and ${b.dtype}`);
    }
    const shape = broadcastShapes('where', broadcastShapes('where', c.shape, a.shape), b.shape);
    return [{ shape, dtype: a.dtype }];
  },
  kernelAttrs: ([c, a, b], _attrs, [out]) => broadcastPlan(out.shape, [c.shape, a.shape, b.shape]),
  differentiableInputs: [1, 2],
  backward: ({ inputs: [c, a, b], grads: [g] }) => {
    const mask = notEqual(c, 0);
    return [null, sumToShape(mul(g!, mask), a.shape), sumToShape(mul(g!, sub(1, mask)), b.shape)];
  },
});

export function where(cond: Tensor, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  const like = pickLike('where', a, b);
  const ta = asTensor('where', a, like);
  const tb = asTensor('where', b, like);
  return withScalars([ta, tb], [a, b], () => runOp(Where, [cond, ta, tb], NO_ATTRS)[0]);
}

/** True (1) where x is neither infinite nor NaN. */
export function isFiniteMask(x: Tensor): Tensor {
  return engine.tidy(() => less(abs(x), Number.POSITIVE_INFINITY));
}

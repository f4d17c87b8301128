/**
 * Fused optimizer updates: one op per elementwise optimizer family, updating a parameter and its
 * state buffers **in place** in one pass (each element of param, grad and state read once, written
 * once). The op's outputs alias its updated inputs (`OpDef.inPlace`), so no memory is allocated and
 * a flat buffer holding many parameters can be updated by one kernel launch (multi-tensor apply).
 *
 * Each update's math is written once, as a rule over a tiny algebra (`UpdateAlgebra`), and that one
 * rule is evaluated three ways:
 * - on numbers, element by element: the reference kernel (backends/js/optim.ts);
 * - on tensors with core ops: the composite (`compositeUpdate`), which optimizers use on backends
 *   without the kernel and which the conformance suite differentiates for its error bounds;
 * - on WGSL expressions: the WebGPU generator emits one shader per variant from the same rule.
 * Kernels of other backends implement the documented formulas (docs/kernels.md).
 *
 * Hyperparameters arrive as precomputed float64 coefficients (bias corrections, 1 − β, …), so a
 * backend computing in f32 only rounds each coefficient once: 1 − fround(0.999) would be off by
 * ~800 ulp of 0.001, while fround(1 − 0.999) is within one.
 */
import { engine } from '../engine.js';
import { DescentError, fmtShape } from '../errors.js';
import { defineOp, type OpDef, runOp } from '../op.js';
import type { Tensor } from '../tensor.js';
import { abs, add, div, maximum, mul, neg, sign, sqrt, sub } from './elementwise.js';
import { reshape } from './shape-ops.js';

/** The arithmetic an update rule is written in. */
export interface UpdateAlgebra<T> {
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  neg(a: T): T;
  sqrt(a: T): T;
  abs(a: T): T;
  sign(a: T): T;
  max(a: T, b: T): T;
}

/**
 * How an input is indexed by the element i of the parameter (viewed as `[rows, cols]` when the op
 * has `rows`/`cols` attrs): `elem` x[i], `row` x[⌊i / cols⌋], `col` x[i mod cols], `scalar` x[0].
 */
export type InputLayout = 'elem' | 'row' | 'col' | 'scalar';

export interface UpdateInput {
  name: string;
  layout: InputLayout;
}

/** One fused update: its tensor inputs, which of them it updates, its scalar attrs and its rule. */
export interface FusedUpdate<A = any> {
  readonly name: string;
  /** Tensor inputs in kernel order (param first, grad second); optional state appears by attrs. */
  inputs(attrs: A): UpdateInput[];
  /** The inputs written in place, in output order (param first). */
  updated(attrs: A): string[];
  /** The attrs that are scalars of the rule (f32 uniforms on WebGPU), in packing order. */
  readonly scalars: readonly string[];
  /** Boolean attrs (structural: they pick the variant and which inputs exist). */
  readonly flags: readonly string[];
  /** New values of the updated inputs from the inputs `x` and scalars `s`. */
  rule<T>(M: UpdateAlgebra<T>, x: Record<string, T>, s: Record<string, T>, attrs: A): Record<string, T>;
}

const updates = new Map<string, FusedUpdate>();

/** Every fused update, by op name (backends generate their kernels from this). */
export function fusedUpdates(): ReadonlyMap<string, FusedUpdate> {
  return updates;
}

const elem = (name: string): UpdateInput => ({ name, layout: 'elem' });

/** Declares the op of a fused update: validation, in-place outputs, no backward (not differentiable). */
function defineUpdate<A extends object>(u: FusedUpdate<A>): OpDef<A> {
  updates.set(u.name, u as FusedUpdate);
  return defineOp<A>({
    name: u.name,
    infer(inputs, attrs) {
      validateUpdate(u, inputs, attrs);
      return u.updated(attrs).map(() => ({ shape: inputs[0].shape, dtype: 'f32' as const }));
    },
    inPlace(_inputs, attrs) {
      const names = u.inputs(attrs).map((i) => i.name);
      return u.updated(attrs).map((n) => names.indexOf(n));
    },
    differentiableInputs: [],
  });
}

function validateUpdate<A extends object>(u: FusedUpdate<A>, inputs: readonly Tensor[], attrs: A): void {
  const a = attrs as Record<string, unknown>;
  for (const k of u.scalars) {
    if (typeof a[k] !== 'number' || Number.isNaN(a[k]))
      throw new DescentError(u.name, `attr '${k}' must be a number, got ${String(a[k])}`);
  }
  for (const k of u.flags) {
    if (typeof a[k] !== 'boolean')
      throw new DescentError(u.name, `attr '${k}' must be a boolean, got ${String(a[k])}`);
  }
  const spec = u.inputs(attrs);
  if (inputs.length !== spec.length)
    throw new DescentError(
      u.name,
      `expected ${spec.length} tensors (${spec.map((s) => s.name).join(', ')}), got ${inputs.length}`,
    );
  const p = inputs[0];
  const rows = a.rows as number | undefined;
  const cols = a.cols as number | undefined;
  if (
    rows !== undefined &&
    (rows * (cols ?? 1) !== p.size || !Number.isInteger(rows) || !Number.isInteger(cols))
  )
    throw new DescentError(
      u.name,
      `rows × cols = ${rows} × ${cols} does not match param ${fmtShape(p.shape)}`,
    );
  const want: Record<InputLayout, (t: Tensor) => boolean> = {
    elem: (t) => t.shape.length === p.shape.length && t.shape.every((d, i) => d === p.shape[i]),
    row: (t) => t.size === rows,
    col: (t) => t.size === cols,
    scalar: (t) => t.size === 1,
  };
  const wantText: Record<InputLayout, () => string> = {
    elem: () => fmtShape(p.shape),
    row: () => `${rows} elements`,
    col: () => `${cols} elements`,
    scalar: () => 'one element',
  };
  spec.forEach((s, i) => {
    const t = inputs[i];
    if (t.dtype !== 'f32' || !want[s.layout](t))
      throw new DescentError(
        u.name,
        `${s.name} is ${fmtShape(t.shape)} ${t.dtype}, expected f32 with ${wantText[s.layout]()}`,
      );
  });
  // Updated buffers are written while other inputs are read: they must not share storage.
  const written = new Set(u.updated(attrs).map((n) => spec.findIndex((s) => s.name === n)));
  for (const i of written) {
    for (let j = 0; j < inputs.length; j++) {
      if (j !== i && inputs[j].storage === inputs[i].storage)
        throw new DescentError(
          u.name,
          `${spec[i].name} shares storage with ${spec[j].name}; an updated buffer must be a tensor of its own`,
        );
    }
  }
}

/**
 * Runs a fused update in place: `tensors` holds the op's inputs by name (param, grad, state);
 * param and state are overwritten. Must run without gradient recording (inside `noGrad`, as an
 * optimizer step does), because it changes tensors autograd may have saved.
 */
export function applyUpdate<A extends object>(op: OpDef<A>, tensors: Record<string, Tensor>, attrs: A): void {
  const u = updates.get(op.name);
  if (!u) throw new DescentError(op.name, 'is not a fused update');
  const spec = u.inputs(attrs);
  const inputs = spec.map((s) => {
    const t = tensors[s.name];
    if (!t)
      throw new DescentError(
        op.name,
        `missing tensor '${s.name}' (expected ${spec.map((x) => x.name).join(', ')})`,
      );
    return t;
  });
  if (engine.gradEnabled && inputs.some((t) => t.requiresGrad))
    throw new DescentError(
      op.name,
      'updates tensors in place; run it inside noGrad() (as optimizer steps do)',
    );
  for (const view of runOp(op, inputs, attrs)) view.dispose();
}

/** The algebra of core ops (the composite): numbers are scalars, tensors broadcast. */
const TENSOR_ALGEBRA: UpdateAlgebra<Tensor | number> = {
  add: (a, b) => add(a, b),
  sub: (a, b) => sub(a, b),
  mul: (a, b) => mul(a, b),
  div: (a, b) => div(a, b),
  neg: (a) => neg(a as Tensor),
  sqrt: (a) => sqrt(a as Tensor),
  abs: (a) => abs(a as Tensor),
  sign: (a) => sign(a as Tensor),
  max: (a, b) => maximum(a, b),
};

/**
 * The same update written with core ops: returns the new values of the updated inputs (by name) as
 * new tensors, leaving the inputs unchanged. Differentiable, runs on every backend; an optimizer
 * `assign`s the results where a backend has no fused kernel.
 */
export function compositeUpdate<A extends object>(
  op: OpDef<A>,
  tensors: Record<string, Tensor>,
  attrs: A,
): Record<string, Tensor> {
  const u = updates.get(op.name);
  if (!u) throw new DescentError(op.name, 'is not a fused update');
  const spec = u.inputs(attrs);
  const p = tensors.param;
  validateUpdate(
    u,
    spec.map((s) => tensors[s.name] ?? missing(op.name, s.name)),
    attrs,
  );
  const a = attrs as Record<string, number>;
  const grid = a.rows !== undefined ? [a.rows, a.cols] : p.shape;
  const x: Record<string, Tensor> = {};
  for (const s of spec) {
    const t = tensors[s.name];
    x[s.name] =
      s.layout === 'elem'
        ? reshape(t, grid)
        : s.layout === 'row'
          ? reshape(t, [a.rows, 1])
          : s.layout === 'col'
            ? reshape(t, [1, a.cols])
            : reshape(t, []);
  }
  const s: Record<string, number> = {};
  for (const k of u.scalars) s[k] = a[k];
  const out = u.rule(TENSOR_ALGEBRA, x, s, attrs);
  const result: Record<string, Tensor> = {};
  for (const name of u.updated(attrs)) result[name] = reshape(out[name] as Tensor, p.shape);
  return result;
}

function missing(op: string, name: string): never {
  throw new DescentError(op, `missing tensor '${name}'`);
}

// ------------------------------------------------------------------------------------- updates

/** `d = ±g (+ wd·p)`: the gradient after `maximize` and L2 weight decay (torch's order). */
function decayedGrad<T>(
  M: UpdateAlgebra<T>,
  x: Record<string, T>,
  s: Record<string, T>,
  a: { maximize: boolean; weightDecay: number },
): T {
  const d = a.maximize ? M.neg(x.grad) : x.grad;
  return a.weightDecay !== 0 ? M.add(d, M.mul(s.weightDecay, x.param)) : d;
}

/** β·a + (1 − β)·b with both coefficients given (see the file comment). */
const ema = <T>(M: UpdateAlgebra<T>, beta: T, oneMinusBeta: T, a: T, b: T): T =>
  M.add(M.mul(beta, a), M.mul(oneMinusBeta, b));

export interface SgdUpdateAttrs {
  lr: number;
  /** L2 weight decay added to the gradient (0: none). */
  weightDecay: number;
  /** μ, used by Nesterov: d = d + μ·b. */
  momentum: number;
  /** b ← bufferDecay·b + gradScale·d: μ and 1 − dampening, or 0 and 1 on the first step (b = d). */
  bufferDecay: number;
  gradScale: number;
  /** A momentum buffer `momentumBuffer` is an input and is updated. */
  hasMomentum: boolean;
  nesterov: boolean;
  maximize: boolean;
  /** Step along sign(d) (signSGD; with momentum: Signum). */
  sign: boolean;
}

/** SGD family: p ← p − lr·d, d from the gradient with weight decay, momentum/Nesterov, optional sign. */
export const SgdUpdate: OpDef<SgdUpdateAttrs> = defineUpdate<SgdUpdateAttrs>({
  name: 'sgdUpdate',
  inputs: (a) => [elem('param'), elem('grad'), ...(a.hasMomentum ? [elem('momentumBuffer')] : [])],
  updated: (a) => ['param', ...(a.hasMomentum ? ['momentumBuffer'] : [])],
  scalars: ['lr', 'weightDecay', 'momentum', 'bufferDecay', 'gradScale'],
  flags: ['hasMomentum', 'nesterov', 'maximize', 'sign'],
  rule(M, x, s, a) {
    let d = decayedGrad(M, x, s, a);
    const out: Record<string, typeof d> = {};
    if (a.hasMomentum) {
      const b = M.add(M.mul(s.bufferDecay, x.momentumBuffer), M.mul(s.gradScale, d));
      out.momentumBuffer = b;
      d = a.nesterov ? M.add(d, M.mul(s.momentum, b)) : b;
    }
    if (a.sign) d = M.sign(d);
    out.param = M.sub(x.param, M.mul(s.lr, d));
    return out;
  },
});

export interface AdagradUpdateAttrs {
  /** The decayed learning rate lr / (1 + (t − 1)·lrDecay). */
  lr: number;
  weightDecay: number;
  eps: number;
  maximize: boolean;
}

/** Adagrad: sum ← sum + d², p ← p − lr·d / (√sum + eps). */
export const AdagradUpdate: OpDef<AdagradUpdateAttrs> = defineUpdate<AdagradUpdateAttrs>({
  name: 'adagradUpdate',
  inputs: () => [elem('param'), elem('grad'), elem('sum')],
  updated: () => ['param', 'sum'],
  scalars: ['lr', 'weightDecay', 'eps'],
  flags: ['maximize'],
  rule(M, x, s, a) {
    const d = decayedGrad(M, x, s, a);
    const sum = M.add(x.sum, M.mul(d, d));
    return { sum, param: M.sub(x.param, M.mul(s.lr, M.div(d, M.add(M.sqrt(sum), s.eps)))) };
  },
});

export interface RmspropUpdateAttrs {
  lr: number;
  alpha: number;
  oneMinusAlpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  /** `gradAvg` is an input: the denominator is √(E[d²] − E[d]²). */
  centered: boolean;
  /** `momentumBuffer` is an input: b ← μ·b + d/avg, p ← p − lr·b. */
  hasMomentum: boolean;
  maximize: boolean;
}

/** RMSprop (torch.optim.RMSprop): square average, optional centering and momentum. */
export const RmspropUpdate: OpDef<RmspropUpdateAttrs> = defineUpdate<RmspropUpdateAttrs>({
  name: 'rmspropUpdate',
  inputs: (a) => [
    elem('param'),
    elem('grad'),
    elem('squareAvg'),
    ...(a.centered ? [elem('gradAvg')] : []),
    ...(a.hasMomentum ? [elem('momentumBuffer')] : []),
  ],
  updated: (a) => [
    'param',
    'squareAvg',
    ...(a.centered ? ['gradAvg'] : []),
    ...(a.hasMomentum ? ['momentumBuffer'] : []),
  ],
  scalars: ['lr', 'alpha', 'oneMinusAlpha', 'eps', 'weightDecay', 'momentum'],
  flags: ['centered', 'hasMomentum', 'maximize'],
  rule(M, x, s, a) {
    const d = decayedGrad(M, x, s, a);
    const sq = ema(M, s.alpha, s.oneMinusAlpha, x.squareAvg, M.mul(d, d));
    const out: Record<string, typeof d> = { squareAvg: sq };
    let variance = sq;
    if (a.centered) {
      const ga = ema(M, s.alpha, s.oneMinusAlpha, x.gradAvg, d);
      out.gradAvg = ga;
      variance = M.sub(sq, M.mul(ga, ga));
    }
    const avg = M.add(M.sqrt(variance), s.eps);
    if (a.hasMomentum) {
      const b = M.add(M.mul(s.momentum, x.momentumBuffer), M.div(d, avg));
      out.momentumBuffer = b;
      out.param = M.sub(x.param, M.mul(s.lr, b));
    } else {
      out.param = M.sub(x.param, M.mul(s.lr, M.div(d, avg)));
    }
    return out;
  },
});

export interface AdadeltaUpdateAttrs {
  lr: number;
  rho: number;
  oneMinusRho: number;
  eps: number;
  weightDecay: number;
  maximize: boolean;
}

/** Adadelta: δ = √(acc + eps)/√(sq + eps)·d with running averages of d² and δ². */
export const AdadeltaUpdate: OpDef<AdadeltaUpdateAttrs> = defineUpdate<AdadeltaUpdateAttrs>({
  name: 'adadeltaUpdate',
  inputs: () => [elem('param'), elem('grad'), elem('squareAvg'), elem('accDelta')],
  updated: () => ['param', 'squareAvg', 'accDelta'],
  scalars: ['lr', 'rho', 'oneMinusRho', 'eps', 'weightDecay'],
  flags: ['maximize'],
  rule(M, x, s, a) {
    const d = decayedGrad(M, x, s, a);
    const sq = ema(M, s.rho, s.oneMinusRho, x.squareAvg, M.mul(d, d));
    const delta = M.mul(M.div(M.sqrt(M.add(x.accDelta, s.eps)), M.sqrt(M.add(sq, s.eps))), d);
    return {
      squareAvg: sq,
      accDelta: ema(M, s.rho, s.oneMinusRho, x.accDelta, M.mul(delta, delta)),
      param: M.sub(x.param, M.mul(s.lr, delta)),
    };
  },
});

export interface AdamUpdateAttrs {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** L2 weight decay added to the gradient (Adam, NAdam, RAdam); 0 for decoupled decay. */
  weightDecay: number;
  /** Multiplies the parameter first: 1 − lr·λ for decoupled weight decay (AdamW), else 1. */
  decay: number;
  /** Numerator n = momentCoef·m + gradCoef·d: lr/(1 − β1ᵗ) and 0 for Adam; NAdam's two terms. */
  momentCoef: number;
  gradCoef: number;
  /** Denominator √v·denomScale + eps (denomScale = 1/√(1 − β2ᵗ)); the ∞-norm u itself for Adamax. */
  denomScale: number;
  eps: number;
  /** `maxExpAvgSq` is an input: the denominator uses max over steps of v (AMSGrad). */
  amsgrad: boolean;
  /** Second moment is Adamax's u ← max(β2·u, |d| + eps) (input `expInf` instead of `expAvgSq`). */
  infinityNorm: boolean;
  /** Divide by the denominator (false: RAdam's un-rectified steps, p ← p·decay − n). */
  adaptive: boolean;
  maximize: boolean;
}

/**
 * The Adam family (Adam, AdamW, AMSGrad, Adamax, NAdam, RAdam) in one rule:
 *   d = ±g + wd·p;  m ← β1·m + (1 − β1)·d;  v ← β2·v + (1 − β2)·d²  (Adamax: u ← max(β2·u, |d| + eps))
 *   p ← decay·p − (momentCoef·m + gradCoef·d) / (√v̂·denomScale + eps)   (v̂ = max(v̂, v) with AMSGrad)
 */
export const AdamUpdate: OpDef<AdamUpdateAttrs> = defineUpdate<AdamUpdateAttrs>({
  name: 'adamUpdate',
  inputs: (a) => [
    elem('param'),
    elem('grad'),
    elem('expAvg'),
    elem(a.infinityNorm ? 'expInf' : 'expAvgSq'),
    ...(a.amsgrad ? [elem('maxExpAvgSq')] : []),
  ],
  updated: (a) => [
    'param',
    'expAvg',
    a.infinityNorm ? 'expInf' : 'expAvgSq',
    ...(a.amsgrad ? ['maxExpAvgSq'] : []),
  ],
  scalars: [
    'beta1',
    'oneMinusBeta1',
    'beta2',
    'oneMinusBeta2',
    'weightDecay',
    'decay',
    'momentCoef',
    'gradCoef',
    'denomScale',
    'eps',
  ],
  flags: ['amsgrad', 'infinityNorm', 'adaptive', 'maximize'],
  rule(M, x, s, a) {
    if (a.amsgrad && a.infinityNorm)
      throw new DescentError('adamUpdate', 'amsgrad and infinityNorm exclude each other');
    const d = decayedGrad(M, x, s, a);
    const m = ema(M, s.beta1, s.oneMinusBeta1, x.expAvg, d);
    const out: Record<string, typeof d> = { expAvg: m };
    let denom: typeof d;
    if (a.infinityNorm) {
      const u = M.max(M.mul(s.beta2, x.expInf), M.add(M.abs(d), s.eps));
      out.expInf = u;
      denom = u;
    } else {
      let v = ema(M, s.beta2, s.oneMinusBeta2, x.expAvgSq, M.mul(d, d));
      out.expAvgSq = v;
      if (a.amsgrad) {
        v = M.max(x.maxExpAvgSq, v);
        out.maxExpAvgSq = v;
      }
      denom = M.add(M.mul(M.sqrt(v), s.denomScale), s.eps);
    }
    let num = M.mul(s.momentCoef, m);
    if (a.gradCoef !== 0) num = M.add(num, M.mul(s.gradCoef, d));
    const stepValue = a.adaptive ? M.div(num, denom) : num;
    const p = a.decay !== 1 ? M.mul(s.decay, x.param) : x.param;
    out.param = M.sub(p, stepValue);
    return out;
  },
});

export interface LionUpdateAttrs {
  lr: number;
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** 1 − lr·λ (decoupled weight decay), or 1. */
  decay: number;
  maximize: boolean;
}

/** Lion: p ← decay·p − lr·sign(β1·m + (1 − β1)·d), m ← β2·m + (1 − β2)·d. */
export const LionUpdate: OpDef<LionUpdateAttrs> = defineUpdate<LionUpdateAttrs>({
  name: 'lionUpdate',
  inputs: () => [elem('param'), elem('grad'), elem('expAvg')],
  updated: () => ['param', 'expAvg'],
  scalars: ['lr', 'beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'decay'],
  flags: ['maximize'],
  rule(M, x, s, a) {
    const d = a.maximize ? M.neg(x.grad) : x.grad;
    const c = ema(M, s.beta1, s.oneMinusBeta1, x.expAvg, d);
    const p = a.decay !== 1 ? M.mul(s.decay, x.param) : x.param;
    return {
      param: M.sub(p, M.mul(s.lr, M.sign(c))),
      expAvg: ema(M, s.beta2, s.oneMinusBeta2, x.expAvg, d),
    };
  },
});

export interface AdafactorUpdateAttrs {
  /** The parameter viewed as [rows, cols] (a vector: [n, 1] with colScale = [1]). */
  rows: number;
  cols: number;
  beta1: number;
  oneMinusBeta1: number;
  /** 1 − lr·λ, or 1. */
  decay: number;
  /** `expAvg` is an input: the update is averaged with β1 (Adafactor's optional first moment). */
  hasMomentum: boolean;
}

/**
 * Adafactor's elementwise step, after the factored statistics: u = scale·g·rowScale[r]·colScale[c]
 * (rowScale, colScale: the factored 1/√v̂; scale: a one-element tensor with lr / max(1, RMS(u)/d)),
 * m ← β1·m + (1 − β1)·u and u = m when `hasMomentum`, p ← decay·p − u.
 */
export const AdafactorUpdate: OpDef<AdafactorUpdateAttrs> = defineUpdate<AdafactorUpdateAttrs>({
  name: 'adafactorUpdate',
  inputs: (a) => [
    elem('param'),
    elem('grad'),
    { name: 'rowScale', layout: 'row' },
    { name: 'colScale', layout: 'col' },
    { name: 'scale', layout: 'scalar' },
    ...(a.hasMomentum ? [elem('expAvg')] : []),
  ],
  updated: (a) => ['param', ...(a.hasMomentum ? ['expAvg'] : [])],
  scalars: ['beta1', 'oneMinusBeta1', 'decay'],
  flags: ['hasMomentum'],
  rule(M, x, s, a) {
    let u = M.mul(x.scale, M.mul(M.mul(x.grad, x.rowScale), x.colScale));
    const out: Record<string, typeof u> = {};
    if (a.hasMomentum) {
      u = ema(M, s.beta1, s.oneMinusBeta1, x.expAvg, u);
      out.expAvg = u;
    }
    const p = a.decay !== 1 ? M.mul(s.decay, x.param) : x.param;
    out.param = M.sub(p, u);
    return out;
  },
});

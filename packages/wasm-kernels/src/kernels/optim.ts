/**
 * Fused optimizer updates (docs/kernels.md, "Optimizer updates"), in place: core hands each kernel
 * the same region as updated input and output. The variant switches of the op's rule become bits of
 * one `flags` word (assembly/optim.ts); the f32 coefficients are the op's float64 attrs.
 */
import type {
  AdadeltaUpdateAttrs,
  AdafactorUpdateAttrs,
  AdagradUpdateAttrs,
  AdamUpdateAttrs,
  LionUpdateAttrs,
  RmspropUpdateAttrs,
  SgdUpdateAttrs,
  TensorInfo,
} from '@descent/core';
import type { RangeArg } from '../threads/split.js';
import type { WasmKernel, WasmKernelContext } from './types.js';

/** Bits of `flags` (the same constants as assembly/optim.ts). */
const BITS = {
  maximize: 1,
  hasMomentum: 2,
  nesterov: 4,
  sign: 8,
  centered: 16,
  amsgrad: 32,
  infinityNorm: 64,
  adaptive: 128,
  weightDecay: 256,
  decay: 512,
  gradCoef: 1024,
} as const;

/** The flags word: boolean attrs as given, and the rule's value switches (λ ≠ 0, decay ≠ 1, …). */
function flagsOf(a: Record<string, unknown>): number {
  let f = 0;
  for (const [k, bit] of Object.entries(BITS)) {
    const v = a[k];
    if (v === true) f |= bit;
  }
  if (typeof a.weightDecay === 'number' && a.weightDecay !== 0) f |= BITS.weightDecay;
  if (typeof a.decay === 'number' && a.decay !== 1) f |= BITS.decay;
  if (typeof a.gradCoef === 'number' && a.gradCoef !== 0) f |= BITS.gradCoef;
  return f;
}

/** A per-element operand (split with the elements across threads); 0 when the variant does not read it. */
const el = (ctx: WasmKernelContext, t: TensorInfo | undefined): RangeArg => ({
  ptr: t ? ctx.ptr(t) : 0,
  stride: 4,
});

// Each update: its per-element operands, then n (argument index nAt), the flags word and the coefficients.
const sgdUpdate: WasmKernel = (ctx, [p, g, b], _outputs, a: SgdUpdateAttrs) =>
  ctx.km.update(
    'sgd_update_f32',
    [
      el(ctx, p),
      el(ctx, g),
      el(ctx, b),
      p.size,
      flagsOf({ ...a }),
      a.lr,
      a.weightDecay,
      a.momentum,
      a.bufferDecay,
      a.gradScale,
    ],
    3,
  );

const adagradUpdate: WasmKernel = (ctx, [p, g, s], _outputs, a: AdagradUpdateAttrs) =>
  ctx.km.update(
    'adagrad_update_f32',
    [el(ctx, p), el(ctx, g), el(ctx, s), p.size, flagsOf({ ...a }), a.lr, a.weightDecay, a.eps],
    3,
  );

const rmspropUpdate: WasmKernel = (ctx, inputs, _outputs, a: RmspropUpdateAttrs) => {
  const [p, g, sq] = inputs;
  const ga = a.centered ? inputs[3] : undefined;
  const b = a.hasMomentum ? inputs[a.centered ? 4 : 3] : undefined;
  ctx.km.update(
    'rmsprop_update_f32',
    [
      el(ctx, p),
      el(ctx, g),
      el(ctx, sq),
      el(ctx, ga),
      el(ctx, b),
      p.size,
      flagsOf({ ...a }),
      a.lr,
      a.alpha,
      a.oneMinusAlpha,
      a.eps,
      a.weightDecay,
      a.momentum,
    ],
    5,
  );
};

const adadeltaUpdate: WasmKernel = (ctx, [p, g, sq, acc], _outputs, a: AdadeltaUpdateAttrs) =>
  ctx.km.update(
    'adadelta_update_f32',
    [
      el(ctx, p),
      el(ctx, g),
      el(ctx, sq),
      el(ctx, acc),
      p.size,
      flagsOf({ ...a }),
      a.lr,
      a.rho,
      a.oneMinusRho,
      a.eps,
      a.weightDecay,
    ],
    4,
  );

const adamUpdate: WasmKernel = (ctx, [p, g, m, v, vmax], _outputs, a: AdamUpdateAttrs) =>
  ctx.km.update(
    'adam_update_f32',
    [
      el(ctx, p),
      el(ctx, g),
      el(ctx, m),
      el(ctx, v),
      el(ctx, vmax),
      p.size,
      flagsOf({ ...a }),
      a.beta1,
      a.oneMinusBeta1,
      a.beta2,
      a.oneMinusBeta2,
      a.weightDecay,
      a.decay,
      a.momentCoef,
      a.gradCoef,
      a.denomScale,
      a.eps,
    ],
    5,
  );

const lionUpdate: WasmKernel = (ctx, [p, g, m], _outputs, a: LionUpdateAttrs) =>
  ctx.km.update(
    'lion_update_f32',
    [
      el(ctx, p),
      el(ctx, g),
      el(ctx, m),
      p.size,
      flagsOf({ ...a }),
      a.lr,
      a.beta1,
      a.oneMinusBeta1,
      a.beta2,
      a.oneMinusBeta2,
      a.decay,
    ],
    3,
  );

/** p, g and m are [rows, cols] (split by rows); the row scales one float per row; col scales and scale whole. */
const adafactorUpdate: WasmKernel = (ctx, [p, g, rs, cs, scale, m], _outputs, a: AdafactorUpdateAttrs) => {
  const row = (t: TensorInfo | undefined): RangeArg => ({ ptr: t ? ctx.ptr(t) : 0, stride: 4 * a.cols });
  ctx.km.adafactorUpdate(
    [
      row(p),
      row(g),
      { ptr: ctx.ptr(rs), stride: 4 },
      ctx.ptr(cs),
      ctx.ptr(scale),
      row(m),
      a.rows,
      a.cols,
      flagsOf({ ...a }),
      a.beta1,
      a.oneMinusBeta1,
      a.decay,
    ],
    6,
    a.cols,
  );
};

export const optimKernels: Record<string, WasmKernel> = {
  sgdUpdate,
  adagradUpdate,
  rmspropUpdate,
  adadeltaUpdate,
  adamUpdate,
  lionUpdate,
  adafactorUpdate,
};

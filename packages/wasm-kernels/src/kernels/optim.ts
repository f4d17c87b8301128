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
import type { WasmKernel, WasmKernelContext } from './types.js';

type Ptr = number;

/** The update exports of the kernel module (assembly/optim.ts). */
interface UpdateExports {
  sgd_update_f32(p: Ptr, g: Ptr, b: Ptr, n: number, flags: number, ...s: number[]): void;
  adagrad_update_f32(p: Ptr, g: Ptr, s: Ptr, n: number, flags: number, ...c: number[]): void;
  rmsprop_update_f32(
    p: Ptr,
    g: Ptr,
    sq: Ptr,
    ga: Ptr,
    b: Ptr,
    n: number,
    flags: number,
    ...s: number[]
  ): void;
  adadelta_update_f32(p: Ptr, g: Ptr, sq: Ptr, acc: Ptr, n: number, flags: number, ...s: number[]): void;
  adam_update_f32(p: Ptr, g: Ptr, m: Ptr, v: Ptr, vmax: Ptr, n: number, flags: number, ...s: number[]): void;
  lion_update_f32(p: Ptr, g: Ptr, m: Ptr, n: number, flags: number, ...s: number[]): void;
  adafactor_update_f32(
    p: Ptr,
    g: Ptr,
    rowScale: Ptr,
    colScale: Ptr,
    scale: Ptr,
    m: Ptr,
    rows: number,
    cols: number,
    flags: number,
    ...s: number[]
  ): void;
}

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

const ex = (ctx: WasmKernelContext) => ctx.exports as unknown as UpdateExports;
/** Address of an optional input (0 when the variant does not read it). */
const opt = (ctx: WasmKernelContext, t: TensorInfo | undefined) => (t ? ctx.ptr(t) : 0);

const sgdUpdate: WasmKernel = (ctx, [p, g, b], _outputs, a: SgdUpdateAttrs) =>
  ex(ctx).sgd_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    opt(ctx, b),
    p.size,
    flagsOf({ ...a }),
    a.lr,
    a.weightDecay,
    a.momentum,
    a.bufferDecay,
    a.gradScale,
  );

const adagradUpdate: WasmKernel = (ctx, [p, g, s], _outputs, a: AdagradUpdateAttrs) =>
  ex(ctx).adagrad_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    ctx.ptr(s),
    p.size,
    flagsOf({ ...a }),
    a.lr,
    a.weightDecay,
    a.eps,
  );

const rmspropUpdate: WasmKernel = (ctx, inputs, _outputs, a: RmspropUpdateAttrs) => {
  const [p, g, sq] = inputs;
  const ga = a.centered ? inputs[3] : undefined;
  const b = a.hasMomentum ? inputs[a.centered ? 4 : 3] : undefined;
  ex(ctx).rmsprop_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    ctx.ptr(sq),
    opt(ctx, ga),
    opt(ctx, b),
    p.size,
    flagsOf({ ...a }),
    a.lr,
    a.alpha,
    a.oneMinusAlpha,
    a.eps,
    a.weightDecay,
    a.momentum,
  );
};

const adadeltaUpdate: WasmKernel = (ctx, [p, g, sq, acc], _outputs, a: AdadeltaUpdateAttrs) =>
  ex(ctx).adadelta_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    ctx.ptr(sq),
    ctx.ptr(acc),
    p.size,
    flagsOf({ ...a }),
    a.lr,
    a.rho,
    a.oneMinusRho,
    a.eps,
    a.weightDecay,
  );

const adamUpdate: WasmKernel = (ctx, [p, g, m, v, vmax], _outputs, a: AdamUpdateAttrs) =>
  ex(ctx).adam_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    ctx.ptr(m),
    ctx.ptr(v),
    opt(ctx, vmax),
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
  );

const lionUpdate: WasmKernel = (ctx, [p, g, m], _outputs, a: LionUpdateAttrs) =>
  ex(ctx).lion_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    ctx.ptr(m),
    p.size,
    flagsOf({ ...a }),
    a.lr,
    a.beta1,
    a.oneMinusBeta1,
    a.beta2,
    a.oneMinusBeta2,
    a.decay,
  );

const adafactorUpdate: WasmKernel = (ctx, [p, g, rs, cs, scale, m], _outputs, a: AdafactorUpdateAttrs) =>
  ex(ctx).adafactor_update_f32(
    ctx.ptr(p),
    ctx.ptr(g),
    ctx.ptr(rs),
    ctx.ptr(cs),
    ctx.ptr(scale),
    opt(ctx, m),
    a.rows,
    a.cols,
    flagsOf({ ...a }),
    a.beta1,
    a.oneMinusBeta1,
    a.decay,
  );

export const optimKernels: Record<string, WasmKernel> = {
  sgdUpdate,
  adagradUpdate,
  rmspropUpdate,
  adadeltaUpdate,
  adamUpdate,
  lionUpdate,
  adafactorUpdate,
};

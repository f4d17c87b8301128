// Fused optimizer updates: one pass over n elements, everything in place.
import { fma, loadPartial, splat, storePartial } from './common';

/**
 * AdamW (decoupled weight decay), in place over n elements:
 *   p ← p − lr·wd·p
 *   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
 *   p ← p − lr·(m/bc1)/(√(v/bc2) + eps)       with bc1 = 1 − β1^t, bc2 = 1 − β2^t (from the caller)
 */
export function adamw_f32(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc1: f32, bc2: f32,
): void {
  const decay = splat(1 - lr * weightDecay);
  const b1 = splat(beta1), c1 = splat(1 - beta1);
  const b2 = splat(beta2), c2 = splat(1 - beta2);
  const step = splat(lr / bc1);
  const ib2 = splat(<f32>1.0 / bc2);
  const ve = splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const gv = v128.load(g + o);
    const mv = fma(b1, v128.load(m + o), f32x4.mul(c1, gv));
    const vv = fma(b2, v128.load(v + o), f32x4.mul(c2, f32x4.mul(gv, gv)));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const den = f32x4.add(f32x4.sqrt(f32x4.mul(vv, ib2)), ve);
    const pv = f32x4.mul(v128.load(p + o), decay);
    v128.store(p + o, f32x4.sub(pv, f32x4.div(f32x4.mul(step, mv), den)));
  }
  const sdecay: f32 = <f32>1 - lr * weightDecay;
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const mv: f32 = beta1 * load<f32>(m + o) + (<f32>1 - beta1) * gv;
    const vv: f32 = beta2 * load<f32>(v + o) + (<f32>1 - beta2) * gv * gv;
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    const den = sqrt<f32>(vv / bc2) + eps;
    store<f32>(p + o, load<f32>(p + o) * sdecay - (lr / bc1) * mv / den);
  }
}

// ---------------------------------------------------------------------------------------------------
// The fused update ops of @descent/core (docs/kernels.md, "Optimizer updates"): one kernel per op,
// in place, each element read once and written once. Variant switches arrive as bits of `flags`
// (the branches are uniform over the loop, so they predict perfectly); coefficients are the op's
// float64 attrs rounded once to f32. Every kernel walks n elements four lanes at a time and runs
// its last 1–3 elements through the same vector body with partial loads/stores, so each update's
// math is written once.

const MAXIMIZE = 1;
const HAS_MOMENTUM = 2;
const NESTEROV = 4;
const SIGN = 8;
const CENTERED = 16;
const AMSGRAD = 32;
const INFINITY_NORM = 64;
const ADAPTIVE = 128;
const WEIGHT_DECAY = 256;
const DECAY = 512;
const GRAD_COEF = 1024;

@inline function ld(p: usize, t: i32): v128 {
  return t == 4 ? v128.load(p) : loadPartial(p, t);
}

@inline function st(p: usize, v: v128, t: i32): void {
  if (t == 4) v128.store(p, v);
  else storePartial(p, v, t);
}

/** β·a + (1 − β)·b with both coefficients given. */
@inline function ema(beta: v128, oneMinusBeta: v128, a: v128, b: v128): v128 {
  return f32x4.add(f32x4.mul(beta, a), f32x4.mul(oneMinusBeta, b));
}

/** sign(x) ∈ {−1, 0, 1} per lane. */
@inline function signOf(x: v128): v128 {
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  return f32x4.sub(v128.and(f32x4.gt(x, zero), one), v128.and(f32x4.lt(x, zero), one));
}

/** d = ±g (+ wd·p with WEIGHT_DECAY). */
@inline function decayedGrad(gv: v128, pv: v128, wd: v128, flags: i32): v128 {
  let d = flags & MAXIMIZE ? f32x4.neg(gv) : gv;
  if (flags & WEIGHT_DECAY) d = f32x4.add(d, f32x4.mul(wd, pv));
  return d;
}

export function sgd_update_f32(
  p: usize, g: usize, b: usize, n: i32, flags: i32,
  lr: f32, weightDecay: f32, momentum: f32, bufferDecay: f32, gradScale: f32,
): void {
  const vlr = splat(lr), vwd = splat(weightDecay), vmom = splat(momentum);
  const vbd = splat(bufferDecay), vgs = splat(gradScale);
  for (let i = 0; i < n; i += 4) {
    const t = min(4, n - i);
    const o = <usize>i << 2;
    const pv = ld(p + o, t);
    let d = decayedGrad(ld(g + o, t), pv, vwd, flags);
    if (flags & HAS_MOMENTUM) {
      const bv = f32x4.add(f32x4.mul(vbd, ld(b + o, t)), f32x4.mul(vgs, d));
      st(b + o, bv, t);
      d = flags & NESTEROV ? f32x4.add(d, f32x4.mul(vmom, bv)) : bv;
    }
    if (flags & SIGN) d = signOf(d);
    st(p + o, f32x4.sub(pv, f32x4.mul(vlr, d)), t);
  }
}

export function adagrad_update_f32(
  p: usize, g: usize, s: usize, n: i32, flags: i32, lr: f32, weightDecay: f32, eps: f32,
): void {
  const vlr = splat(lr), vwd = splat(weightDecay), veps = splat(eps);
  for (let i = 0; i < n; i += 4) {
    const t = min(4, n - i);
    const o = <usize>i << 2;
    const pv = ld(p + o, t);
    const d = decayedGrad(ld(g + o, t), pv, vwd, flags);
    const sv = f32x4.add(ld(s + o, t), f32x4.mul(d, d));
    st(s + o, sv, t);
    st(p + o, f32x4.sub(pv, f32x4.mul(vlr, f32x4.div(d, f32x4.add(f32x4.sqrt(sv), veps)))), t);
  }
}

export function rmsprop_update_f32(
  p: usize, g: usize, sq: usize, ga: usize, b: usize, n: i32, flags: i32,
  lr: f32, alpha: f32, oneMinusAlpha: f32, eps: f32, weightDecay: f32, momentum: f32,
): void {
  const vlr = splat(lr), va = splat(alpha), vo = splat(oneMinusAlpha), veps = splat(eps);
  const vwd = splat(weightDecay), vmom = splat(momentum);
  for (let i = 0; i < n; i += 4) {
    const t = min(4, n - i);
    const o = <usize>i << 2;
    const pv = ld(p + o, t);
    const d = decayedGrad(ld(g + o, t), pv, vwd, flags);
    const sv = ema(va, vo, ld(sq + o, t), f32x4.mul(d, d));
    st(sq + o, sv, t);
    let variance = sv;
    if (flags & CENTERED) {
      const gav = ema(va, vo, ld(ga + o, t), d);
      st(ga + o, gav, t);
      variance = f32x4.sub(sv, f32x4.mul(gav, gav));
    }
    const avg = f32x4.add(f32x4.sqrt(variance), veps);
    if (flags & HAS_MOMENTUM) {
      const bv = f32x4.add(f32x4.mul(vmom, ld(b + o, t)), f32x4.div(d, avg));
      st(b + o, bv, t);
      st(p + o, f32x4.sub(pv, f32x4.mul(vlr, bv)), t);
    } else {
      st(p + o, f32x4.sub(pv, f32x4.mul(vlr, f32x4.div(d, avg))), t);
    }
  }
}

export function adadelta_update_f32(
  p: usize, g: usize, sq: usize, acc: usize, n: i32, flags: i32,
  lr: f32, rho: f32, oneMinusRho: f32, eps: f32, weightDecay: f32,
): void {
  const vlr = splat(lr), vr = splat(rho), vo = splat(oneMinusRho), veps = splat(eps), vwd = splat(weightDecay);
  for (let i = 0; i < n; i += 4) {
    const t = min(4, n - i);
    const o = <usize>i << 2;
    const pv = ld(p + o, t);
    const d = decayedGrad(ld(g + o, t), pv, vwd, flags);
    const sv = ema(vr, vo, ld(sq + o, t), f32x4.mul(d, d));
    st(sq + o, sv, t);
    const av = ld(acc + o, t);
    const delta = f32x4.mul(
      f32x4.div(f32x4.sqrt(f32x4.add(av, veps)), f32x4.sqrt(f32x4.add(sv, veps))),
      d,
    );
    st(acc + o, ema(vr, vo, av, f32x4.mul(delta, delta)), t);
    st(p + o, f32x4.sub(pv, f32x4.mul(vlr, delta)), t);
  }
}

/** The Adam family; `v` is expInf with INFINITY_NORM, `vmax` is read only with AMSGRAD. */
export function adam_update_f32(
  p: usize, g: usize, m: usize, v: usize, vmax: usize, n: i32, flags: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, weightDecay: f32, decay: f32,
  momentCoef: f32, gradCoef: f32, denomScale: f32, eps: f32,
): void {
  const vb1 = splat(beta1), vo1 = splat(oneMinusBeta1), vb2 = splat(beta2), vo2 = splat(oneMinusBeta2);
  const vwd = splat(weightDecay), vdecay = splat(decay), vmc = splat(momentCoef), vgc = splat(gradCoef);
  const vds = splat(denomScale), veps = splat(eps);
  for (let i = 0; i < n; i += 4) {
    const t = min(4, n - i);
    const o = <usize>i << 2;
    const pv = ld(p + o, t);
    const d = decayedGrad(ld(g + o, t), pv, vwd, flags);
    const mv = ema(vb1, vo1, ld(m + o, t), d);
    st(m + o, mv, t);
    let denom: v128;
    if (flags & INFINITY_NORM) {
      const u = f32x4.max(f32x4.mul(vb2, ld(v + o, t)), f32x4.add(f32x4.abs(d), veps));
      st(v + o, u, t);
      denom = u;
    } else {
      let vv = ema(vb2, vo2, ld(v + o, t), f32x4.mul(d, d));
      st(v + o, vv, t);
      if (flags & AMSGRAD) {
        vv = f32x4.max(ld(vmax + o, t), vv);
        st(vmax + o, vv, t);
      }
      denom = f32x4.add(f32x4.mul(f32x4.sqrt(vv), vds), veps);
    }
    let num = f32x4.mul(vmc, mv);
    if (flags & GRAD_COEF) num = f32x4.add(num, f32x4.mul(vgc, d));
    const stepValue = flags & ADAPTIVE ? f32x4.div(num, denom) : num;
    const base = flags & DECAY ? f32x4.mul(vdecay, pv) : pv;
    st(p + o, f32x4.sub(base, stepValue), t);
  }
}

export function lion_update_f32(
  p: usize, g: usize, m: usize, n: i32, flags: i32,
  lr: f32, beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, decay: f32,
): void {
  const vlr = splat(lr), vb1 = splat(beta1), vo1 = splat(oneMinusBeta1);
  const vb2 = splat(beta2), vo2 = splat(oneMinusBeta2), vdecay = splat(decay);
  for (let i = 0; i < n; i += 4) {
    const t = min(4, n - i);
    const o = <usize>i << 2;
    const pv = ld(p + o, t);
    const gv = ld(g + o, t);
    const d = flags & MAXIMIZE ? f32x4.neg(gv) : gv;
    const mv = ld(m + o, t);
    const c = ema(vb1, vo1, mv, d);
    const base = flags & DECAY ? f32x4.mul(vdecay, pv) : pv;
    st(p + o, f32x4.sub(base, f32x4.mul(vlr, signOf(c))), t);
    st(m + o, ema(vb2, vo2, mv, d), t);
  }
}

/** Adafactor's elementwise step over p viewed as [rows, cols]; `m` is read only with HAS_MOMENTUM. */
export function adafactor_update_f32(
  p: usize, g: usize, rowScale: usize, colScale: usize, scale: usize, m: usize, rows: i32, cols: i32,
  flags: i32, beta1: f32, oneMinusBeta1: f32, decay: f32,
): void {
  const vb1 = splat(beta1), vo1 = splat(oneMinusBeta1), vdecay = splat(decay);
  const vscale = v128.load32_splat(scale);
  for (let r = 0; r < rows; r++) {
    const rs = v128.load32_splat(rowScale + (<usize>r << 2));
    const row = <usize>r * <usize>cols << 2;
    for (let c = 0; c < cols; c += 4) {
      const t = min(4, cols - c);
      const o = row + (<usize>c << 2);
      let u = f32x4.mul(vscale, f32x4.mul(f32x4.mul(ld(g + o, t), rs), ld(colScale + (<usize>c << 2), t)));
      if (flags & HAS_MOMENTUM) {
        u = ema(vb1, vo1, ld(m + o, t), u);
        st(m + o, u, t);
      }
      const pv = ld(p + o, t);
      st(p + o, f32x4.sub(flags & DECAY ? f32x4.mul(vdecay, pv) : pv, u), t);
    }
  }
}

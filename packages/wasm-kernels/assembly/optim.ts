// Fused optimizer updates: one pass over n elements, everything in place.
import { splat, fma } from './common';

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

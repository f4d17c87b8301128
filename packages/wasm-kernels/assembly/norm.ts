// Normalization kernels (over the last axis, or per channel with channels last).
import { splat, fma, hsum } from './common';

@inline function rowSum(p: usize, n: i32): f32 {
  let a0 = splat(0), a1 = splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, v128.load(p + o));
    a1 = f32x4.add(a1, v128.load(p + o, 16));
  }
  for (; i + 4 <= n; i += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>i << 2)));
  let s = hsum(f32x4.add(a0, a1));
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

/** Σ (x − m)² over a row. */
@inline function rowSqDev(p: usize, n: i32, m: f32): f32 {
  const vm = splat(m);
  let a0 = splat(0), a1 = splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const d0 = f32x4.sub(v128.load(p + o), vm);
    const d1 = f32x4.sub(v128.load(p + o, 16), vm);
    a0 = fma(d0, d0, a0);
    a1 = fma(d1, d1, a1);
  }
  for (; i + 4 <= n; i += 4) {
    const d0 = f32x4.sub(v128.load(p + (<usize>i << 2)), vm);
    a0 = fma(d0, d0, a0);
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; i < n; i++) {
    const d = load<f32>(p + (<usize>i << 2)) - m;
    s += d * d;
  }
  return s;
}

/** y = (x − m)·s·γ + β over a row; gamma/beta may be 0 (absent). */
@inline function normRow(x: usize, y: usize, n: i32, m: f32, s: f32, gamma: usize, beta: usize): void {
  const vm = splat(m);
  const vs = splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let v = f32x4.mul(f32x4.sub(v128.load(x + o), vm), vs);
    if (gamma) v = f32x4.mul(v, v128.load(gamma + o));
    if (beta) v = f32x4.add(v, v128.load(beta + o));
    v128.store(y + o, v);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let v = (load<f32>(x + o) - m) * s;
    if (gamma) v *= load<f32>(gamma + o);
    if (beta) v += load<f32>(beta + o);
    store<f32>(y + o, v);
  }
}

/**
 * Layer norm over the last axis of [rows, n]: y = (x − mean)/√(var + eps)·γ + β (biased variance,
 * two-pass). gamma, beta, meanOut, rstdOut may be 0; meanOut/rstdOut receive per-row mean and 1/√(var+eps).
 */
export function layer_norm_f32(
  x: usize, gamma: usize, beta: usize, y: usize, rows: i32, n: i32, eps: f32, meanOut: usize, rstdOut: usize,
): void {
  const rb = <usize>n << 2;
  const inv = <f32>(1.0 / <f64>n);
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const m = rowSum(xr, n) * inv;
    const v = rowSqDev(xr, n, m) * inv;
    const rs = <f32>1.0 / sqrt<f32>(v + eps);
    if (meanOut) store<f32>(meanOut + (<usize>r << 2), m);
    if (rstdOut) store<f32>(rstdOut + (<usize>r << 2), rs);
    normRow(xr, y + rb * r, n, m, rs, gamma, beta);
  }
}

/** RMS norm over the last axis: y = x/√(mean(x²) + eps)·γ. gamma and rstdOut may be 0. */
export function rms_norm_f32(x: usize, gamma: usize, y: usize, rows: i32, n: i32, eps: f32, rstdOut: usize): void {
  const rb = <usize>n << 2;
  const inv = <f32>(1.0 / <f64>n);
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const ms = rowSqDev(xr, n, 0) * inv;
    const rs = <f32>1.0 / sqrt<f32>(ms + eps);
    if (rstdOut) store<f32>(rstdOut + (<usize>r << 2), rs);
    normRow(xr, y + rb * r, n, 0, rs, gamma, 0);
  }
}

/**
 * Batch-norm apply, channels last: x, y [rows, C]; y = (x − mean[c])·rsqrt(var[c] + eps)·γ[c] + β[c].
 * gamma/beta may be 0. ws: 8·C bytes of scratch (per-channel scale and shift).
 */
export function batch_norm_apply_f32(
  x: usize, mean: usize, variance: usize, gamma: usize, beta: usize, y: usize, rows: i32, C: i32, eps: f32, ws: usize,
): void {
  const sc = ws;
  const sh = ws + (<usize>C << 2);
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    let s = <f32>1.0 / sqrt<f32>(load<f32>(variance + o) + eps);
    if (gamma) s *= load<f32>(gamma + o);
    store<f32>(sc + o, s);
    store<f32>(sh + o, beta ? load<f32>(beta + o) : 0);
  }
  const rb = <usize>C << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + rb * r;
    const yr = y + rb * r;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const v = f32x4.mul(f32x4.sub(v128.load(xr + o), v128.load(mean + o)), v128.load(sc + o));
      v128.store(yr + o, f32x4.add(v, v128.load(sh + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - load<f32>(mean + o)) * load<f32>(sc + o) + load<f32>(sh + o));
    }
  }
}

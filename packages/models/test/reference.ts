/**
 * Float64 reference computations written out by hand (loops over plain arrays, no library code), so
 * the layer tests compare descent against an independent implementation, plus small test helpers.
 */
import { type Tensor, tensor } from '@descent/core';

/** A seeded float64 generator independent of the library's Philox (mulberry32 + Box–Muller). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normals(n: number, scale = 1): Float64Array {
    return Float64Array.from(
      { length: n },
      () => scale * Math.sqrt(-2 * Math.log(1 - this.uniform())) * Math.cos(2 * Math.PI * this.uniform()),
    );
  }
  ints(n: number, lo: number, hi: number): Int32Array {
    return Int32Array.from({ length: n }, () => lo + Math.floor(this.uniform() * (hi - lo)));
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => Math.floor(this.uniform() * 256));
  }
}

/** An f32 tensor on the float64 reference backend holding `data` exactly. */
export const t64 = (data: ArrayLike<number>, shape: readonly number[]): Tensor =>
  tensor(Float64Array.from(data), shape, { backend: 'js64' });

export const host = (t: Tensor): number[] => Array.from(t.dataSync());

/**
 * |a − b| ≤ tol·(1 + |b|) elementwise. The layer tests use tol = 1e-12: both sides are float64
 * computations of O(1..100) values through at most a few hundred operations (rounding ≲ 1e-14
 * relative); only the order of summation differs.
 */
export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i]))))
      throw new Error(`element ${i}: ${a[i]} vs expected ${b[i]} (tolerance ${tol})`);
  }
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** erf by its Maclaurin series: for |x| ≤ 3 the largest term is < 2e3, so ≲ 1e-13 absolute error. */
export function erf(x: number): number {
  if (Math.abs(x) > 3) throw new Error('reference erf is only used for |x| <= 3');
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** C[m, n] = A[m, k]·B[k, n] (row-major). */
export function matmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): number[] {
  const c = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  return c;
}

/** NHWC convolution, filter [kh, kw, cin, cout], symmetric zero padding `pad`, stride `s`. */
export function conv2d(
  x: ArrayLike<number>,
  [n, h, w, cin]: number[],
  f: ArrayLike<number>,
  [kh, kw, , cout]: number[],
  s: number,
  pad: number,
): { y: number[]; shape: number[] } {
  const oh = Math.floor((h + 2 * pad - kh) / s) + 1;
  const ow = Math.floor((w + 2 * pad - kw) / s) + 1;
  const y = new Array<number>(n * oh * ow * cout).fill(0);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < cout; o++) {
          let acc = 0;
          for (let di = 0; di < kh; di++)
            for (let dj = 0; dj < kw; dj++) {
              const r = i * s - pad + di;
              const c = j * s - pad + dj;
              if (r < 0 || r >= h || c < 0 || c >= w) continue;
              for (let ci = 0; ci < cin; ci++)
                acc += x[((b * h + r) * w + c) * cin + ci] * f[((di * kw + dj) * cin + ci) * cout + o];
            }
          y[((b * oh + i) * ow + j) * cout + o] = acc;
        }
  return { y, shape: [n, oh, ow, cout] };
}

/** Per-row normalization over the last axis (centered: LayerNorm, else RMSNorm). */
export function normRows(x: ArrayLike<number>, d: number, eps: number, centered: boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / d; r++) {
    const row = Array.from({ length: d }, (_, i) => x[r * d + i]);
    const mu = centered ? row.reduce((a, b) => a + b, 0) / d : 0;
    const ms = row.reduce((a, v) => a + (v - mu) ** 2, 0) / d;
    for (const v of row) out.push((v - mu) / Math.sqrt(ms + eps));
  }
  return out;
}
